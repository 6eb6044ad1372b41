"""Sending on several SMTP connections at once (issue 17 "Speed"): the same outcomes as one.

A worker with `connections=3` sends on three connections, a thread each; refused
recipients bounce alone, a server that goes away loses nothing and sends nothing twice,
and stopping hands the rows not taken back to the queue with no attempt counted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from events.clock import SYSTEM_CLOCK, FrozenClock
from events.config import Settings
from events.models import Event, Outbox, Subscriber
from mail import sender
from mail.worker import Worker
from tests.mail.test_delivery_outcomes import FUTURE, add_many, announce
from tests.support.mailtools import SmtpServer


def statuses(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Return the outbox rows counted by status."""
    with sessions() as session:
        found = session.execute(select(Outbox.status, func.count()).group_by(Outbox.status))
        return {status: count for status, count in found}


def test_three_connections_deliver_each_message_once_and_bounce_only_the_refused(
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    event = make_event(start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00")
    addresses = [f"reader{n:03d}@example.org" for n in range(160)]
    refused = addresses[::8]
    smtp.inbox.refuse_rcpt = {a: "550 5.1.1 <x>: Recipient address rejected" for a in refused}
    add_many(sessions, addresses)
    assert announce(sessions, event.id) == 160
    worker = Worker(sessions, mail_settings, SYSTEM_CLOCK, batch=50, connections=3, mirrors=False)
    try:
        report = worker.drain()
    finally:
        worker.close()

    assert (report.sent, report.bounced, report.deferred) == (140, 20, 0)
    received = [m["To"] for m in smtp.inbox.messages]
    assert sorted(received) == sorted(set(addresses) - set(refused))  # each once
    assert len(smtp.inbox.peers) == 3  # three connections, kept across the four batches
    assert statuses(sessions) == {"sent": 140, "bounced": 20}
    with sessions() as session:
        bounced = session.scalars(
            select(Subscriber.email).where(Subscriber.bounced_at.is_not(None))
        ).all()
    assert sorted(bounced) == refused


def test_server_stopped_mid_batch_on_three_connections_loses_nothing(
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    event = make_event(start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00")
    addresses = [f"reader{n:02d}@example.org" for n in range(30)]
    add_many(sessions, addresses)
    assert announce(sessions, event.id) == 30
    mailers = [sender.Mailer(mail_settings) for _ in range(3)]
    sent: list[int] = []

    def stop_after_six(row_id: int) -> None:
        sent.append(row_id)
        if len(sent) == 6:
            smtp.stop()

    now = SYSTEM_CLOCK.now()
    try:
        first = sender.send_batch(
            sessions,
            mail_settings,
            now=now,
            progress=False,
            on_sent=stop_after_six,
            mailers=mailers,
        )
    finally:
        for mailer in mailers:
            mailer.close()
    assert first.unreachable is not None
    assert 6 <= first.sent < 30 and 1 <= first.deferred <= 3  # the messages in hand
    assert statuses(sessions) == {"sent": first.sent, "queued": 30 - first.sent}
    with sessions() as session:  # the rest went back without counting an attempt
        attempts = session.scalars(select(Outbox.attempts).where(Outbox.status == "queued"))
        assert sorted(attempts).count(1) == first.deferred

    smtp.start()
    worker = Worker(
        sessions,
        mail_settings,
        FrozenClock(now + timedelta(days=1)),
        connections=3,
        mirrors=False,
    )
    try:
        worker.drain()
    finally:
        worker.close()
    assert statuses(sessions) == {"sent": 30}
    received = smtp.inbox.messages
    assert {m["To"] for m in received} == set(addresses)
    # A message in hand when the server went may arrive twice, as the same message.
    assert len({m["Message-ID"] for m in received}) == 30


def test_stopping_hands_the_rows_not_taken_back_on_three_connections(
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    event = make_event(start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00")
    add_many(sessions, [f"reader{n:02d}@example.org" for n in range(40)])
    assert announce(sessions, event.id) == 40
    mailers = [sender.Mailer(mail_settings) for _ in range(3)]
    try:
        report = sender.send_batch(
            sessions,
            mail_settings,
            progress=False,
            mailers=mailers,
            stop=lambda: len(smtp.inbox.raw) >= 5,
        )
    finally:
        for mailer in mailers:
            mailer.close()
    # Each message taken before the stop finished; none is left half-done.
    assert 5 <= report.sent <= 5 + 3 and report.deferred == 0
    assert len(smtp.inbox.raw) == report.sent
    assert statuses(sessions) == {"sent": report.sent, "queued": 40 - report.sent}
    with sessions() as session:
        attempts = session.scalars(select(Outbox.attempts).where(Outbox.status == "queued"))
        assert set(attempts) == {0}
