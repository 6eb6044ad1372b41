"""The first request after an edit vs a warm one, per route, in process (issue 21).

Builds the 1,000-talk database of `http_routes.py` (SQLite, or `--pg URL`), then for each
route: warms it, edits one talk of the big series by SQL (title, sequence, updated_at: the
database triggers move the stamps), times the next request (the rebuild), then a warm
request; median of `--rounds` rounds. Prints wall ms, this process's CPU ms (with SQLite
that includes the database's work; PostgreSQL's server is not counted) and the ratios (the
issue asks <= 3x). `--gzip` asks for gzip, as feed readers do.

    .venv/bin/python benchmarks/after_edit.py [--pg postgresql+psycopg://...] [--rounds 7] [--gzip]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import update  # noqa: E402

from benchmarks.feeds import BASE_URL, BIG, Sizes, insert_series  # noqa: E402
from benchmarks.http_routes import TOKEN, fresh_database, insert_subscriber  # noqa: E402
from events.models import Event  # noqa: E402
from server import create_app  # noqa: E402

ROUTES = [
    ("series .ics", f"/series/{BIG}.ics"),
    ("series .rss", f"/series/{BIG}.rss"),
    ("series .atom", f"/series/{BIG}.atom"),
    ("series .json", f"/series/{BIG}.json"),
    ("site calendar.ics", "/calendar.ics"),
    ("site feed.rss", "/feed.rss"),
    ("personal .ics", f"/s/{TOKEN}.ics"),
    ("home page /", "/"),
    ("series page", f"/series/{BIG}"),
    ("talk page", "/events/talk-500"),
]


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", metavar="URL", help="PostgreSQL (its public schema is dropped)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--gzip", action="store_true", help="send Accept-Encoding: gzip")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="eventfeed-edit-"))
    url = args.pg or f"sqlite:///{workdir / 'bench.sqlite3'}"
    now = datetime.now(UTC) - timedelta(days=1)
    engine = fresh_database(url)
    insert_series(engine, Sizes(1_000, 200, 1_000, 0, 1, 0.0, 1, 1), now)
    insert_subscriber(engine, now)
    app = create_app(
        {
            "database_url": url,
            "base_url": BASE_URL,
            "instance_path": str(workdir),
            "secret_key": "x",
        }
    )
    client = app.test_client()
    headers = {"Accept-Encoding": "gzip"} if args.gzip else {}
    counter = 0
    print(
        f"load average {os.getloadavg()[0]:.1f}; {'gzip' if args.gzip else 'plain'} answers\n\n"
        "| route | first after an edit, ms | warm, ms | ratio | first, CPU ms | warm, CPU ms "
        "| CPU ratio |\n|---|---|---|---|---|---|---|"
    )
    for name, path in ROUTES:
        client.get(path, headers=headers)
        firsts, warms, first_cpu, warm_cpu = [], [], [], []
        for _ in range(args.rounds):
            counter += 1
            with engine.begin() as conn:
                conn.execute(
                    update(Event)
                    .where(Event.id == "talk-500")
                    .values(
                        title=f"Edited title {counter}",
                        sequence=Event.sequence + 1,
                        updated_at=datetime.now(UTC),
                    )
                )
            for walls, cpus in ((firsts, first_cpu), (warms, warm_cpu)):
                started, cpu = time.perf_counter(), time.process_time()
                assert client.get(path, headers=headers).status_code == 200
                walls.append(time.perf_counter() - started)
                cpus.append(time.process_time() - cpu)
        first, warm = statistics.median(firsts) * 1000, statistics.median(warms) * 1000
        f_cpu, w_cpu = statistics.median(first_cpu) * 1000, statistics.median(warm_cpu) * 1000
        print(
            f"| {name} | {first:.1f} | {warm:.1f} | {first / warm:.1f} × | {f_cpu:.1f} | "
            f"{w_cpu:.1f} | {f_cpu / max(w_cpu, 1e-3):.1f} × |"
        )
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
