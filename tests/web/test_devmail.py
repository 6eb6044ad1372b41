"""The mail viewer: in development and demo mode emails are caught and readable at /dev/mail;
in production every /dev/mail route answers 404 and mail is never caught."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.clock import SYSTEM_CLOCK
from events.config import Settings
from events.errors import ConfigError
from events.models import Event, Outbox
from mail import outbox, sender, subscribers
from tests.support.vnu import NuChecker
from web.context import state


def test_production_has_no_mail_viewer_and_never_catches_mail(app: Flask) -> None:
    client = app.test_client()
    for path in (
        "/dev/mail",
        "/dev/mail/1",
        "/dev/mail/1.html",
        "/dev/mail/1.ics",
        "/dev/mail/1.eml",
    ):
        assert client.get(path).status_code == 404, path
    assert state(app).settings.mail_catch is False
    with pytest.raises(ConfigError, match="MAIL_CATCH is for development and demo"):
        Settings.from_env({}, secret_key="x", mail_catch=True)


def test_development_catches_mail_and_shows_every_part(
    make_app: Callable[..., Flask],
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    html_checker: NuChecker,
) -> None:
    app = make_app(mode="development")
    settings = state(app).settings
    assert settings.mail_catch is True  # no SMTP URL given: nothing leaves the machine
    event = make_event(title="Café <b>talk</b>")
    with sessions() as session, session.begin():
        subscribers.add_confirmed(
            session, "r@example.org", ["lisbon-ml"], "UTC", SYSTEM_CLOCK.now()
        )
        outbox.announce(session, store.get_event(session, event.id), SYSTEM_CLOCK.now())
    report = sender.send_batch(sessions, settings, progress=False)
    assert report.sent == 1 and report.ok  # caught: no server was needed
    with sessions() as session:
        row = session.scalars(select(Outbox)).one()
        assert row.status == "sent" and row.message is not None
    client = app.test_client()
    listing = client.get("/dev/mail")
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    assert "r@example.org" in html and f'href="/dev/mail/{row.id}"' in html
    html_checker.assert_valid(html, "/dev/mail")
    page = client.get(f"/dev/mail/{row.id}")
    shown = page.get_data(as_text=True)
    html_checker.assert_valid(shown, f"/dev/mail/{row.id}")
    assert "Café &lt;b&gt;talk&lt;/b&gt;" in shown  # the text part, escaped
    assert '<a href="https://events.example.org/manage/' in shown  # with working links
    part = client.get(f"/dev/mail/{row.id}.html")
    assert part.content_type == "text/html; charset=utf-8"
    assert part.headers["Content-Security-Policy"].endswith("; sandbox")
    ics = client.get(f"/dev/mail/{row.id}.ics")
    assert ics.status_code == 200 and b"BEGIN:VEVENT" in ics.data
    assert client.get(f"/dev/mail/{row.id}.eml").data == row.message
    assert client.get("/dev/mail/999999").status_code == 404
