"""Benchmark of EventFeed's feeds at scale (issue 8): prints a table and writes JSON.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python benchmarks/feeds.py [--quick]

Generates talks in series (one big series among them) in a throwaway SQLite file (and in
PostgreSQL too when EVENTFEED_BENCH_DATABASE_URL is set; that database is emptied) and
measures, side by side in one run:

a. the warm big-series .ics feed vs building the same feed with icalendar per request;
b. the feed right after one talk was edited vs a full rebuild;
c. 304 answers per second vs /healthz on the same gunicorn server, load from other processes;
d. the big-series feed with only that series vs with every talk in the database;
e. the gunicorn server's peak resident memory (PSS of master and workers, summed);
f. announcement emails rendered per second for many subscribers.

Results go to benchmarks/results/feeds-<backend>-<time>.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from sqlalchemy import insert, text, update  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from tqdm import tqdm  # noqa: E402

from events import queries  # noqa: E402
from events.clock import SYSTEM_CLOCK  # noqa: E402
from events.config import Settings  # noqa: E402
from events.db import make_engine, make_sessionmaker, migrate  # noqa: E402
from events.models import Event, Series  # noqa: E402
from events.times import wall_time_text  # noqa: E402
from feeds import email as mail  # noqa: E402
from feeds.ical import CalendarInfo, render_calendar  # noqa: E402
from feeds.links import Links  # noqa: E402
from feeds.text import markdown_html, plain_text  # noqa: E402

BIG = "big-seminar"
ZONES = ["Europe/Lisbon", "America/New_York", "Asia/Shanghai", "UTC", "Australia/Sydney"]
BASE_URL = "https://seminars.example.org"
SEND_BATCH = 100  # rows per sender batch: the default of `eventfeed send --batch`


@dataclass(frozen=True)
class Sizes:
    """How big one run is."""

    talks: int
    series: int
    big: int
    subscribers: int
    repeats: int
    load_seconds: float
    load_clients: int
    workers: int


FULL = Sizes(100_000, 200, 1_000, 10_000, 15, 5.0, 4, 4)
QUICK = Sizes(600, 4, 100, 200, 3, 0.5, 2, 2)


def progress(total: int, desc: str) -> tqdm[Any]:
    """Return a progress bar, silent when stderr is not a terminal."""
    return tqdm(total=total, desc=desc, disable=not sys.stderr.isatty(), leave=False)


# -- data ------------------------------------------------------------------------------------


def _series_row(n: int, slug: str, now: datetime) -> dict[str, Any]:
    return {
        "id": n + 1,
        "slug": slug,
        "name": f"Seminar {n}" if slug != BIG else "The Big Seminar",
        "description": "Talks on *mathematics* and $x^2$ things.\nHeld online.",
        "timezone": ZONES[n % len(ZONES)],
        "homepage": f"https://example.org/{slug}",
        "organisers": ["Ana Silva"],
        "language": "en",
        "visibility": "public",
        "location": None,
        "meeting": None,
        "auto_announce": False,
        "created_at": now,
        "updated_at": now,
    }


def _talk_rows(
    series_id: int, zone: str, count: int, first: int, now: datetime
) -> Iterator[dict[str, Any]]:
    rng = random.Random(series_id)
    start0 = datetime(2022, 1, 3, 12, tzinfo=UTC)
    for k in range(count):
        start = start0 + timedelta(days=2 * k, hours=rng.randint(0, 8))
        end = start + timedelta(hours=1)
        yield {
            "id": f"talk-{first + k}",
            "series_id": series_id,
            "title": f"On the $L^{k % 7}$ norm of talk {first + k}",
            "speakers": [{"name": f"Speaker {k}", "affiliation": "University of Somewhere"}],
            "abstract": f"Talk {first + k}: we study *things* with $\\int_0^{k}$ f and more.\n\n"
            * 3,
            "timezone": zone,
            "start_local": wall_time_text(start, zone),
            "end_local": wall_time_text(end, zone),
            "start_utc": start,
            "end_utc": end,
            "location": {"room": "Room 1", "address": "Main building"} if k % 2 else {},
            "meeting": None,
            "livestream": None,
            "recording": f"https://video.example.org/{first + k}" if k % 3 == 0 else None,
            "slides": None,
            "homepage": None,
            "status": "cancelled" if k % 50 == 49 else "confirmed",
            "tags": ["maths", f"tag{k % 5}"],
            "sequence": 0,
            "created_at": now,
            "updated_at": now,
        }


def _talks_insert(engine: Engine) -> Any:
    """INSERT of talks as the app's import sends them (events.db.insert_rows): on PostgreSQL
    with RETURNING, so SQLAlchemy sends multi-row statements and the statement-level feed
    triggers run once per 1,000 talks, not once per talk (which left thousands of dead
    versions of the series rows behind: a bloated `series` table the app never makes)."""
    statement = insert(Event)
    if engine.dialect.name == "postgresql":
        return statement.returning(Event.id)
    return statement


def insert_series(engine: Engine, sizes: Sizes, now: datetime) -> None:
    """Insert the big series (with its talks) and the empty other series."""
    slugs = [BIG] + [f"seminar-{n}" for n in range(1, sizes.series)]
    with engine.begin() as conn:
        conn.execute(insert(Series), [_series_row(n, s, now) for n, s in enumerate(slugs)])
        conn.execute(_talks_insert(engine), list(_talk_rows(1, ZONES[0], sizes.big, 0, now)))


def insert_rest(engine: Engine, sizes: Sizes, now: datetime) -> None:
    """Insert the other talks, spread over the other series, in bulk."""
    rest = max(sizes.talks - sizes.big, 0)
    others = sizes.series - 1
    if rest == 0 or others < 1:
        return
    per, extra = divmod(rest, others)
    first = sizes.big
    bar = progress(rest, "inserting talks")
    for n in range(1, sizes.series):
        count = per + (1 if n <= extra else 0)  # the first `extra` series take one more
        if count == 0:
            continue  # (an empty INSERT would fail: fewer talks to add than series)
        with engine.begin() as conn:
            rows = list(_talk_rows(n + 1, ZONES[n % 5], count, first, now))
            conn.execute(_talks_insert(engine), rows)
        first += count
        bar.update(count)
    bar.close()


# -- timing ----------------------------------------------------------------------------------


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    """Return the median wall time of `repeats` runs of `action` (after one warm-up)."""
    action()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


class InProcess:
    """The app in this process: the feed over a test client, and the from-scratch baseline."""

    def __init__(self, settings: Settings) -> None:
        from server import create_app

        self.settings = settings
        self.app = create_app(settings)
        self.client = self.app.test_client()
        self.engine = make_engine(settings.database_url)
        self.sessions = make_sessionmaker(self.engine)

    def feed(self) -> bytes:
        """GET the big series' calendar (no validators: a full 200 answer)."""
        response = self.client.get(f"/series/{BIG}.ics")
        assert response.status_code == 200, response.status_code
        return response.data

    def baseline(self) -> bytes:
        """Load the talks and build the whole calendar with icalendar, as without caching."""
        plain_text.cache_clear()  # from scratch: no memoised Markdown/LaTeX conversions
        markdown_html.cache_clear()
        links = Links(self.settings.base_url)
        with self.sessions() as session:
            series, events = queries.series_feed(
                session, BIG, now=SYSTEM_CLOCK.now(), settings=self.settings
            )
            info = CalendarInfo(
                name=series.name,
                description=plain_text(series.description),
                url=links.series_page(series.slug),
            )
            return render_calendar(
                events, info=info, links=links, domain=self.settings.domain, audience="public"
            )

    def edit_one(self, counter: list[int]) -> None:
        """Edit one talk of the big series as the store does (title, sequence, updated_at)."""
        counter[0] += 1
        talk = f"talk-{counter[0] % 997}"
        with self.engine.begin() as conn:
            conn.execute(
                update(Event)
                .where(Event.id == talk)
                .values(
                    title=f"Edited title {counter[0]}",
                    sequence=Event.sequence + 1,
                    updated_at=datetime.now(UTC),
                )
            )


# -- HTTP load -------------------------------------------------------------------------------


def free_port() -> int:
    """Return a free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _load_worker(
    port: int, path: str, headers: dict[str, str], seconds: float, expect: int, out: Any
) -> None:
    """Send requests on one keep-alive connection for `seconds`; report the count."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    done = errors = 0
    began = time.perf_counter()
    stop = began + seconds
    while time.perf_counter() < stop:
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status == expect:
                done += 1
            else:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.close()
    out.put((done, errors, time.perf_counter() - began))


def load(port: int, path: str, headers: dict[str, str], expect: int, sizes: Sizes) -> float:
    """Return answers per second from `load_clients` processes hitting `path`."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    procs = [
        context.Process(
            target=_load_worker, args=(port, path, headers, sizes.load_seconds, expect, out)
        )
        for _ in range(sizes.load_clients)
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=sizes.load_seconds + 60) for _ in procs]
    for proc in procs:
        proc.join()
    done = sum(r[0] for r in results)
    if sum(r[1] for r in results) > done // 100:
        raise RuntimeError(f"too many failed requests on {path}: {results}")
    # Each client times its own loop, so process start-up does not count.
    return sum(r[0] / max(r[2], 1e-9) for r in results)


class Server:
    """gunicorn serving the app on loopback, with a memory sampler."""

    def __init__(self, settings: Settings, workers: int) -> None:
        self.port = free_port()
        env = dict(os.environ)
        env.update(
            EVENTFEED_DATABASE_URL=settings.database_url,
            EVENTFEED_BASE_URL=settings.base_url,
            EVENTFEED_INSTANCE_PATH=settings.instance_path,
            EVENTFEED_SECRET_KEY="benchmark",
            PYTHONPATH=str(ROOT),
        )
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.proc = subprocess.Popen(
            [
                str(gunicorn),
                "--config",
                str(ROOT / "gunicorn.conf.py"),
                "--workers",
                str(workers),
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--preload",
                "--log-level",
                "warning",
                "server:create_app()",
            ],
            cwd=ROOT,
            env=env,
        )
        self.peak_bytes = 0
        self.peak_rss_bytes = 0
        self._stop = threading.Event()
        self._wait_ready()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _wait_ready(self) -> None:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def memory(self) -> tuple[int, int]:
        """Return (PSS summed, largest RSS) of the master and all workers.

        PSS splits pages shared between the preforked processes among them, so the sum is
        the server's real resident memory; summing RSS would count shared pages per worker.
        """
        try:
            parent = psutil.Process(self.proc.pid)
            procs = [parent, *parent.children(recursive=True)]
            infos = [p.memory_full_info() for p in procs]
            return sum(i.pss for i in infos), max(i.rss for i in infos)
        except psutil.Error:
            return 0, 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            pss, rss = self.memory()
            self.peak_bytes = max(self.peak_bytes, pss)
            self.peak_rss_bytes = max(self.peak_rss_bytes, rss)
            time.sleep(0.1)

    def get(self, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        """Send one request and return the (read) response."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        conn.close()
        return response

    def stop(self) -> None:
        """Stop the sampler and gunicorn."""
        self._stop.set()
        self._sampler.join()
        self.proc.terminate()
        self.proc.wait(timeout=30)


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured figure against its target."""

    key: str
    what: str
    value: float
    unit: str
    target: float
    higher_is_better: bool
    detail: str

    @property
    def passed(self) -> bool:
        """Return whether the target holds."""
        if self.higher_is_better:
            return self.value >= self.target
        return self.value <= self.target

    def row(self) -> str:
        """Return the figure as one table row."""
        sign = "≥" if self.higher_is_better else "≤"
        value = f"{self.value:,.1f} {self.unit}".strip()
        target = f"{sign} {self.target:,g} {self.unit}".strip()
        verdict = "PASS" if self.passed else "FAIL"
        return f"| {self.key} | {self.what} | {value} | {target} | {verdict} | {self.detail} |"


def email_rate(engine: Engine, settings: Settings, subscribers: int) -> tuple[float, float]:
    """Return (emails per second, seconds) of announcement emails for `subscribers` readers.

    Each message is made as `eventfeed send` makes an outbox row's (`sender._prepare`): a
    fresh Envelope, the subscriber's links, and `sender.event_message` through the command's
    one `EventEmails`, with the talk's calendar rendered afresh every SEND_BATCH rows.
    """
    from events.models import Subscriber
    from mail.sender import event_message

    with make_sessionmaker(engine)() as session:
        event = session.get(Event, "talk-5")
        assert event is not None
        now = datetime.now(UTC)
        people = [
            Subscriber(
                email=f"reader{n}@example.org",
                timezone=ZONES[n % len(ZONES)],
                token=f"{n:08d}" + "x" * 35,  # as long as secrets.token_urlsafe(32)
                confirmed_at=now,
            )
            for n in range(subscribers)
        ]
        bar = progress(subscribers, "emails")
        plain_text.cache_clear()
        markdown_html.cache_clear()
        started = time.perf_counter()
        emails = mail.EventEmails()
        for first in range(0, subscribers, SEND_BATCH):
            calendars: dict[tuple[str, int, bool], str] = {}
            batch = people[first : first + SEND_BATCH]
            for subscriber in batch:
                envelope = mail.Envelope.new(settings.mail_from, settings.domain)
                event_message(
                    emails, "announcement", event, subscriber, settings, envelope, calendars
                )
            bar.update(len(batch))
        elapsed = time.perf_counter() - started
        assert emails.slow == 0, "the benchmark's readers must take the fast path"
        bar.close()
    return subscribers / elapsed, elapsed


def run(database_url: str, backend: str, sizes: Sizes, workdir: Path) -> list[Figure]:
    """Run every measurement on one database; return the figures."""
    settings = Settings.from_env(
        {},
        database_url=database_url,
        base_url=BASE_URL,
        instance_path=str(workdir),
        secret_key="benchmark",
        warm_poll_seconds=0,  # (its SQL edits are to be rebuilt by the timed reads: no polling)
    )
    engine = make_engine(database_url)
    if backend == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate(engine)
    now = datetime.now(UTC) - timedelta(days=1)
    insert_series(engine, sizes, now)
    here = InProcess(settings)

    # (d) first half: only the big series in the database.
    here.feed()
    small_db = median_seconds(here.feed, sizes.repeats * 5)  # a warm feed takes milliseconds

    insert_rest(engine, sizes, now)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    here.feed()
    warm = median_seconds(here.feed, sizes.repeats * 5)
    body = here.feed()
    baseline_body = here.baseline()
    assert body == baseline_body, "cached feed differs from the uncached renderer"
    baseline = median_seconds(here.baseline, max(3, sizes.repeats // 3))

    # (b) one talk edited, then the feed: re-renders that talk only.
    counter = [0]
    edited_times = []
    for _ in range(sizes.repeats):
        here.edit_one(counter)
        started = time.perf_counter()
        here.feed()
        edited_times.append(time.perf_counter() - started)
    edited = statistics.median(edited_times)

    # (c) and (e): gunicorn, 304 vs /healthz.
    server = Server(settings, sizes.workers)
    try:
        first = server.get(f"/series/{BIG}.ics", {"Accept-Encoding": "gzip"})
        etag = first.getheader("ETag") or ""
        for _ in range(sizes.workers * 2):
            server.get(f"/series/{BIG}.ics")  # every worker serves a full feed at least once
        healthz = load(server.port, "/healthz", {}, 200, sizes)
        not_modified = load(
            server.port,
            f"/series/{BIG}.ics",
            {"If-None-Match": etag, "Accept-Encoding": "gzip"},
            304,
            sizes,
        )
        peak = server.peak_bytes
        peak_rss = server.peak_rss_bytes
    finally:
        server.stop()

    rate, _ = email_rate(engine, settings, sizes.subscribers)
    engine.dispose()
    here.engine.dispose()
    big, total = sizes.big, sizes.talks
    ms = 1000
    return [
        Figure(
            "a",
            f"warm {big}-talk feed vs icalendar from scratch",
            baseline / warm,
            "×",
            50,
            True,
            f"{warm * ms:.2f} ms vs {baseline * ms:.1f} ms",
        ),
        Figure(
            "b",
            "feed after one edit vs full rebuild",
            baseline / edited,
            "×",
            20,
            True,
            f"{edited * ms:.2f} ms vs {baseline * ms:.1f} ms",
        ),
        Figure(
            "c",
            "304 answers/s vs /healthz (gunicorn)",
            100 * not_modified / healthz,
            "%",
            70,
            True,
            f"{not_modified:,.0f}/s vs {healthz:,.0f}/s, {sizes.workers} workers, "
            f"{sizes.load_clients} client processes",
        ),
        Figure(
            "d",
            f"same feed with {total:,} vs {big:,} talks in the database",
            warm / small_db,
            "×",
            1.3,
            False,
            f"{warm * ms:.2f} ms vs {small_db * ms:.2f} ms",
        ),
        Figure(
            "e",
            "server peak resident memory (PSS, master + workers)",
            peak / 2**20,
            "MB",
            300,
            False,
            f"{sizes.workers} gthread workers, --preload, gc.freeze; largest process RSS "
            f"{peak_rss / 2**20:.0f} MB",
        ),
        Figure(
            "f",
            f"announcement emails rendered, {sizes.subscribers:,} subscribers",
            rate,
            "/s",
            1000,
            True,
            f"MIME bytes incl. the .ics part, as the sender: batches of {SEND_BATCH}",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table; write JSON; exit 1 when a target fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--talks", type=int, help="override the number of talks")
    parser.add_argument("--subscribers", type=int, help="override the number of subscribers")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.talks:
        sizes = Sizes(**{**sizes.__dict__, "talks": args.talks})
    if args.subscribers:
        sizes = Sizes(**{**sizes.__dict__, "subscribers": args.subscribers})
    workdir = Path(tempfile.mkdtemp(prefix="eventfeed-bench-"))
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
            figures = run(url, backend, sizes, workdir)
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
    path = args.out / f"feeds-{'quick-' if args.quick else ''}{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nJSON: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
