"""Per-series choices on the management page: how often, reminders, cancellations, pause."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.clock import SYSTEM_CLOCK
from events.config import Settings
from events.db import make_engine, migrate
from events.models import Event, Outbox, Subscriber, Subscription
from events.schemas import validate_event
from mail import outbox, sender, subscribers
from tests.support.mailtools import SmtpServer, csrf


def add(sessions: sessionmaker[Session], email: str, *slugs: str) -> str:
    """Add a confirmed subscriber of `slugs`; return their token."""
    with sessions() as session, session.begin():
        found = subscribers.add_confirmed(session, email, list(slugs), "UTC", SYSTEM_CLOCK.now())
        return found.token


def prefs(sessions: sessionmaker[Session], email: str) -> dict[str, tuple[str, int, bool]]:
    """Return {series slug: (frequency, reminder hours, cancellations)} of a subscriber."""
    with sessions() as session:
        subscriber = session.scalars(select(Subscriber).where(Subscriber.email == email)).one()
        return {
            s.series.slug: (s.frequency, s.reminder_hours, s.cancellations)
            for s in subscriber.subscriptions
        }


def test_migration_copies_subscriber_wide_choices_into_each_subscription(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate(engine, "0013_workspace2")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO series (id, slug, name, description, timezone, organisers, language,"
                " visibility, auto_announce, created_at, updated_at) VALUES (1, 's', 'S', '',"
                " 'UTC', '[]', 'en', 'public', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
        for sid, ann, dig, hours in ((1, 1, 1, 3), (2, 0, 1, 0), (3, 0, 0, 24)):
            conn.execute(
                text(
                    "INSERT INTO subscriber (id, email, timezone, token, announcements, digest,"
                    " reminder_hours, created_at, updated_at) VALUES (:id, :email, 'UTC', :token,"
                    " :ann, :dig, :hours, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                ),
                {
                    "id": sid,
                    "email": f"{sid}@x.org",
                    "token": f"t{sid}",
                    "ann": ann,
                    "dig": dig,
                    "hours": hours,
                },
            )
            conn.execute(
                text(
                    "INSERT INTO subscription (subscriber_id, series_id, created_at)"
                    " VALUES (:id, 1, '2026-01-01 00:00:00')"
                ),
                {"id": sid},
            )
    migrate(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT subscriber_id, frequency, reminder_hours, cancellations FROM subscription"
                " ORDER BY subscriber_id"
            )
        ).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        (1, "announcement", 3, True),
        (2, "weekly", 0, True),
        (3, "none", 24, True),
    ]


def test_manage_page_saves_choices_per_series_without_javascript(
    client: FlaskClient, sessions: sessionmaker[Session], make_series: Callable[..., object]
) -> None:
    make_series()
    make_series(slug="other", name="Other seminar")
    token = add(sessions, "a@example.org", "lisbon-ml", "other")
    page = client.get(f"/manage/{token}").get_data(as_text=True)
    for field in ("frequency-lisbon-ml", "reminder-other", "cancellations-other"):
        assert f'name="{field}"' in page
    assert '<label for="reminder-lisbon-ml">' in page
    form = {
        "csrf_token": csrf(client, f"/manage/{token}"),
        "action": "save",
        "timezone": "Asia/Shanghai",
        "series": ["lisbon-ml", "other"],
        "shown": ["lisbon-ml", "other"],
        "frequency-lisbon-ml": "daily",
        "reminder-lisbon-ml": "1",
        "cancellations-lisbon-ml": "on",
        "frequency-other": "weekly",
        "reminder-other": "0",
    }
    answer = client.post(f"/manage/{token}", data=form)
    assert answer.status_code == 200 and "Saved." in answer.get_data(as_text=True)
    assert prefs(sessions, "a@example.org") == {
        "lisbon-ml": ("daily", 1, True),
        "other": ("weekly", 0, False),
    }
    bad = client.post(f"/manage/{token}", data={**form, "frequency-other": "hourly"})
    assert bad.status_code == 422 and "other frequency" in bad.get_data(as_text=True)
    assert prefs(sessions, "a@example.org")["other"] == ("weekly", 0, False)


def test_leave_one_series_then_pause_and_resume(
    client: FlaskClient,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    make_series: Callable[..., object],
) -> None:
    event = make_event(start="2026-12-20 12:00", end="2026-12-20 13:00")
    make_series(slug="other", name="Other seminar")
    token = add(sessions, "a@example.org", "lisbon-ml", "other")
    with sessions() as session, session.begin():
        assert outbox.announce(session, store.get_event(session, event.id), SYSTEM_CLOCK.now())
    leave = {"csrf_token": csrf(client, f"/manage/{token}"), "action": "leave"}
    answer = client.post(f"/manage/{token}", data={**leave, "leave": "lisbon-ml"})
    assert "You no longer follow Lisbon Machine Learning Seminar" in answer.get_data(as_text=True)
    assert list(prefs(sessions, "a@example.org")) == ["other"]
    with sessions() as session:
        assert session.scalars(select(Outbox.status)).all() == ["skipped"]
    pause = {"csrf_token": leave["csrf_token"], "action": "pause"}
    page = client.post(f"/manage/{token}", data=pause).get_data(as_text=True)
    assert "all emails paused" in page and 'value="resume"' in page
    with sessions() as session, session.begin():
        assert outbox.active_subscribers(session, store.get_series(session, "other").id) == []
    client.post(f"/manage/{token}", data={**pause, "action": "resume"})
    with sessions() as session, session.begin():
        assert len(outbox.active_subscribers(session, store.get_series(session, "other").id)) == 1


def test_announcements_reminders_and_cancellations_follow_each_subscription(
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    event = make_event(id="soon", start="2026-12-20 12:00", end="2026-12-20 13:00")
    for email in ("each@x.org", "digest@x.org", "quiet@x.org"):
        add(sessions, email, "lisbon-ml")
    with sessions() as session, session.begin():
        for subscription in session.scalars(select(Subscription)):
            if subscription.subscriber.email == "digest@x.org":
                subscription.frequency, subscription.reminder_hours = "daily", 1
            if subscription.subscriber.email == "quiet@x.org":
                subscription.cancellations, subscription.reminder_hours = False, 0
        assert outbox.announce(session, store.get_event(session, event.id), SYSTEM_CLOCK.now()) == 2
    sender.send_batch(sessions, mail_settings, progress=False)
    with sessions() as session, session.begin():
        day_before = event.start_utc - timedelta(hours=20)
        assert outbox.queue_reminders(session, day_before) == 1  # each@: 24 h
        assert outbox.queue_reminders(session, event.start_utc - timedelta(minutes=30)) == 1
    with sessions() as session, session.begin():
        series = store.get_series(session, "lisbon-ml")
        data = {
            "id": "soon",
            "title": event.title,
            "start": "2026-12-20 12:00",
            "end": "2026-12-20 13:00",
            "status": "cancelled",
        }
        store.upsert_event(
            session, series, validate_event(data, store.series_record(series)), SYSTEM_CLOCK.now()
        )
    with sessions() as session:
        cancelled = session.scalars(
            select(Outbox.recipient).where(Outbox.kind == "cancellation")
        ).all()
        reminded = session.scalars(select(Outbox.recipient).where(Outbox.kind == "reminder")).all()
    assert cancelled == ["each@x.org"]  # quiet@ hid cancellations; digest@ got no announcement
    assert sorted(reminded) == ["digest@x.org", "each@x.org"]
