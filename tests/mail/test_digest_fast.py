"""Digests through templates (issue 17 "Speed"): the same bytes as `sender.build` makes.

Readers of one talk set, day and zone share a template (`EventEmails.render_built`); each
stored digest is compared with the slow path's message, serialised with its boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events.clock import SYSTEM_CLOCK
from events.models import Event, Outbox, Subscriber
from feeds import email as mail
from mail import outbox, sender, subscribers
from web.context import state

ZONES = ["Asia/Shanghai", "Europe/Lisbon", "America/New_York", "UTC", "Australia/Sydney"]


def with_boundaries_of(msg: EmailMessage, data: bytes) -> bytes:
    """Serialise `msg` with the MIME boundaries of the message bytes `data`, in order."""
    found = re.findall(rb'boundary="([^"]+)"', data)
    multiparts = [part for part in msg.walk() if part.is_multipart()]
    assert len(found) == len(multiparts) >= 1
    for part, boundary in zip(multiparts, found, strict=True):
        part.set_boundary(boundary.decode("ascii"))
    return mail.to_bytes(msg)


def test_digests_from_templates_equal_the_slow_path_and_share_one_per_zone(
    app: Flask,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    event_emails_made: list[mail.EventEmails],
) -> None:
    settings = state(app).settings
    spans = [("2026-12-20 12:00", "2026-12-20 13:00"), ("2026-12-21 23:30", "2026-12-22 01:00")]
    spans.append(("2026-12-22 09:00", "2026-12-22 10:00"))
    talks = [
        make_event(id=f"d{n}", title=f"Talk {n}", start=start, end=end)
        for n, (start, end) in enumerate(spans, 1)
    ]
    addresses = [f"r{n}@example.org" for n in range(10)] + ["o'brien@example.org"]
    now = SYSTEM_CLOCK.now()
    with sessions() as session, session.begin():
        for n, address in enumerate(addresses):
            subscribers.add_confirmed(session, address, ["lisbon-ml"], ZONES[n % 5], now)
        session.flush()
        people = session.scalars(select(Subscriber).order_by(Subscriber.id)).all()
        rows: list[outbox.Row] = [
            (
                "digest",
                f"digest:{person.id}:weekly:2026-W51",
                person,
                None,
                {
                    "frequency": "weekly",
                    "day": "2026-12-14",
                    "event_ids": [t.id for t in talks],
                    "changed": ["d2"] if person.id % 2 else [],
                },
            )
            for person in people
        ]
        assert outbox.queue(session, rows, now) == 11
    ids = sender.claim(sessions, "test:1", 100, now)
    ready = sender._prepare(sessions, ids, "test:1", settings)
    assert len(ready) == 11
    with sessions() as session:
        for row in session.scalars(select(Outbox).where(Outbox.id.in_(ids))):
            assert row.message is not None and ready[row.id] == (row.recipient, row.message)
            stored = message_from_bytes(row.message, policy=policy.default)
            assert stored["Message-ID"] == row.message_id
            envelope = mail.Envelope(settings.mail_from, str(row.message_id), str(stored["Date"]))
            msg = sender.build(session, row, settings, envelope)
            assert msg is not None and row.subject == str(msg["Subject"])
            assert row.message == with_boundaries_of(msg, row.message)
    [emails] = event_emails_made
    assert (emails.fast, emails.slow) == (10, 1)  # the apostrophe takes the slow path
    assert len(emails._templates) == 10  # per zone and changed set (5 x 2)
