"""Email subscriptions to a topic (issue 19): the topic page offers them, the same double
opt-in and management page as a series, and a reader who follows a talk both through its
series and through its topic gets one email about it, not two."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.clock import SYSTEM_CLOCK
from events.config import Settings
from events.models import Event, Outbox, Series, Subscriber
from mail import outbox, sender, subscribers
from tests.support.mailtools import SmtpServer, csrf, link, path_of
from tests.support.topical import add_math_topics, day


@pytest.fixture
def content(
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    """Mathematics › Analysis of PDEs: a PDE seminar on it, and one talk of another series."""
    with sessions() as session, session.begin():
        add_math_topics(session)
    make_series(slug="pde", name="PDE seminar", topics=["math-ap"])
    make_series(slug="other", name="Other seminar", timezone="Asia/Shanghai")
    make_event(series="other", id="o2", title="Unrelated talk", start=day(4), end="13:00")


def deliver(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Send everything queued."""
    report = sender.send_batch(sessions, settings, progress=False)
    assert report.ok, report.summary()


def test_topic_page_offers_emails_and_subscribing_works_like_a_series(
    client: FlaskClient,
    content: None,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    page = client.get("/topics/math").get_data(as_text=True)
    assert 'href="/topics/math/subscribe"' in page and "Get emails" in page
    form_page = client.get("/topics/math/subscribe").get_data(as_text=True)
    assert "Get emails about Mathematics" in form_page
    assert '<label for="reminder_hours">' in form_page and 'name="frequency"' in form_page
    assert client.get("/topics/nope/subscribe").status_code == 404
    form = {
        "csrf_token": csrf(client, "/topics/math/subscribe"),
        "email": "reader@example.org",
        "timezone": "Europe/Lisbon",
        "frequency": "announcement",
        "reminder_hours": "0",
    }
    bad = client.post("/topics/math/subscribe", data={**form, "frequency": "hourly"})
    assert bad.status_code == 422
    assert client.post("/topics/math/subscribe", data=form).status_code == 200
    deliver(sessions, mail_settings)
    (confirmation,) = smtp.inbox.messages
    assert "Topic: Mathematics" in str(confirmation["Subject"])
    confirm_url = path_of(link(confirmation, "/subscriptions/confirm/"))
    answer = client.post(confirm_url, data={"csrf_token": csrf(client, confirm_url)})
    assert answer.status_code == 200
    manage = answer.get_data(as_text=True)
    assert "Topic: Mathematics" in manage and 'name="frequency-topic:math"' in manage
    # A new talk of a series on a subtopic is announced to the topic's reader.
    event = make_event(
        series="pde", id="p1", title="Viscosity solutions", start=day(2), end="13:00"
    )
    with sessions() as session, session.begin():
        assert outbox.announce(session, store.get_event(session, event.id), SYSTEM_CLOCK.now())
        unrelated = store.get_event(session, "o2")
        assert outbox.announce(session, unrelated, SYSTEM_CLOCK.now()) == 0
    deliver(sessions, mail_settings)
    assert "Viscosity solutions" in str(smtp.inbox.messages[-1]["Subject"])


def test_one_email_per_talk_for_a_reader_of_both_its_series_and_its_topic(
    client: FlaskClient,
    content: None,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
) -> None:
    now = SYSTEM_CLOCK.now()
    with sessions() as session, session.begin():
        both = subscribers.add_confirmed(session, "both@example.org", ["pde"], "UTC", now)
        subscribers.add_confirmed(session, "both@example.org", ["topic:math-ap"], "UTC", now)
        subscribers.add_confirmed(session, "topic@example.org", ["topic:math"], "UTC", now)
        token = both.token
    event = make_event(
        series="pde", id="p1", title="Viscosity solutions", start=day(2), end="13:00"
    )
    with sessions() as session, session.begin():
        assert outbox.announce(session, store.get_event(session, event.id), now) == 2
        assert outbox.queue_reminders(session, event.start_utc - timedelta(hours=1)) == 2
    with sessions() as session:
        rows = session.execute(select(Outbox.kind, Outbox.recipient)).all()
    assert sorted(rows) == [
        ("announcement", "both@example.org"),
        ("announcement", "topic@example.org"),
        ("reminder", "both@example.org"),
        ("reminder", "topic@example.org"),
    ]
    # The management page lists the series and the topic, each with its own choices.
    page = client.get(f"/manage/{token}").get_data(as_text=True)
    assert 'name="frequency-pde"' in page and 'name="frequency-topic:math-ap"' in page
    leave = {"csrf_token": csrf(client, f"/manage/{token}"), "action": "leave"}
    answer = client.post(f"/manage/{token}", data={**leave, "leave": "topic:math-ap"})
    assert "You no longer follow Topic: Analysis of PDEs" in answer.get_data(as_text=True)
    with sessions() as session:
        subscriber = session.scalars(
            select(Subscriber).where(Subscriber.email == "both@example.org")
        ).one()
        assert [s.key for s in subscriber.subscriptions] == ["pde"]


def test_a_topic_digest_leaves_out_talks_announced_through_the_series(
    content: None,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
) -> None:
    now = SYSTEM_CLOCK.now()
    with sessions() as session, session.begin():
        reader = subscribers.add_confirmed(session, "r@example.org", ["pde"], "UTC", now)
        subscribers.add_confirmed(session, "r@example.org", ["topic:math"], "UTC", now)
        for subscription in reader.subscriptions:
            if subscription.topic_id is not None:
                subscription.frequency = "daily"
    announced = make_event(series="pde", id="p1", title="Announced", start=day(2), end="13:00")
    make_event(
        series="other", id="o1", title="On topic", start=day(3), end="13:00", topics=["math-ap"]
    )
    with sessions() as session, session.begin():
        outbox.announce(session, store.get_event(session, announced.id), now)
        seven = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        assert outbox.queue_digests(session, seven + timedelta(hours=7)) == 1
        digest = session.scalars(select(Outbox).where(Outbox.kind == "digest")).one()
        assert digest.payload["event_ids"] == ["o1"]
