"""The access policy `revealed`: meeting details reach subscribers N minutes before the start.

With the injected clock before and after the reveal moment: the passcode (and the link and
ID it covers) is in no page, feed or email before; after it, in the reminder (real SMTP on
loopback) and the personal .ics and RSS — never in public pages, series feeds or the API,
and a personal feed stored before the reveal is not served after it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from events.clock import FrozenClock
from events.models import Event, Series
from mail import sender, subscribers
from tests.support.mailtools import SmtpServer, calendar_part, html_part, text_part
from web.context import state

START = datetime(2026, 3, 10, 1, 30, tzinfo=UTC)  # 09:30 Beijing time
BEFORE = START - timedelta(minutes=45)  # the 1-hour reminder is due; details not yet
AFTER = START - timedelta(minutes=20)  # revealed 30 minutes before the start
PASSCODE = "974114"
SECRETS = (PASSCODE, "meeting.tencent.com/dm/reveal-me", "329744341")
MEETING = {
    "platform": "Tencent Meeting",
    "url": "https://meeting.tencent.com/dm/reveal-me",
    "id": "329744341",
    "passcode": PASSCODE,
    "access": "revealed",
    "reveal_minutes": 30,
}


@pytest.fixture
def clock() -> FrozenClock:
    """The app's clock, 45 minutes before the talk."""
    return FrozenClock(BEFORE)


@pytest.fixture
def site(
    make_app: Callable[..., Flask],
    clock: FrozenClock,
    smtp: SmtpServer,
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
    sessions: sessionmaker[Session],
) -> tuple[Flask, str]:
    """A Beijing series whose meeting is revealed 30 minutes before; one follower."""
    app = make_app(clock=clock, smtp_url=smtp.url)
    make_series(slug="bj", name="Joint ML", timezone="Beijing time", meeting=MEETING)
    make_event(series="bj", id="bj-talk", start="2026-03-10 09:30", end="2026-03-10 11:30")
    with sessions() as session, session.begin():
        follower = subscribers.add_confirmed(
            session, "li@example.org", ["bj"], "Asia/Shanghai", BEFORE
        )
        session.flush()
        for subscription in follower.subscriptions:
            subscription.reminder_hours = 1
        token = follower.token
    return app, token


def public_bodies(client: FlaskClient) -> dict[str, str]:
    """Every public output that shows the talk."""
    return {
        url: client.get(url).get_data(as_text=True)
        for url in (
            "/events/bj-talk",
            "/series/bj",
            "/series/bj.ics",
            "/series/bj.rss",
            "/series/bj.atom",
            "/series/bj.json",
            "/events/bj-talk.ics",
            "/calendar.ics",
            "/api/v1/events/bj-talk",
        )
    }


def personal(client: FlaskClient, token: str) -> dict[str, str]:
    """The follower's personal feeds."""
    return {fmt: client.get(f"/s/{token}.{fmt}").get_data(as_text=True) for fmt in ("ics", "rss")}


def mail_texts(smtp: SmtpServer) -> list[str]:
    """Text, HTML and calendar parts of each reminder received, in order."""
    return [
        text_part(m) + html_part(m) + calendar_part(m).get_content()
        for m in smtp.inbox.to("li@example.org")
    ]


def send(sessions: sessionmaker[Session], app: Flask, now: datetime) -> int:
    """Queue the due reminders at `now` and send them to the SMTP server; return the count."""
    queued = sender.queue_due(sessions, now)
    report = sender.send_batch(sessions, state(app).settings, progress=False, now=now)
    assert report.sent == queued, report.errors
    return queued


def test_details_are_withheld_before_and_reach_subscribers_after_the_reveal(
    site: tuple[Flask, str],
    clock: FrozenClock,
    smtp: SmtpServer,
    sessions: sessionmaker[Session],
) -> None:
    app, token = site
    client = app.test_client()
    # Before: nowhere — public, personal (stored now, so a stale copy would show later), mail.
    for url, body in public_bodies(client).items():
        assert not any(s in body for s in SECRETS), url
    assert "30 minutes before the start" in client.get("/events/bj-talk").get_data(as_text=True)
    early = personal(client, token)
    etag = client.get(f"/s/{token}.ics").headers["ETag"]
    for fmt, body in early.items():
        assert not any(s in body for s in SECRETS), fmt
        assert "30 minutes before the start" in body.replace("\r\n ", ""), fmt
    assert send(sessions, app, BEFORE) == 1
    (reminder,) = mail_texts(smtp)
    assert not any(s in reminder for s in SECRETS)
    assert "30 minutes before the start" in reminder

    # After the reveal moment: the personal feeds (not their stored pre-reveal copies) and
    # a second reminder carry the details; public output still does not.
    clock.advance(AFTER - BEFORE)
    late = personal(client, token)
    assert client.get(f"/s/{token}.ics").headers["ETag"] != etag
    for fmt, body in late.items():
        unfolded = body.replace("\r\n ", "")
        assert all(s in unfolded for s in SECRETS), fmt
    for url, body in public_bodies(client).items():
        assert not any(s in body for s in SECRETS), url
    assert send(sessions, app, AFTER) == 1
    first, second = mail_texts(smtp)
    assert all(s in second.replace("\r\n ", "") for s in SECRETS)
    assert not any(s in first for s in SECRETS)
    assert send(sessions, app, AFTER + timedelta(minutes=1)) == 0  # once


def test_a_reminder_due_after_the_reveal_carries_the_details_once(
    site: tuple[Flask, str],
    clock: FrozenClock,
    smtp: SmtpServer,
    sessions: sessionmaker[Session],
) -> None:
    app, _ = site
    with sessions() as session, session.begin():
        found = subscribers.add_confirmed(session, "li@example.org", ["bj"], None, BEFORE)
        session.flush()
        for subscription in found.subscriptions:
            subscription.reminder_hours = 0  # reminders are chosen per followed series
        late = subscribers.add_confirmed(session, "wu@example.org", ["bj"], None, BEFORE)
        session.flush()
        for subscription in late.subscriptions:
            subscription.reminder_hours = 1
    # Reminders of 1 hour would be due at 00:30; at 01:10 the first pass sends one reminder,
    # already past the reveal: it carries the details and no second one follows.
    assert send(sessions, app, AFTER) == 1
    (message,) = smtp.inbox.to("wu@example.org")
    assert PASSCODE in text_part(message)
    assert send(sessions, app, AFTER + timedelta(minutes=5)) == 0
