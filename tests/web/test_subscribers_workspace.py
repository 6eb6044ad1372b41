"""Subscribers in the workspace: counts per channel and state; owners export the list, logged."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from events import accounts, history, store
from events.clock import FrozenClock
from mail import subscribers
from tests.web.test_organise import csrf, make_series_via_form, organiser, signed_in

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SLUG = "lisbon-number-theory"
PAGE = f"/organise/series/{SLUG}/subscribers"
EXPORT = f"/organise/series/{SLUG}/subscribers.csv"


@pytest.fixture
def web(make_app: Callable[..., Flask]) -> Flask:
    return make_app(clock=FrozenClock(NOW))


def people(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        subscribers.add_confirmed(session, "ana@example.org", [SLUG], "Europe/Lisbon", NOW)
        subscribers.add_confirmed(session, "bo@example.org", [SLUG], "Asia/Shanghai", NOW)
        bounced = subscribers.add_confirmed(session, "gone@example.org", [SLUG], "UTC", NOW)
        subscribers.mark_bounced(session, bounced, "550 no such user", NOW)
        left = subscribers.add_confirmed(session, "left@example.org", [SLUG], "UTC", NOW)
        subscribers.unsubscribe(session, left, NOW)
        choices = subscribers.check_choices(True, True, 24)
        subscribers.subscribe(session, "new@example.org", [SLUG], "UTC", choices, NOW)
        subscribers.add_confirmed(session, "elsewhere@example.org", ["porto-algebra"], "UTC", NOW)


def test_counts_per_channel_and_an_export_that_is_logged(
    web: Flask, sessions: sessionmaker[Session], html_checker: Any
) -> None:
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    make_series_via_form(owner, name="Porto Algebra", slug="porto-algebra")
    people(sessions)
    page = owner.get(PAGE)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    html_checker.assert_valid(html, "subscribers")
    for state, count in (("confirmed", 2), ("pending", 1), ("bounced", 1), ("unsubscribed", 1)):
        assert f'id="count-{state}">{count}<' in html, state
    assert 'id="count-calendar">not tracked<' in html
    exported = owner.post(EXPORT, data={"csrf_token": csrf(owner, PAGE)})
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0] == ["email", "timezone", "subscribed_at", "confirmed_at"]
    assert [r[0] for r in rows[1:]] == ["ana@example.org", "bo@example.org"]
    with sessions() as session:
        series = store.get_series(session, SLUG)
        logged = history.changes_of(session, series)[0]
        assert (logged.action, logged.who, logged.path) == (
            "exported",
            "owner@example.org",
            "browser",
        )
        assert "2 addresses" in logged.note
    assert "email list exported (2 addresses)" in owner.get(
        f"/organise/series/{SLUG}/history"
    ).get_data(as_text=True)


def test_subscribers_authorization_matrix(web: Flask, sessions: sessionmaker[Session]) -> None:
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    with sessions() as session, session.begin():
        series = store.get_series(session, SLUG)
        editor_account = accounts.set_role(session, series, "editor@example.org", "editor", NOW)
        editor_id = editor_account.id
    editor = signed_in(web, editor_id)
    outsider = signed_in(web, organiser(sessions, "other@example.org"))
    make_series_via_form(outsider, name="Porto Algebra", slug="porto-algebra")
    people(sessions)
    admin = signed_in(web, organiser(sessions, "admin@example.org", admin=True))
    anonymous = web.test_client()
    assert anonymous.get(PAGE).status_code == 302
    assert anonymous.post(EXPORT, data={}).status_code in (302, 400)
    assert outsider.get(PAGE).status_code == 404
    token = csrf(outsider, "/organise/series/porto-algebra/subscribers")
    assert outsider.post(EXPORT, data={"csrf_token": token}).status_code == 404
    page = editor.get(PAGE)
    assert page.status_code == 200 and "Export the email list" not in page.get_data(as_text=True)
    assert editor.post(EXPORT, data={"csrf_token": csrf(editor, PAGE)}).status_code == 403
    assert owner.post(EXPORT, data={}).status_code == 400  # no CSRF token
    assert admin.post(EXPORT, data={"csrf_token": csrf(admin, PAGE)}).status_code == 200
    with sessions() as session:
        series = store.get_series(session, SLUG)
        exports = [c for c in history.changes_of(session, series) if c.action == "exported"]
        assert [c.who for c in exports] == ["admin@example.org"]
