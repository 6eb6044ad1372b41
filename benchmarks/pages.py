"""Benchmark of EventFeed's web pages at scale (issue 14): prints a table and writes JSON.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python benchmarks/pages.py [--quick]

Uses the feed benchmark's data (`benchmarks/feeds.py`: talks in bulk, one 1,000-talk series
among 200) in a throwaway SQLite file (and PostgreSQL when EVENTFEED_BENCH_DATABASE_URL is
set; that database's `public` and `small` schemas are dropped), plus a 40-talk series, and a
second, small database holding only those two series (1,040 talks), and measures:

g. the home page with 100,000 talks in the database vs with 1,000 (in-process p50, the two
   databases taking turns, so both see the same background load);
h. the page of the 1,000-talk series vs the page of the 40-talk series (in-process p50): both
   show one page of each list (20 upcoming, 20 past), so the rest is the cost of history;
i. the home page served by gunicorn (4 gthread workers, --preload) under load from other
   processes: answers per second and the clients' p50 latency (an absolute figure, so it
   follows the machine's load; its target is far below a quiet machine's);
j. the PSS of the largest gunicorn worker during (i).

`--no-server` skips (i) and (j) (the test suite's smoke run).

Results go to benchmarks/results/pages-<time>.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from benchmarks.feeds import (  # noqa: E402
    BASE_URL,
    BIG,
    FULL,
    QUICK,
    ZONES,
    Figure,
    Server,
    Sizes,
    _series_row,
    _talk_rows,
    insert_rest,
    insert_series,
)
from events.config import Settings  # noqa: E402
from events.db import make_engine, migrate  # noqa: E402
from events.models import Event, Series  # noqa: E402
from events.times import wall_time_text  # noqa: E402

SMALL = "small-seminar"
SMALL_TALKS = 40  # 20 past and 20 upcoming: one page of each list


def percentile_ms(samples: list[float], q: float) -> float:
    """Return the q-quantile (0..1) of durations in seconds, in milliseconds."""
    ordered = sorted(samples)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def insert_small(engine: Any, sizes: Sizes, now: datetime) -> None:
    """Insert the small series (ids after the generated ones), half past, half upcoming."""
    series_id = sizes.series + 1
    rows = list(_talk_rows(series_id, ZONES[1], SMALL_TALKS, 10 * sizes.talks, now))
    middle = now - timedelta(days=SMALL_TALKS)  # 2 days apart: half before now, half after
    for k, row in enumerate(rows):
        shift = middle + timedelta(days=2 * k) - row["start_utc"]
        row.update(
            id=f"small-{k}", start_utc=row["start_utc"] + shift, end_utc=row["end_utc"] + shift
        )
        row.update(
            start_local=wall_time_text(row["start_utc"], ZONES[1]),
            end_local=wall_time_text(row["end_utc"], ZONES[1]),
        )
    with engine.begin() as conn:
        conn.execute(insert(Series), [_series_row(series_id - 1, SMALL, now)])
        conn.execute(insert(Event), rows)


class Pages:
    """The app in this process, answering page requests through its test client."""

    def __init__(self, settings: Settings) -> None:
        from server import create_app

        self.client = create_app(settings).test_client()

    def get(self, path: str) -> int:
        """GET a page, as a visitor whose zone is known (cookie); return the body size."""
        response = self.client.get(path, headers={"Cookie": "tz=Europe/Lisbon"})
        assert response.status_code == 200, (path, response.status_code)
        return len(response.data)


def _load_worker(port: int, path: str, seconds: float, out: Any) -> None:
    """GET `path` on one keep-alive connection for `seconds`; report latencies and errors."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies: list[float] = []
    errors = 0
    began = time.perf_counter()
    stop = began + seconds
    while time.perf_counter() < stop:
        started = time.perf_counter()
        try:
            conn.request("GET", path, headers={"Cookie": "tz=Europe/Lisbon"})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.close()
    out.put((latencies, errors, time.perf_counter() - began))


def load(port: int, path: str, sizes: Sizes) -> tuple[float, float, int]:
    """Return (answers per second, p50 latency in ms, errors) from `load_clients` processes."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    seconds = max(sizes.load_seconds, 2.0)
    procs = [
        context.Process(target=_load_worker, args=(port, path, seconds, out))
        for _ in range(sizes.load_clients)
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join()
    latencies = [s for r in results for s in r[0]]
    rate = sum(len(r[0]) / max(r[2], 1e-9) for r in results)
    return rate, percentile_ms(latencies, 0.5) if latencies else 0.0, sum(r[1] for r in results)


class WorkerPeak:
    """Samples the largest PSS of any gunicorn worker every 0.1 s while it runs."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                workers = psutil.Process(self.server.proc.pid).children(recursive=True)
                for worker in workers:
                    self.peak_bytes = max(self.peak_bytes, worker.memory_full_info().pss)
            except psutil.Error:
                pass
            time.sleep(0.1)

    def stop(self) -> float:
        """Stop sampling; return the peak in MB."""
        self._stop.set()
        self._thread.join()
        return self.peak_bytes / 2**20


def interleaved_p50(actions: list[Callable[[], object]], repeats: int) -> list[float]:
    """Return each action's median wall time, the actions taking turns (after two warm-ups).

    Taking turns exposes every action to the same background load of a shared machine, so
    their ratio holds even when the machine is busy.
    """
    for action in actions:
        action()
        action()
    samples: list[list[float]] = [[] for _ in actions]
    for _ in range(repeats):
        for action, times in zip(actions, samples, strict=True):
            started = time.perf_counter()
            action()
            times.append(time.perf_counter() - started)
    return [statistics.median(times) for times in samples]


def small_url(database_url: str, backend: str, workdir: Path) -> str:
    """Return the URL of the second, small database: a file, or a schema of the same one."""
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'small.sqlite3'}"
    return database_url + ("&" if "?" in database_url else "?") + "options=-csearch_path%3Dsmall"


def build(url: str, backend: str, sizes: Sizes, now: datetime, *, everything: bool) -> None:
    """Create the schema and the talks: the big and the small series, and the rest if asked."""
    engine = make_engine(url)
    if backend == "postgresql":
        schema = "small" if "search_path" in url else "public"
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
    migrate(engine)
    insert_series(engine, sizes, now)
    if everything:
        insert_rest(engine, sizes, now)
    insert_small(engine, sizes, now)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def settings_for(url: str, workdir: Path) -> Settings:
    """Return the app's settings for a database."""
    return Settings.from_env(
        {}, database_url=url, base_url=BASE_URL, instance_path=str(workdir), secret_key="benchmark"
    )


def run(
    database_url: str, backend: str, sizes: Sizes, workdir: Path, *, server: bool = True
) -> list[Figure]:
    """Run every measurement on one backend; return the figures."""
    now = datetime.now(UTC) - timedelta(days=1)
    little = small_url(database_url, backend, workdir)
    build(little, backend, sizes, now, everything=False)
    build(database_url, backend, sizes, now, everything=True)
    settings = settings_for(database_url, workdir)
    small, large = Pages(settings_for(little, workdir)), Pages(settings)
    home_small, home_big, series_big, series_small = interleaved_p50(
        [
            lambda: small.get("/"),
            lambda: large.get("/"),
            lambda: large.get(f"/series/{BIG}"),
            lambda: large.get(f"/series/{SMALL}"),
        ],
        sizes.repeats * 2,
    )
    home_bytes = large.get("/")
    series_bytes = large.get(f"/series/{BIG}")

    total, big = sizes.talks, sizes.big
    ms = 1000
    figures = [
        Figure(
            "g",
            f"home page with {total:,} vs {big:,} talks in the database",
            home_big / home_small,
            "×",
            1.5,
            False,
            f"p50 {home_big * ms:.1f} ms vs {home_small * ms:.1f} ms; {home_bytes:,} bytes",
        ),
        Figure(
            "h",
            f"page of the {big:,}-talk series vs a {SMALL_TALKS}-talk series",
            series_big / series_small,
            "×",
            1.5,
            False,
            f"p50 {series_big * ms:.1f} ms vs {series_small * ms:.1f} ms; {series_bytes:,} bytes",
        ),
    ]
    if not server:
        return figures
    gunicorn = Server(settings, sizes.workers)
    try:
        for _ in range(sizes.workers * 2):
            gunicorn.get("/")  # every worker has served the page
        sampler = WorkerPeak(gunicorn)
        rate, p50_ms, errors = load(gunicorn.port, "/", sizes)
        pss = sampler.stop()
    finally:
        gunicorn.stop()
    return [
        *figures,
        Figure(
            "i",
            f"home page answers/s, {total:,} talks (gunicorn)",
            rate,
            "/s",
            5,
            True,
            f"client p50 {p50_ms:.1f} ms, {errors} errors; {sizes.workers} gthread workers, "
            f"{sizes.load_clients} client processes",
        ),
        Figure(
            "j",
            "largest worker's peak PSS during the home-page load",
            pss,
            "MB",
            150,
            False,
            f"{sizes.workers} gthread workers, --preload, gc.freeze",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table; write JSON; exit 1 when a target fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--talks", type=int, help="override the number of talks")
    parser.add_argument("--repeats", type=int, help="override the in-process repeats")
    parser.add_argument("--no-server", action="store_true", help="skip (i) and (j)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.talks:
        sizes = Sizes(**{**sizes.__dict__, "talks": args.talks})
    if args.repeats:
        sizes = Sizes(**{**sizes.__dict__, "repeats": args.repeats})
    workdir = Path(tempfile.mkdtemp(prefix="eventfeed-bench-pages-"))
    targets = [("sqlite", f"sqlite:///{workdir / 'bench.sqlite3'}")]
    if os.environ.get("EVENTFEED_BENCH_DATABASE_URL"):
        targets.append(("postgresql", os.environ["EVENTFEED_BENCH_DATABASE_URL"]))
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "sizes": sizes.__dict__,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "backends": {},
    }
    failed = False
    try:
        for backend, url in targets:
            figures = run(url, backend, sizes, workdir, server=not args.no_server)
            print(f"\n{backend}: {sizes.talks:,} talks in {sizes.series} series")
            print("| | measure | value | target | verdict | detail |")
            print("|---|---|---|---|---|---|")
            for figure in figures:
                print(figure.row())
            failed |= not all(f.passed for f in figures)
            results["backends"][backend] = [{**f.__dict__, "passed": f.passed} for f in figures]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = args.out / f"pages-{'quick-' if args.quick else ''}{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nJSON: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
