"""The HTTP benchmark runs end to end in quick mode (a smoke test: no timing assertions)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.scripts import run_benchmark

NEEDS_WRK_AND_NGINX = pytest.mark.skipif(
    shutil.which("wrk") is None or shutil.which("nginx") is None,
    reason="wrk and nginx (Debian packages) are needed",
)


@NEEDS_WRK_AND_NGINX
def test_http_benchmark_quick_mode_measures_routes_and_both_floors(tmp_path: Path) -> None:
    done = run_benchmark("http_routes.py", "--quick", "--out", str(tmp_path), timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| floor: trivial Flask |" in done.stdout
    assert "| floor: nginx static |" in done.stdout
    (written,) = tmp_path.glob("http-quick-*.json")
    data = json.loads(written.read_text())["backends"]["sqlite"]
    assert data["floors"]["flask"]["requests"] > 0 and data["floors"]["nginx"]["requests"] > 0
    assert set(data["small"]) == set(data["big"]) >= {"series .ics", "/healthz"}
    for size in ("small", "big"):
        for name, result in data[size].items():
            assert result["requests"] > 0, (size, name)
            assert result["errors"] == result["bad_status"] == 0, (size, name, result)
    assert data["worker_pss_mb"]["big"] > 0
    (alternated,) = data["floor_alternated"]  # series .ics and the floor, measured in turn
    assert alternated["route"]["requests"] > 0 and alternated["floor"]["requests"] > 0
    assert "measured in turn, 1 rounds" in done.stdout
    for size in ("small", "big"):  # the cache measured beside static files, all HITs
        (entry,) = data["nginx_cache"][size].values()
        assert entry["all_hits"] and len(entry["cache"]) == len(entry["static"]) == 1


@NEEDS_WRK_AND_NGINX
def test_nginx_only_mode_alternates_cache_and_static_runs_in_one_nginx(tmp_path: Path) -> None:
    done = run_benchmark(
        "http_routes.py",
        *("--nginx-only", "--quick", "--seconds", "1", "--rounds", "2", "--connections", "4,16"),
        *("--out", str(tmp_path)),
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "**through the cache**" in done.stdout and "vs static, sendfile off" in done.stdout
    (written,) = tmp_path.glob("nginx-quick-*.json")
    cached = json.loads(written.read_text())["backends"]["sqlite"]["nginx_cache"]
    assert sorted((e["route"].split(", ")[-1], e["connections"]) for e in cached.values()) == [
        ("gzip", 4),
        ("gzip", 16),
        ("plain", 4),
        ("plain", 16),
    ]
    for entry in cached.values():
        assert entry["all_hits"], entry["statuses"]  # no run measured a MISS or revalidation
        for name in ("static", "static, sendfile off", "cache"):
            assert len(entry[name]) == 2
            for run in entry[name]:
                assert run["requests"] > 0 and run["errors"] == run["bad_status"] == 0
                assert run["nginx_cpu_us"] > 0
    plain = next(e for e in cached.values() if e["route"].endswith("plain"))
    assert 64_000 < plain["bytes"] < 128_000  # the 100-talk series, ~83 KB


@pytest.mark.parametrize(("talks", "series", "big"), [(1_001, 200, 1_000), (1_602, 200, 1_000)])
def test_benchmark_database_grows_to_exactly_the_talks_asked_for(
    tmp_path: Path, talks: int, series: int, big: int
) -> None:
    # `http_routes.py --talks 1001` crashed: fewer talks to add than series made empty INSERTs.
    from datetime import UTC, datetime

    from sqlalchemy import func, select

    from benchmarks.feeds import Sizes, insert_rest, insert_series
    from benchmarks.http_routes import fresh_database
    from events.models import Event

    engine = fresh_database(f"sqlite:///{tmp_path / 'bench.sqlite3'}")
    sizes = Sizes(talks, series, big, 0, 1, 0.0, 1, 1)
    insert_series(engine, sizes, datetime.now(UTC))
    insert_rest(engine, sizes, datetime.now(UTC))
    with engine.connect() as conn:
        assert conn.scalar(select(func.count(func.distinct(Event.id)))) == talks
    engine.dispose()
