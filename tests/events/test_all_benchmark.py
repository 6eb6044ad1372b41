"""benchmarks/all.py reads the three benchmarks' outputs into one table of goals."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.all import Goal, after_edit_goals, email_goals, http_goals, import_goals
from tests.support.scripts import run_benchmark


def _wrk(requests: int, p50: float) -> dict[str, float]:
    return {"requests": requests, "seconds": 1.0, "p50_ms": p50}


def test_http_goals_compare_each_route_with_its_floor_and_its_size() -> None:
    data = {
        "floors": {"flask": _wrk(1_000, 1.0)},
        "small": {
            "series .ics": _wrk(900, 1.0),
            "home page /": _wrk(700, 1.0),
            "304 series .ics": _wrk(950, 0.5),
            "/healthz": _wrk(1_000, 0.5),
            "nginx cache: gzip": _wrk(10_000, 0.1),
        },
        "big": {"series .ics": _wrk(900, 1.2), "home page /": _wrk(700, 1.4)},
        "worker_pss_mb": {"small": 50, "big": 210},
        "nginx_cache": {
            "small": {
                "plain | 8": {
                    "route": "nginx cache: series .ics, plain",
                    "connections": 8,
                    "cache": [_wrk(900, 1), _wrk(500, 1), _wrk(2_000, 1)],
                    "static": [_wrk(1_000, 1), _wrk(1_000, 1), _wrk(2_000, 1)],
                }
            }
        },
    }
    found = {goal.what: goal for goal in http_goals("sqlite", data)}
    assert (
        found["series .ics vs Flask floor"].value == 90 and found["series .ics vs Flask floor"].met
    )
    assert not found["home page / vs Flask floor"].met  # 70 % < 80 %
    data["floor_alternated"] = [
        {"route": _wrk(800, 1), "floor": _wrk(1_000, 1)},
        {"route": _wrk(850, 1), "floor": _wrk(1_000, 1)},
        {"route": _wrk(300, 1), "floor": _wrk(1_000, 1)},
    ]
    turn = {goal.what: goal for goal in http_goals("sqlite", data)}
    alternated = turn["series .ics (in turn with the floor, median of 3 rounds) vs Flask floor"]
    assert alternated.value == 80 and alternated.met  # 80 %, 85 %, 30 %: the median
    assert turn["series .ics p50 big / 1k"].met, "the route's growth is still judged"
    assert found["series .ics p50 big / 1k"].met  # 1.2x
    assert not found["home page / p50 big / 1k"].met  # 1.4x > 1.3x
    assert found["304 series .ics vs /healthz"].met  # 95 %
    assert not found["largest worker PSS"].met  # 210 MB > 200 MB
    cached = found["nginx cache: series .ics, plain (8 connections) vs nginx static"]
    assert cached.value == 90 and cached.met  # rounds at 90 %, 50 %, 100 %: the median
    assert not [what for what in found if what.startswith("/healthz")]


def test_import_goals_read_the_printed_rows(tmp_path: Path) -> None:
    done = run_benchmark("imports.py", "--sizes", "300", "--formats", "csv")
    goals = import_goals(done.stdout)
    assert [goal.backend for goal in goals] == ["sqlite"]
    printed = next(line for line in done.stdout.splitlines() if line.startswith("| sqlite | csv"))
    assert f"{goals[0].value:,.0f}" == printed.split("|")[5].strip()
    assert goals[0].met == (goals[0].value >= 5_000)


def test_email_goals_read_the_json_and_judge_each_target(tmp_path: Path) -> None:
    figures = [
        {"name": "(a) rendered", "value": 30_000.0},
        {"name": "(b) announcements delivered end to end", "value": 1_430.0},
        {"name": "(c) digests (20 series each) delivered end to end", "value": 420.0},
    ]
    (tmp_path / "email-sqlite-aiosmtpd-1.json").write_text(json.dumps(figures))
    goals = email_goals("sqlite", tmp_path)
    assert [(goal.what, goal.met) for goal in goals] == [
        ("announcements end to end", True),
        ("digests end to end", False),
    ]
    assert not list(tmp_path.iterdir()), "read once"


def test_postgresql_import_is_shown_without_a_goal() -> None:
    printed = "| sqlite | csv | 50,000 | 5.3 | 4,999 | 5.2 | 9,645 |\n"
    printed += "| postgresql | csv | 50,000 | 11.3 | 4,408 | 8.5 | 5,877 |\n"
    sqlite, postgresql = import_goals(printed)
    assert (sqlite.value, sqlite.met) == (4_999, False)
    assert (postgresql.value, postgresql.goal, postgresql.met) == (4_408, None, True)
    assert "(no goal)" in postgresql.row() and "NOT met" in sqlite.row()


def test_a_goal_at_most_is_met_at_or_under_it() -> None:
    assert Goal("p50", "sqlite", 1.3, "x", 1.3, at_most=True).met
    assert not Goal("p50", "sqlite", 1.31, "x", 1.3, at_most=True).met
    assert "NOT met" in Goal("rate", "sqlite", 79.9, "%", 80).row()


def test_after_edit_goals_read_the_ratio_of_each_route() -> None:
    printed = (
        "| route | first after an edit, ms | warm, ms | ratio | warm after the same pause, ms "
        "| ratio to it | first, CPU ms |\n"
        "|---|---|---|---|---|---|---|\n"
        "| series .ics | 0.3 | 0.1 | 2.6 × | 0.5 | 0.6 × | 0.3 | 0.1 | 2.5 × | 3.1 |\n"
        "| home page / | 0.9 | 0.2 | 4.1 × | 0.2 | 4.5 × | 0.8 | 0.2 | 4.0 × | 3.3 |\n"
    )
    goals = after_edit_goals("sqlite", "through the API", printed)
    what = "first after an edit through the API / warm"
    assert [(goal.what, goal.value, goal.goal, goal.met) for goal in goals] == [
        (f"{what} after as long a pause: series .ics", 0.6, 3.0, True),
        (f"{what} right behind another: series .ics", 2.6, None, True),
        (f"{what} after as long a pause: home page /", 4.5, 3.0, False),
        (f"{what} right behind another: home page /", 4.1, None, True),
    ]
