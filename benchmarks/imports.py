"""Benchmark of large imports (issue 14 item 8): talks per second from the CLI.

    .venv/bin/python benchmarks/imports.py [--sizes 10000 50000] [--formats csv json yaml]
                                           [--postgres URL] [--refusals]

For each size and format, writes a file of that many talks in one new series, creates a
fresh database (a throwaway SQLite file; with --postgres, that database's `public` schema
is dropped and rebuilt), and times `eventfeed import FILE` as a separate process, end to end
(interpreter start, parsing, validation, writing, commit). Prints talks/s per run; exits 1
when the 50,000-talk CSV import on SQLite runs below 5,000 talks/s.

`--http N` also times `POST /api/v1/import` of an N-talk CSV file (in-process, on SQLite):
the request gunicorn's 30 s timeout applies to (the default 5 MB body limit holds ~23,000
talks of this benchmark's CSV).

`--refusals` also measures the peak memory (tracemalloc) of refusing oversized uploads: a
1,000,000-row CSV, a JSON file of a million empty objects, and a YAML one.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_TALKS_PER_SECOND = 5_000


def talks(n: int) -> list[dict[str, object]]:
    """Return n distinct talks spread over the years 2026-2030."""
    found: list[dict[str, object]] = []
    for i in range(n):
        year, day = 2026 + i % 5, i % 365
        month, mday = 1 + day // 31 % 12, 1 + day % 28
        found.append(
            {
                "id": f"bench-{i:06d}",
                "title": f"Talk number {i} on some topic",
                "speakers": [{"name": f"Speaker {i % 997}", "affiliation": "University"}],
                "start": f"{year}-{month:02d}-{mday:02d} {9 + i % 8:02d}:00",
                "end": f"{10 + i % 8:02d}:00",
                "abstract": "An abstract of a few words. " * 4,
                "tags": ["bench", f"t{i % 13}"],
            }
        )
    return found


SERIES = {"slug": "bench", "name": "Benchmark series", "timezone": "Europe/Lisbon"}


def write_file(directory: Path, n: int, fmt: str) -> Path:
    """Write an import file of n talks in series 'bench' (CSV: with a series column)."""
    path = directory / f"talks-{n}.{fmt}"
    rows = talks(n)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["series", "id", "title", "speakers", "start", "end", "abstract", "tags"])
        for t in rows:
            speaker = t["speakers"][0]  # type: ignore[index]  # built above
            writer.writerow(
                [
                    "bench",
                    t["id"],
                    t["title"],
                    f"{speaker['name']} ({speaker['affiliation']})",
                    t["start"],
                    t["end"],
                    t["abstract"],
                    ";".join(t["tags"]),  # type: ignore[arg-type]  # a list of str
                ]
            )
        path.write_text(out.getvalue(), encoding="utf-8")
    else:
        document = {"series": [{**SERIES, "events": rows}]}
        if fmt == "json":
            path.write_text(json.dumps(document), encoding="utf-8")
        else:
            import yaml

            path.write_text(yaml.safe_dump(document, width=1000), encoding="utf-8")
    return path


def fresh_database(url: str | None, directory: Path, name: str) -> str:
    """Return the URL of an empty, migrated database."""
    from sqlalchemy import text

    from events.db import make_engine, migrate

    if url is None:
        url = f"sqlite:///{directory / (name + '.sqlite3')}"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    migrate(engine)
    from events.clock import SYSTEM_CLOCK
    from events.db import make_sessionmaker
    from events.schemas import validate_series
    from events.store import upsert_series

    with make_sessionmaker(engine)() as session, session.begin():
        upsert_series(session, validate_series(SERIES), SYSTEM_CLOCK.now())
    engine.dispose()
    return url


def cli_import(url: str, path: Path, directory: Path) -> tuple[float, float]:
    """Run `eventfeed import PATH` in a new process; return its wall and CPU seconds."""
    env = {
        **os.environ,
        "EVENTFEED_DATABASE_URL": url,
        "EVENTFEED_INSTANCE_PATH": str(directory),
        "EVENTFEED_SECRET_KEY": "benchmark",
    }
    command = [sys.executable, "-c", "import server; server.main()", "import", str(path)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stdout}{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def http_import(directory: Path, n: int) -> float:
    """Return the seconds `POST /api/v1/import` takes for an n-talk CSV file (SQLite)."""
    from events import tokens
    from events.clock import SYSTEM_CLOCK
    from server import create_app

    url = fresh_database(None, directory, f"http-{n}")
    body = write_file(directory, n, "csv").read_bytes()
    config = {
        "database_url": url,
        "base_url": "https://events.example.org",
        "instance_path": str(directory),
        "secret_key": "benchmark",
    }
    app = create_app(config)
    with app.extensions["eventfeed"].sessions() as session, session.begin():
        _, secret = tokens.create_token(session, SYSTEM_CLOCK.now(), series=[], admin=True)
    started = time.perf_counter()
    answer = app.test_client().post(
        "/api/v1/import",
        data=body,
        content_type="text/csv",
        headers={"Authorization": f"Bearer {secret}"},
    )
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise SystemExit(f"HTTP import failed: {answer.status_code} {answer.get_data()[:300]!r}")
    return elapsed


def refusal_peaks(directory: Path) -> list[tuple[str, float, str]]:
    """Return (upload, peak MiB while refusing it, the error) for oversized uploads."""
    from events import importer
    from events.errors import ImportFailed

    cases = {
        "1,000,000-row CSV": ("csv", b"id,title\n" + b"a,b\n" * 1_000_000),
        "JSON of 1,000,000 objects": ("json", b'{"events": [' + b"{}," * 999_999 + b"{}]}"),
        "YAML of 1,000,000 items": ("yaml", b"events:\n" + b"- {}\n" * 1_000_000),
    }
    found = []
    for label, (fmt, raw) in cases.items():
        tracemalloc.start()
        try:
            importer.parse_bytes(label, raw, fmt, "bench")
            error = "(accepted!)"
        except ImportFailed as exc:
            error = str(exc)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        found.append((label, peak / 2**20, error))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--formats", nargs="+", default=["csv", "json"])
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (schema dropped)")
    parser.add_argument("--refusals", action="store_true")
    parser.add_argument("--http", type=int, metavar="N", help="time an N-talk HTTP import")
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        backends: list[tuple[str, str | None]] = [("sqlite", None)]
        if args.postgres:
            backends.append(("postgresql", args.postgres))
        print("| backend | format | talks | seconds | talks/s | CPU s | talks per CPU s |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for backend, url in backends:
            for fmt in args.formats:
                for n in args.sizes:
                    path = write_file(directory, n, fmt)
                    db = fresh_database(url, directory, f"{fmt}-{n}")
                    seconds, cpu = cli_import(db, path, directory)
                    rate = n / seconds
                    print(
                        f"| {backend} | {fmt} | {n:,} | {seconds:.1f} | {rate:,.0f} "
                        f"| {cpu:.1f} | {n / cpu:,.0f} |",
                        flush=True,
                    )
                    if backend == "sqlite" and fmt == "csv" and n >= 50_000:
                        failed |= rate < TARGET_TALKS_PER_SECOND
        if args.http:
            seconds = http_import(directory, args.http)
            print(
                f"\nHTTP import of {args.http:,} talks (CSV, SQLite): {seconds:.1f} s", flush=True
            )
        if args.refusals:
            print("\n| refused upload | peak MiB | error |\n|---|---:|---|")
            for label, peak, error in refusal_peaks(directory):
                print(f"| {label} | {peak:.1f} | {error[:90]} |", flush=True)
                failed |= peak >= 100
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
