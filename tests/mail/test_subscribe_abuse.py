"""The subscribe form used against someone: their address typed by a stranger changes nothing
they have until they confirm, and brings them at most one confirmation email per window.

Delivery goes through a real SMTP server on loopback (aiosmtpd).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events.clock import FrozenClock
from events.config import Settings
from events.models import Event, Outbox, Series, Subscriber
from mail import sender, subscribers
from tests.support.mailtools import SmtpServer, csrf, link, path_of, smtp_settings

VICTIM = "victim@example.org"
START = datetime(2026, 6, 1, 10, 59, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    """The app's clock, 10:59 UTC (a minute before an hour boundary)."""
    return FrozenClock(START)


@pytest.fixture
def site(
    make_app: Callable[..., Flask],
    clock: FrozenClock,
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> Flask:
    """An app on the frozen clock with two series, each with an upcoming talk."""
    make_series(slug="other", name="Other Seminar")
    make_event(series="lisbon-ml", id="ml-talk", start="2026-06-10 12:00", end="2026-06-10 13:00")
    make_event(series="other", id="other-talk", start="2026-06-11 12:00", end="2026-06-11 13:00")
    return make_app(clock=clock)


def post_form(client: FlaskClient, slug: str, email: str, zone: str = "Asia/Tokyo") -> None:
    """Submit a series' subscribe form as a visitor would."""
    form = f"/series/{slug}/subscribe"
    answer = client.post(
        form,
        data={
            "csrf_token": csrf(client, form),
            "email": email,
            "timezone": zone,
            "digest": "on",
            "reminder_hours": "1",
        },
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert "Check your inbox" in answer.get_data(as_text=True)


def deliver(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Send every due email."""
    sender.send_batch(sessions, settings, progress=False, now=datetime.now(UTC) + timedelta(1))


def confirm(client: FlaskClient, url: str) -> None:
    """Follow a confirmation link: GET shows a button, POST confirms."""
    path = path_of(url)
    answer = client.post(path, data={"csrf_token": csrf(client, path)})
    assert "Subscription confirmed" in answer.get_data(as_text=True)


def victim(sessions: sessionmaker[Session]) -> Subscriber:
    """Return the victim's subscriber row with its subscriptions loaded."""
    with sessions() as session:
        found = session.scalars(select(Subscriber).where(Subscriber.email == VICTIM)).one()
        for subscription in found.subscriptions:
            session.refresh(subscription, ["series"])
        session.expunge_all()
        return found


def confirmed_series(subscriber: Subscriber) -> dict[str, bool]:
    """Return {series slug: confirmed?} of a subscriber."""
    return {s.series.slug: s.confirmed_at is not None for s in subscriber.subscriptions}


def feed_uids(client: FlaskClient, token: str) -> set[str] | int:
    """Return the UIDs of a personal calendar feed, or its status when it is not 200."""
    answer = client.get(f"/s/{token}.ics")
    if answer.status_code != 200:
        return answer.status_code
    text = answer.get_data(as_text=True)
    return {line.split(":", 1)[1].split("@")[0] for line in text.splitlines() if line[:4] == "UID:"}


def test_a_strangers_request_for_an_unsubscribed_address_changes_nothing(
    site: Flask, sessions: sessionmaker[Session], smtp: SmtpServer, clock: FrozenClock
) -> None:
    """Someone who stopped the emails but kept the calendar keeps it, confirmed, unsubscribed."""
    client = site.test_client()
    settings = smtp_settings(site, smtp)
    with sessions() as session, session.begin():
        subscribers.add_confirmed(session, VICTIM, ["lisbon-ml"], "Europe/Lisbon", clock.now())
    before = victim(sessions)
    answer = client.post(f"/unsubscribe/{before.token}")
    assert answer.status_code == 200
    assert feed_uids(client, before.token) == {"ml-talk"}

    clock.advance(timedelta(minutes=5))
    post_form(client, "other", VICTIM)  # a stranger, with a zone and choices of their own

    after = victim(sessions)
    assert after.confirmed_at == before.confirmed_at is not None
    assert after.unsubscribed_at is not None  # still no emails but the confirmation
    assert (after.timezone, after.reminder_hours) == ("Europe/Lisbon", 24)
    assert confirmed_series(after) == {"lisbon-ml": True, "other": False}
    assert feed_uids(client, after.token) == {"ml-talk"}  # the calendar keeps working

    deliver(sessions, settings)
    [confirmation] = smtp.inbox.to(VICTIM)
    assert confirmation["Subject"] == "Confirm your subscription to Other Seminar"
    confirm(client, link(confirmation, "/subscriptions/confirm/"))  # the owner says yes
    final = victim(sessions)
    assert final.unsubscribed_at is None
    assert confirmed_series(final) == {"lisbon-ml": True, "other": True}
    assert feed_uids(client, final.token) == {"ml-talk", "other-talk"}


def test_a_strangers_request_for_a_confirmed_address_waits_for_its_owner(
    site: Flask, sessions: sessionmaker[Session], smtp: SmtpServer, clock: FrozenClock
) -> None:
    """Confirmed subscriptions stay confirmed; the requested series waits, unticked."""
    client = site.test_client()
    with sessions() as session, session.begin():
        subscribers.add_confirmed(session, VICTIM, ["lisbon-ml"], "Europe/Lisbon", clock.now())
    post_form(client, "lisbon-ml", VICTIM)
    post_form(client, "other", VICTIM)
    after = victim(sessions)
    assert confirmed_series(after) == {"lisbon-ml": True, "other": False}
    assert after.timezone == "Europe/Lisbon"
    assert feed_uids(client, after.token) == {"ml-talk"}
    # The management page does not tick the requested series, so saving it confirms nothing.
    page = client.get(f"/manage/{after.token}").get_data(as_text=True)
    assert 'value="other" >' in page and "requested, not confirmed" in page
    answer = client.post(
        f"/manage/{after.token}",
        data={
            "csrf_token": csrf(client, f"/manage/{after.token}"),
            "series": ["lisbon-ml"],
            "timezone": "Europe/Lisbon",
            "announcements": "on",
            "reminder_hours": "24",
        },
    )
    assert answer.status_code == 200
    assert confirmed_series(victim(sessions)) == {"lisbon-ml": True}


def test_at_most_one_confirmation_email_per_address_per_window(
    site: Flask, sessions: sessionmaker[Session], smtp: SmtpServer, clock: FrozenClock
) -> None:
    """Posting the form again and again, across an hour boundary, mails the address once an
    hour at most, and three times a day at most."""
    client = site.test_client()
    settings = smtp_settings(site, smtp)
    post_form(client, "lisbon-ml", VICTIM)  # 10:59
    clock.advance(timedelta(minutes=2))
    post_form(client, "lisbon-ml", VICTIM)  # 11:01: another clock hour, within the hour
    post_form(client, "other", VICTIM)
    deliver(sessions, settings)
    assert len(smtp.inbox.to(VICTIM)) == 1
    for _ in range(6):  # every 61 minutes for six hours: only two more
        clock.advance(timedelta(minutes=61))
        post_form(client, "lisbon-ml", VICTIM)
    deliver(sessions, settings)
    assert len(smtp.inbox.to(VICTIM)) == 3
    clock.advance(timedelta(hours=20))  # a day after the first
    post_form(client, "lisbon-ml", VICTIM)
    deliver(sessions, settings)
    assert len(smtp.inbox.to(VICTIM)) == 4
    with sessions() as session:
        assert session.scalars(select(Outbox.kind)).all() == ["confirmation"] * 4
