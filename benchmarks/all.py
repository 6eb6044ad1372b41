"""Issue 21's goals in one run and one table: HTTP routes, import and email delivery.

    .venv/bin/python benchmarks/all.py [--pg URL] [--seconds 3] [--talks 100000]
                                       [--server aiosmtpd|smtp-sink]

Runs, one after the other and on the same machine, `http_routes.py` (every public GET at
1,000 and `--talks` talks with both floors; SQLite, and PostgreSQL with `--pg`, whose
`public` schema is dropped), `imports.py --sizes 50000 --formats csv` (the CLI import of a
50,000-talk CSV file), `after_edit.py` (an edit through the API, and one made by another
process) and `emails.py` (10,000 subscribers, announcements and digests delivered end to
end to a real SMTP server on loopback), each on PostgreSQL too with `--pg`. Their own
output streams through; at the end one Markdown
table puts every figure beside its goal from the issue:

- each public GET at >= 80 % of the trivial-Flask floor's req/s (1,000 talks), and its p50
  at the big size within 1.3x of its p50 at 1,000 talks;
- the first request after an edit at most 3x a warm one (`after_edit.py --gzip`, an edit
  through the API, and one by another process found by the web processes' polling), judged
  against a warm request after as long a pause without an edit (the control: a request
  right behind another is faster than either, whatever was edited); the ratio to a request
  right behind another is shown beside it, with no goal of its own;
- 304s at >= 90 % of `/healthz`; the largest worker's PSS <= 200 MB at the big size;
- repeats through `deploy/nginx-eventfeed.conf`'s cache at >= 80 % of nginx serving the
  same bytes as a static file (the median of the alternated rounds);
- import >= 5,000 talks/s on SQLite (issue 14's goal; PostgreSQL's rate is shown
  beside it); announcements >= 1,000 emails/s and digests >= 500/s end to end.

It exits 1 when a goal is missed (a loaded machine misses some: the load average before and
after is printed with the table).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
IMPORT_ROW = re.compile(r"\|\s*(\w+)\s*\|\s*csv\s*\|\s*([\d,]+)\s*\|\s*[\d.]+\s*\|\s*([\d,]+)\s*\|")


@dataclass(frozen=True)
class Goal:
    """One figure beside its goal."""

    what: str
    backend: str
    value: float
    unit: str
    goal: float | None  # None: shown beside the others, with no goal of its own
    at_most: bool = False  # the figure must stay at or under the goal

    @property
    def met(self) -> bool:
        """Return whether the figure meets its goal (one without a goal always does)."""
        if self.goal is None:
            return True
        return self.value <= self.goal if self.at_most else self.value >= self.goal

    def row(self) -> str:
        """Return the figure as a table row."""
        digits = 2 if self.unit == "x" else 0
        figure = f"| {self.what} | {self.backend} | {self.value:,.{digits}f} {self.unit} |"
        if self.goal is None:
            return figure + " (no goal) | |"
        sign = "<=" if self.at_most else ">="
        goal = f"{sign} {self.goal:,.{digits}f} {self.unit}"
        return f"{figure} {goal} | {'met' if self.met else 'NOT met'} |"


def _rate(figures: dict[str, Any]) -> float:
    return float(figures["requests"]) / max(float(figures["seconds"]), 1e-9)


def http_goals(backend: str, data: dict[str, Any]) -> list[Goal]:
    """Return the HTTP goals of one backend's `http_routes.py` results."""
    floor = _rate(data["floors"]["flask"])
    healthz = _rate(data["small"]["/healthz"])
    goals = []
    for name, small in data["small"].items():
        if name == "/healthz" or name.startswith("nginx cache"):
            continue
        if name.startswith("304 "):
            goals.append(
                Goal(f"{name} vs /healthz", backend, 100 * _rate(small) / healthz, "%", 90)
            )
            continue
        share, label = 100 * _rate(small) / floor, name
        if name == "series .ics" and data.get("floor_alternated"):
            # the floor's very bytes: the rounds measured in turn with the floor, no drift
            rounds = data["floor_alternated"]
            share = 100 * statistics.median(_rate(r["route"]) / _rate(r["floor"]) for r in rounds)
            label += f" (in turn with the floor, median of {len(rounds)} rounds)"
        goals.append(Goal(f"{label} vs Flask floor", backend, share, "%", 80))
        big = data["big"].get(name)
        if big is not None:
            ratio = big["p50_ms"] / max(small["p50_ms"], 1e-3)
            goals.append(Goal(f"{name} p50 big / 1k", backend, ratio, "x", 1.3, at_most=True))
    for entry in data.get("nginx_cache", {}).get("small", {}).values():
        # each round's cache run against the static file run beside it; the median round
        shares = sorted(
            _rate(cache) / max(_rate(static), 1e-9)
            for cache, static in zip(entry["cache"], entry["static"], strict=True)
        )
        what = f"{entry['route']} ({entry['connections']} connections) vs nginx static"
        goals.append(Goal(what, backend, 100 * shares[len(shares) // 2], "%", 80))
    pss = float(data["worker_pss_mb"]["big"])
    goals.append(Goal("largest worker PSS", backend, pss, "MB", 200, at_most=True))
    return goals


def run(command: list[str], env: dict[str, str] | None = None) -> str:
    """Run a benchmark script, its output streaming through; return what it printed."""
    print(f"\n$ {' '.join(command)}", flush=True)
    done = subprocess.run(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=False
    )
    print(done.stdout, end="", flush=True)
    return done.stdout


def import_goals(output: str) -> list[Goal]:
    """Return the 50,000-talk CSV import rates `imports.py` printed (issue 14's goal is on
    SQLite; PostgreSQL's rate is shown beside it)."""
    return [
        Goal(
            "import, 50,000-talk CSV (CLI)",
            match[1],
            float(match[3].replace(",", "")),
            "talks/s",
            5_000 if match[1] == "sqlite" else None,
        )
        for match in IMPORT_ROW.finditer(output)
    ]


AFTER_EDIT_ROW = re.compile(
    r"^\| ([^|]+?) \| [\d.]+ \| [\d.]+ \| ([\d.]+) × \| [\d.]+ \| ([\d.]+) × \|", re.M
)


def after_edit_goals(backend: str, how: str, output: str) -> list[Goal]:
    """Return the first request after an edit over a warm one after as long a pause (the
    goal), and over one right behind another (shown), per route, as `after_edit.py` printed
    them (wall time, median of its rounds)."""
    goals = []
    for match in AFTER_EDIT_ROW.finditer(output):
        route, back_to_back, after_pause = match[1], float(match[2]), float(match[3])
        what = f"first after an edit {how} / warm"
        goals.append(
            Goal(f"{what} after as long a pause: {route}", backend, after_pause, "x", 3.0, True)
        )
        goals.append(
            Goal(f"{what} right behind another: {route}", backend, back_to_back, "x", None)
        )
    return goals


def email_goals(backend: str, results: Path) -> list[Goal]:
    """Return the end-to-end delivery rates `emails.py` wrote to `results`."""
    goals = []
    for path in sorted(results.glob("email-*.json")):
        for figure in json.loads(path.read_text()):
            if figure["name"].startswith("(b) "):
                goals.append(
                    Goal("announcements end to end", backend, figure["value"], "emails/s", 1_000)
                )
            elif figure["name"].startswith("(c) "):
                goals.append(Goal("digests end to end", backend, figure["value"], "digests/s", 500))
        path.unlink()
    return goals


def main(argv: list[str] | None = None) -> int:
    """Run the four benchmarks; print the goals table; exit 1 if one is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", metavar="URL", help="also on this PostgreSQL (schema dropped)")
    parser.add_argument("--seconds", type=int, default=3, help="wrk seconds per route")
    parser.add_argument("--talks", type=int, default=100_000, help="the big database's talks")
    parser.add_argument("--server", default="aiosmtpd", choices=["aiosmtpd", "smtp-sink"])
    args = parser.parse_args(argv)
    python = sys.executable
    load_before = os.getloadavg()
    goals: list[Goal] = []
    backends = [("sqlite", "")] + ([("postgresql", args.pg)] if args.pg else [])
    with tempfile.TemporaryDirectory(prefix="eventfeed-all-") as tmp:
        out = Path(tmp)
        http = [python, str(HERE / "http_routes.py"), "--out", str(out)]
        http += ["--seconds", str(args.seconds), "--talks", str(args.talks)]
        run(http + (["--pg", args.pg] if args.pg else []))
        for path in out.glob("http-*.json"):
            for backend, data in json.loads(path.read_text())["backends"].items():
                goals += http_goals(backend, data)
        imports = [python, str(HERE / "imports.py"), "--sizes", "50000", "--formats", "csv"]
        goals += import_goals(run(imports + (["--postgres", args.pg] if args.pg else [])))
        edits = [python, str(HERE / "after_edit.py"), "--gzip", "--rounds", "5"]
        for backend, url in backends:
            where = ["--pg", url] if url else []
            for how, mode in (
                ("through the API", ["--through", "api"]),
                ("by another process", ["--through", "sql", "--poll", "1"]),
            ):
                goals += after_edit_goals(backend, how, run(edits + mode + where))
        emails = [python, str(HERE / "emails.py"), "--server", args.server, "--out", str(out)]
        for backend, url in backends:
            env = {k: v for k, v in os.environ.items() if k != "EVENTFEED_BENCH_DATABASE_URL"}
            if url:
                env["EVENTFEED_BENCH_DATABASE_URL"] = url
            run(emails, env)
            goals += email_goals(backend, out)
    missed = [goal for goal in goals if not goal.met]
    print(
        f"\n## Issue 21's goals in one run ({os.cpu_count()} CPUs; load average "
        f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after; "
        f"{len(goals) - len(missed)} of {len(goals)} met)\n\n"
        "| figure | store | measured | goal | |\n|---|---|---|---|---|"
    )
    for goal in goals:
        print(goal.row())
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
