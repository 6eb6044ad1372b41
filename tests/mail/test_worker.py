"""`eventfeed worker` processes against a real SMTP server on loopback.

Three workers on PostgreSQL share one outbox: every message is delivered exactly once.
SIGTERM lets the message in hand finish and hands the rest back, losing nothing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.clock import SYSTEM_CLOCK
from events.models import Event, Outbox
from mail import outbox, subscribers
from tests.support.mailtools import Inbox, SmtpServer

FUTURE = (SYSTEM_CLOCK.now() + timedelta(days=30)).strftime("%Y-%m-%d")
ROOT = Path(__file__).resolve().parents[2]


class SlowInbox(Inbox):
    """An inbox that takes `delay` seconds to accept each message."""

    delay = 0.3

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Accept after a pause."""
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


def queue_announcements(
    sessions: sessionmaker[Session], make_event: Callable[..., Event], count: int
) -> None:
    """Add `count` confirmed subscribers and queue a talk's announcement to each."""
    event = make_event(start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00")
    with sessions() as session, session.begin():
        for n in range(count):
            address = f"r{n:03d}@example.org"
            subscribers.add_confirmed(session, address, ["lisbon-ml"], "UTC", SYSTEM_CLOCK.now())
        found = outbox.announce(session, store.get_event(session, event.id), SYSTEM_CLOCK.now())
        assert found == count


def start_worker(env: dict[str, str], *args: str, log: Path | None = None) -> subprocess.Popen[str]:
    """Start `eventfeed worker` as a process (its stderr into `log` when given)."""
    command = [sys.executable, "-m", "server", "worker", *args]
    environ = {**os.environ, **env}
    if log is None:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    with log.open("w") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            command, cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=stderr, text=True
        )


def statuses(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Return the number of outbox rows per status."""
    with sessions() as session:
        rows = session.execute(select(Outbox.status, func.count()).group_by(Outbox.status))
        return {status: count for status, count in rows}


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    """Poll until `condition()` or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_three_worker_processes_on_postgresql_deliver_each_message_exactly_once(
    engine: Engine,
    cli_env: dict[str, str],
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several workers share rows through SKIP LOCKED on PostgreSQL")
    total = 60
    env = {**cli_env, "EVENTFEED_SMTP_URL": smtp.url}
    logs = [tmp_path / f"worker-{n}.log" for n in range(3)]
    workers = [start_worker(env, "--batch", "4", "--idle", "0.2", log=log) for log in logs]
    try:
        # All three running (they start at different speeds on a busy machine), then the mail.
        wait_for(lambda: all("sending over" in log.read_text() for log in logs), timeout=120)
        queue_announcements(sessions, make_event, total)
        wait_for(lambda: statuses(sessions) == {"sent": total}, timeout=120)
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            process.communicate(timeout=30)
    outputs = [log.read_text() for log in logs]
    assert [process.returncode for process in workers] == [0, 0, 0], outputs
    received = [m["To"] for m in smtp.inbox.messages]
    assert len(received) == total  # none doubled
    assert len(set(received)) == total  # none missing
    assert len({m["Message-ID"] for m in smtp.inbox.messages}) == total
    # Each worker said what it did; together they sent every message once.
    sent = [int(err.split("stopped: sent ")[1].split(",")[0]) for err in outputs]
    assert sum(sent) == total
    assert sum(count > 0 for count in sent) >= 2, sent  # the work was shared


def test_sigterm_finishes_the_message_in_hand_and_hands_the_rest_back(
    cli_env: dict[str, str],
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
) -> None:
    server = SmtpServer()
    server.inbox = SlowInbox()
    server.start()
    try:
        queue_announcements(sessions, make_event, 20)
        env = {**cli_env, "EVENTFEED_SMTP_URL": server.url}
        process = start_worker(env, "--batch", "20", "--idle", "0.2")
        wait_for(lambda: len(server.inbox.raw) >= 3, timeout=60)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        delivered = len(server.inbox.raw)
    finally:
        server.stop()
    assert 3 <= delivered < 20
    # What the server accepted is recorded as sent; the rest is queued, none left leased.
    assert statuses(sessions) == {"sent": delivered, "queued": 20 - delivered}
    with sessions() as session:
        queued = session.scalars(select(Outbox).where(Outbox.status == "queued")).all()
        assert all(row.attempts == 0 and row.locked_by is None for row in queued)
    assert f"stopped: sent {delivered}," in err


def test_three_worker_processes_on_postgresql_send_each_digest_once(
    engine: Engine,
    cli_env: dict[str, str],
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    """Three workers start together and all find the same daily digests due: each reader
    gets one (the digest's dedupe key is per subscriber and day)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("several workers share rows through SKIP LOCKED on PostgreSQL")
    now = SYSTEM_CLOCK.now()
    # Readers in a zone where it is between 07:00 and 10:00 now (there always is one).
    due = sorted(
        z
        for z in available_timezones()
        if "/" in z and not z.startswith(("Etc/", "posix/", "right/"))
        if outbox.digest_period(now, z, "daily") is not None
    )
    total = 30
    make_event(start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00")
    make_event(start=f"{FUTURE} 15:00", end=f"{FUTURE} 16:00")
    with sessions() as session, session.begin():
        for n in range(total):
            found = subscribers.add_confirmed(
                session, f"d{n:03d}@example.org", ["lisbon-ml"], due[0], now
            )
            session.flush()
            for subscription in found.subscriptions:
                subscription.frequency, subscription.reminder_hours = "daily", 0
    env = {**cli_env, "EVENTFEED_SMTP_URL": smtp.url}
    logs = [tmp_path / f"worker-{n}.log" for n in range(3)]
    workers = [start_worker(env, "--batch", "4", "--idle", "0.2", log=log) for log in logs]
    try:
        wait_for(lambda: all("sending over" in log.read_text() for log in logs), timeout=120)
        wait_for(lambda: statuses(sessions) == {"sent": total}, timeout=120)
        time.sleep(1.5)  # room for a doubled digest to show up
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            process.communicate(timeout=30)
    assert [process.returncode for process in workers] == [0, 0, 0]
    received = [m["To"] for m in smtp.inbox.messages]
    assert sorted(received) == [f"d{n:03d}@example.org" for n in range(total)]
    assert all("2 new or changed talks" in m["Subject"] for m in smtp.inbox.messages)
