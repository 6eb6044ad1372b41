"""CPU time per request, in process, against a trivial Flask app answering the same bytes.

On a machine shared with other jobs, wrk's req/s swing by ±50% between routes measured
seconds apart; the CPU time the app process spends per request (`time.process_time`) is
much steadier. This builds the 1,000-talk database of `http_routes.py` (SQLite, or `--pg`),
warms each route, then runs `--requests` sequential requests through werkzeug's test client
and prints CPU ms per request and its ratio to the floor's (a trivial Flask route returning
the 1,000-talk series .ics). PostgreSQL's own CPU (another process) is not counted.
`--talks N` then grows the database to N talks (as `http_routes.py` does) and measures
again: the CPU of each route at both sizes and their ratio (flat with data size: 1.0).

    .venv/bin/python benchmarks/cpu_per_request.py [--pg postgresql+psycopg://...] [--talks N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask, Response  # noqa: E402

from benchmarks.feeds import BASE_URL, BIG, Sizes, insert_rest, insert_series  # noqa: E402
from benchmarks.http_routes import TOKEN, analyze, fresh_database, insert_subscriber  # noqa: E402
from server import create_app  # noqa: E402

ROUTES = [
    ("series .ics", f"/series/{BIG}.ics", {}),
    ("series .rss", f"/series/{BIG}.rss", {}),
    ("site calendar.ics", "/calendar.ics", {}),
    ("site feed.rss", "/feed.rss", {}),
    ("personal .ics", f"/s/{TOKEN}.ics", {}),
    ("home page /", "/", {}),
    ("series page", f"/series/{BIG}", {}),
    ("talk page", "/events/talk-500", {}),
    ("talk .ics", "/events/talk-500.ics", {}),
    ("API list", "/api/v1/events", {}),
    ("/healthz", "/healthz", {}),
]


def cpu_ms(call: Callable[[], object], count: int) -> float:
    """Return the CPU ms per call of `count` calls (after three warm ones)."""
    for _ in range(3):
        call()
    started = time.process_time()
    for _ in range(count):
        call()
    return (time.process_time() - started) * 1000 / count


def wall_ms(call: Callable[[], object], count: int) -> float:
    """Return the median wall ms of `count` calls (the database server's time included)."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", metavar="URL", help="PostgreSQL (its public schema is dropped)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--talks", type=int, help="then grow to this many talks, measure again")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="eventfeed-cpu-"))
    url = args.pg or f"sqlite:///{workdir / 'bench.sqlite3'}"
    now = datetime.now(UTC) - timedelta(days=1)
    engine = fresh_database(url)
    sizes = Sizes(args.talks or 1_000, 200, 1_000, 0, 1, 0.0, 1, 1)
    insert_series(engine, sizes, now)
    insert_subscriber(engine, now)
    analyze(engine)
    config = {"database_url": url, "base_url": BASE_URL, "instance_path": str(workdir)}
    client = create_app({**config, "secret_key": "x"}).test_client()
    body = client.get(f"/series/{BIG}.ics").data
    etag = client.get(f"/series/{BIG}.ics").headers["ETag"]
    floor = Flask("floor")
    floor.add_url_rule("/", "floor", lambda: Response(body, content_type="text/calendar"))
    floor_client = floor.test_client()
    base = cpu_ms(lambda: floor_client.get("/"), args.requests)
    routes = [*ROUTES, ("304 series .ics", f"/series/{BIG}.ics", {"If-None-Match": etag})]
    small = {}
    walls: dict[str, Any] = {}
    for name, path, headers in routes:
        small[name] = cpu_ms(lambda p=path, h=headers: client.get(p, headers=h), args.requests)
        if args.talks:
            walls[name] = wall_ms(lambda p=path, h=headers: client.get(p, headers=h), args.requests)
    if not args.talks:
        print("| route | CPU ms/request | floor / route |\n|---|---|---|")
        print(f"| floor | {base:.2f} | 1.00 |")
        for name, spent in small.items():
            print(f"| {name} | {spent:.2f} | {base / spent:.2f} |")
        return 0
    insert_rest(engine, sizes, now)
    analyze(engine)
    big = {}
    for name, path, headers in routes:
        big[name] = cpu_ms(lambda p=path, h=headers: client.get(p, headers=h), args.requests)
        walls[name] = (
            walls[name],
            wall_ms(lambda p=path, h=headers: client.get(p, headers=h), args.requests),
        )
    base_big = cpu_ms(lambda: floor_client.get("/"), args.requests)
    print(
        f"| route | CPU ms 1k | CPU ms {args.talks:,} | ratio | wall p50 ms 1k | {args.talks:,} "
        "| ratio |\n|---|---|---|---|---|---|---|"
    )
    print(f"| floor | {base:.2f} | {base_big:.2f} | {base_big / base:.2f} | | | |")
    for name, spent in small.items():
        w1, w2 = walls[name]
        print(
            f"| {name} | {spent:.2f} | {big[name]:.2f} | {big[name] / spent:.2f} "
            f"| {w1:.2f} | {w2:.2f} | {w2 / w1:.2f} |"
        )
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
