"""Benchmark of email delivery end to end (issue 17): prints figures and writes JSON.

    .venv/bin/python benchmarks/emails.py [--quick] [--subscribers N]

(Named emails.py: a benchmarks/email.py would shadow the standard library's `email` package
for every script in this folder.)

In a throwaway SQLite file (or PostgreSQL when EVENTFEED_BENCH_DATABASE_URL is set; that
database is emptied), with a real SMTP server on loopback in its own process:

a. render only: one announcement rendered for N readers (feeds.email.EventEmails), no I/O;
b. end to end: N confirmed subscribers, one announcement queued (`outbox.announce`), then
   the worker (`mail.worker.Worker.drain`: claim, build and store, send, record) until
   the SMTP server has accepted all N;
c. digests: N readers following 20 series each, a day of new talks: the weekly digests
   queued (`outbox.queue_digests` at Monday 07:30 in each of the readers' five zones, so
   every reader's is due) and delivered by the worker.

The worker sends on --connections SMTP connections (3 by default; 1 is the sequential
path). Besides emails/s (wall time, which a loaded machine lowers), each delivery reports
the CPU time of this process per email (all its threads; the SMTP server's own CPU is not
counted). --server smtp-sink uses Postfix's smtp-sink (C, made for benchmarks; Debian
package `postfix`) instead of aiosmtpd (Python), which competes for the same cores.

Targets: (b) >= 1,000 emails/s, (c) >= 500 digests/s. Results go to
benchmarks/results/email-<backend>-<server>-<time>.json.
"""

# ruff: noqa: E402
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text, update

from events.clock import FrozenClock
from events.config import Settings
from events.db import make_engine, make_sessionmaker, migrate
from events.models import Event, Series, Subscriber, Subscription
from events.times import wall_time_text
from feeds import email as mail
from mail import outbox
from mail.worker import Worker

SERIES = 20
ZONES = ["Europe/Lisbon", "Asia/Shanghai", "America/New_York", "UTC", "Australia/Sydney"]


@dataclass
class Figure:
    """One measured figure and its target."""

    name: str
    value: float
    unit: str
    target: float | None = None
    digits: int = 0

    @property
    def passed(self) -> bool:
        """Return whether the target (if any) is met."""
        return self.target is None or self.value >= self.target

    def line(self) -> str:
        """Return a printable line."""
        goal = "" if self.target is None else f"  (target >= {self.target:,.0f}: "
        goal += "" if self.target is None else ("met)" if self.passed else "NOT met)")
        return f"{self.name:<58} {self.value:>10,.{self.digits}f} {self.unit}{goal}"


# -- the SMTP server: its own process, counting messages ------------------------------------


def _serve_smtp(port: int, count: Any, ready: Any) -> None:
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        asyncio.run(asyncio.sleep(10**6))
    finally:
        controller.stop()


def start_sink(port: int) -> subprocess.Popen[bytes]:
    """Start Postfix's smtp-sink (C, made for benchmarks) on loopback; return its process."""
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(sink).exists():
        raise SystemExit("smtp-sink not found: apt-get install postfix (it ships smtp-sink)")
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    process = subprocess.Popen([sink, *user, f"127.0.0.1:{port}", "256"])
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.05)
    raise SystemExit("smtp-sink did not start")


def free_port() -> int:
    """Return a free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- data -----------------------------------------------------------------------------------


def seed(engine: Any, readers: int, now: datetime, digest_readers: int) -> None:
    """Insert SERIES series with a talk tomorrow each, and `readers` subscribers of all."""
    series = [
        {
            "id": n + 1,
            "slug": f"seminar-{n}",
            "name": f"Seminar {n} on Geometry",
            "description": "",
            "timezone": ZONES[n % len(ZONES)],
            "homepage": None,
            "organisers": [],
            "language": "en",
            "visibility": "public",
            "location": None,
            "meeting": None,
            "auto_announce": False,
            "created_at": now - timedelta(days=30),
            "updated_at": now - timedelta(days=30),
        }
        for n in range(SERIES)
    ]
    talks = []
    for n in range(SERIES):
        start = now + timedelta(days=1, hours=n % 8)
        zone = ZONES[n % len(ZONES)]
        talks.append(
            {
                "id": f"talk-{n}",
                "series_id": n + 1,
                "title": f"Curvature and flows, part {n}",
                "speakers": [{"name": "Ana Silva", "affiliation": "Universidade de Lisboa"}],
                "abstract": "We study *flows* of metrics and their limits.\n\n" * 3,
                "timezone": zone,
                "start_local": wall_time_text(start, zone),
                "end_local": wall_time_text(start + timedelta(hours=1), zone),
                "start_utc": start,
                "end_utc": start + timedelta(hours=1),
                "location": {"room": "Room 1"},
                "meeting": None,
                "livestream": None,
                "recording": None,
                "slides": None,
                "homepage": None,
                "status": "confirmed",
                "tags": [],
                "sequence": 0,
                "created_at": now - timedelta(hours=2),
                "updated_at": now - timedelta(hours=2),
            }
        )
    people = [
        {
            "id": k + 1,
            "email": f"reader{k}@example.org",
            "timezone": ZONES[k % len(ZONES)],
            "token": f"tok{k:08d}-" + "x" * 30,
            "announcements": True,
            "digest": k < digest_readers,
            "reminder_hours": 0,
            "confirmed_at": now - timedelta(days=10),
            "unsubscribed_at": None,
            "created_at": now - timedelta(days=10),
            "updated_at": now - timedelta(days=10),
        }
        for k in range(readers)
    ]
    follows = [
        {
            "subscriber_id": k + 1,
            "series_id": n + 1,
            "confirmed_at": now - timedelta(days=10),
            "created_at": now - timedelta(days=10),
            "reminder_hours": 0,
        }
        for k in range(readers)
        for n in range(SERIES)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Series), series)
        conn.execute(insert(Event), talks)
        for start in range(0, len(people), 5000):
            conn.execute(insert(Subscriber), people[start : start + 5000])
        for start in range(0, len(follows), 20000):
            conn.execute(insert(Subscription), follows[start : start + 20000])


def empty(engine: Any) -> None:
    """Empty the benchmark database (PostgreSQL: the tables EventFeed uses)."""
    with engine.begin() as conn:
        for table in ("outbox", "digested_talk", "subscription", "subscriber", "event", "series"):
            conn.execute(text(f"DELETE FROM {table}"))


# -- measurements ---------------------------------------------------------------------------


def render_only(sessions: Any, settings: Settings, readers: int) -> tuple[float, float]:
    """Return (announcement emails rendered per second, CPU ms per email): no database
    access, no SMTP."""
    from mail.sender import event_message

    emails = mail.EventEmails()
    calendars: dict[tuple[str, int, bool], str] = {}
    with sessions() as session:
        event = session.get(Event, "talk-0")
        people = session.query(Subscriber).order_by(Subscriber.id).limit(readers).all()
        started, cpu = time.perf_counter(), cpu_seconds()
        for person in people:
            envelope = mail.Envelope.new(settings.mail_from, settings.domain)
            event_message(emails, "announcement", event, person, settings, envelope, calendars)
        took, used = time.perf_counter() - started, cpu_seconds() - cpu
        return len(people) / took, used * 1000 / len(people)


def deliver(
    sessions: Any,
    settings: Settings,
    expected: int,
    now: datetime,
    connections: int,
    server_pid: int,
) -> tuple[float, float, float]:
    """Run the worker until the server has accepted `expected` messages (each marked sent
    after its 250); return (messages per second, CPU ms per message of this process and
    of the SMTP server's)."""
    worker = Worker(
        sessions, settings, FrozenClock(now), batch=500, idle=0.05, connections=connections
    )
    started, cpu, server_cpu = time.perf_counter(), cpu_seconds(), server_cpu_seconds(server_pid)
    sent = 0
    try:
        while sent < expected:
            report = worker.drain()
            if report.unreachable:
                raise RuntimeError(report.summary())
            sent += report.sent
            if not report.processed:
                time.sleep(0.01)
    finally:
        worker.close()
    rate = expected / (time.perf_counter() - started)
    served = server_cpu_seconds(server_pid) - server_cpu
    return rate, (cpu_seconds() - cpu) * 1000 / expected, served * 1000 / expected


def server_cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) of the SMTP server's process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    """Return the CPU time (user + system) of this process, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 1 when a target is missed (0 in --quick mode)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run (no targets)")
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument(
        "--digest-readers", type=int, help="readers who want the digest (default: all)"
    )
    parser.add_argument(
        "--server",
        choices=("aiosmtpd", "smtp-sink"),
        default="aiosmtpd",
        help="the SMTP server on loopback: aiosmtpd (Python) or Postfix's smtp-sink (C)",
    )
    parser.add_argument("--connections", type=int, default=3, help="SMTP connections of the worker")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    readers = 30 if args.quick else args.subscribers
    port = free_port()
    count = multiprocessing.Value("i", 0)
    server: Any
    if args.server == "smtp-sink":
        server = start_sink(port)
    else:
        ready = multiprocessing.Event()
        server = multiprocessing.Process(target=_serve_smtp, args=(port, count, ready), daemon=True)
        server.start()
        ready.wait(30)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("EVENTFEED_BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite3"
        settings = Settings.from_env(
            {},
            database_url=url,
            secret_key="bench",
            base_url="https://events.example.org",
            smtp_url=f"smtp://127.0.0.1:{port}",
            instance_path=tmp,
        )
        engine = make_engine(url)
        migrate(engine)
        empty(engine)
        sessions = make_sessionmaker(engine)
        # The next Monday 12:00 UTC is Monday in every zone used: the weekly digests are due.
        today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        now = today + timedelta(days=(7 - today.weekday()) % 7 or 7) - timedelta(days=1)
        started = time.perf_counter()
        digest_readers = min(readers, args.digest_readers or readers)
        seed(engine, readers, now, digest_readers)
        took = time.perf_counter() - started
        print(f"seeded {readers:,} readers of {SERIES} series in {took:.1f} s")
        backend = engine.dialect.name

        rate, cpu_ms = render_only(sessions, settings, readers)
        figures.append(Figure("(a) announcement emails rendered (render only)", rate, "emails/s"))
        figures.append(Figure("(a1) CPU per email rendered", cpu_ms, "ms", digits=3))
        started = time.perf_counter()
        with sessions() as session, session.begin():
            queued = outbox.announce(session, session.get(Event, "talk-0"), now)
        assert queued == readers, queued
        queue_rate = readers / (time.perf_counter() - started)
        figures.append(Figure("(b0) announcements queued", queue_rate, "emails/s"))
        target = None if args.quick else 1000.0
        rate, cpu_ms, server_ms = deliver(
            sessions, settings, readers, now, args.connections, server.pid
        )
        figures.append(
            Figure(
                "(b) announcements delivered end to end (worker -> SMTP)", rate, "emails/s", target
            )
        )
        figures.append(Figure("(b1) worker CPU per announcement", cpu_ms, "ms", digits=3))
        figures.append(Figure("(b2) SMTP server CPU per announcement", server_ms, "ms", digits=3))
        load = os.getloadavg()[0]

        # Digests: every talk is new to the readers. The digest readers now follow their
        # series by weekly digest (mail.outbox.queue_digests).
        with engine.begin() as conn:
            conn.execute(
                update(Subscription)
                .where(Subscription.subscriber_id <= digest_readers)
                .values(frequency="weekly")
            )
        # Monday 07:30 in each zone, one after the other (as the worker's minute job finds
        # them): every digest reader's weekly digest is due once.
        monday = (now + timedelta(days=1)).date()
        instants = sorted(
            datetime.combine(monday, dt_time(7, 30), ZoneInfo(zone)).astimezone(UTC)
            for zone in ZONES
        )
        started, cpu = time.perf_counter(), cpu_seconds()
        queued = 0
        for due in instants:
            with sessions() as session, session.begin():
                queued += outbox.queue_digests(session, due)
        queue_seconds = time.perf_counter() - started
        figures.append(
            Figure("(c0) digests queued", queued / queue_seconds if queued else 0, "digests/s")
        )
        queue_ms = (cpu_seconds() - cpu) * 1000 / queued if queued else 0.0
        figures.append(Figure("(c0') CPU per digest queued", queue_ms, "ms", digits=3))
        target = None if args.quick else 500.0
        rate, cpu_ms, server_ms = (
            deliver(sessions, settings, queued, instants[-1], args.connections, server.pid)
            if queued
            else (0.0, 0.0, 0.0)
        )
        figures.append(
            Figure("(c) digests (20 series each) delivered end to end", rate, "digests/s", target)
        )
        figures.append(Figure("(c1) worker CPU per digest", cpu_ms, "ms", digits=3))
        figures.append(Figure("(c2) SMTP server CPU per digest", server_ms, "ms", digits=3))
        engine.dispose()
    if args.server == "aiosmtpd" and count.value != readers + queued:
        raise SystemExit(f"the server counted {count.value}, not {readers + queued}")
    server.kill()
    server.wait() if isinstance(server, subprocess.Popen) else server.join()
    print(
        f"email benchmark ({backend}, {readers:,} subscribers, {digest_readers:,} of them "
        f"with digests, server {args.server}, {args.connections} SMTP connections, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} after (b), "
        f"{os.getloadavg()[0]:.1f} at the end):"
    )
    for figure in figures:
        print("  " + figure.line())
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = args.out / f"email-{backend}-{args.server}-{stamp}.json"
    out.write_text(json.dumps([f.__dict__ for f in figures], indent=2))
    print(f"wrote {out}")
    return 0 if args.quick or all(f.passed for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
