"""History: every write path logs who, when, which fields; restoring is a logged edit."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import accounts, history, store
from events.clock import FrozenClock
from events.models import Change, Event, Outbox, Series
from tests.support.apiutil import bearer, issue_token
from tests.web.test_organise import (
    csrf,
    make_series_via_form,
    organiser,
    post,
    series_fields,
    signed_in,
    talk_fields,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SLUG = "lisbon-number-theory"
RESTORE = re.compile(r'action="(/organise/[^"]+/history/(\d+)/restore)"')

YAML = """
series:
  - slug: {slug}
    name: Imported Seminar
    timezone: Europe/Lisbon
    events:
      - id: imp-1
        title: {title}
        start: 2026-04-01 10:00
        end: "11:00"
      - id: imp-2
        title: Second
        start: 2026-04-08 10:00
        end: "11:00"
"""


@pytest.fixture
def web(make_app: Callable[..., Flask]) -> Flask:
    """An app on a clock frozen on 1 March 2026."""
    return make_app(clock=FrozenClock(NOW))


def changes(sessions: sessionmaker[Session], entity_id: str) -> list[Change]:
    with sessions() as session:
        query = select(Change).where(Change.entity_id == entity_id).order_by(Change.id)
        return list(session.scalars(query))


def publish_talk(client: FlaskClient, **overrides: str) -> str:
    made = post(
        client,
        f"/organise/series/{SLUG}/talks/new",
        {**talk_fields(**overrides), "action": "publish"},
    )
    assert made.status_code == 302, made.get_data(as_text=True)
    return str(made.headers["Location"]).rsplit("/", 1)[1]


def edit_talk(client: FlaskClient, talk_id: str, **overrides: str) -> Any:
    return post(
        client, f"/organise/talks/{talk_id}", {**talk_fields(**overrides), "action": "save"}
    )


def test_every_write_path_logs_who_when_which_fields_and_path(
    web: Flask,
    sessions: sessionmaker[Session],
    run: Callable[..., Result],
    write_file: Callable[[str, str | bytes], Path],
) -> None:
    first = write_file("a.yaml", YAML.format(slug="imported", title="First"))
    assert run("import", str(first)).exit_code == 0
    (created,) = changes(sessions, "imp-1")
    assert (created.action, created.who, created.path, created.fields) == (
        "created",
        "import via CLI",
        "import",
        {},
    )
    again = write_file("b.yaml", YAML.format(slug="imported", title="First, revised"))
    assert run("import", str(again)).exit_code == 0
    _, updated = changes(sessions, "imp-1")
    assert updated.action == "updated" and updated.path == "import"
    assert updated.fields == {"title": ["First", "First, revised"]}
    assert len(changes(sessions, "imp-2")) == 1  # unchanged: nothing logged

    secret = issue_token(sessions, "imported")
    api = web.test_client()
    etag = api.get("/api/v1/events/imp-1").headers["ETag"]
    answer = api.patch(
        "/api/v1/events/imp-1",
        json={"abstract": "Now with an abstract."},
        headers=bearer(secret, If_Match=etag),
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    by_api = changes(sessions, "imp-1")[-1]
    assert by_api.path == "api" and by_api.who == f"API token {secret[:12]}…"
    assert by_api.fields == {"abstract": ["", "Now with an abstract."]}

    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    talk_id = publish_talk(owner)
    assert edit_talk(owner, talk_id, title="Modular forms, revised").status_code == 302
    made, edited = changes(sessions, talk_id)
    assert (made.action, made.who, made.path) == ("created", "owner@example.org", "browser")
    assert edited.fields == {"title": ["Modular forms in Beijing", "Modular forms, revised"]}
    with sessions() as session:
        series = session.scalar(select(Series).where(Series.slug == SLUG))
        assert series is not None
        (series_made,) = history.changes_of(session, series)
        assert series_made.action == "created" and series_made.path == "browser"


def test_store_level_writes_log_in_the_same_transaction(
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    make_series()
    talk = make_event()
    with sessions() as session:
        try:
            with session.begin():
                found = session.get(Event, talk.id)
                assert found is not None
                found.title = "Changed, then rolled back"
                session.flush()
                assert len(history.changes_of(session, found)) == 2
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
    assert [c.action for c in changes(sessions, talk.id)] == ["created"]
    with sessions() as session, session.begin():
        found = session.get(Event, talk.id)
        assert found is not None
        with history.acting(history.Actor("a mirror", "mirror")):
            found.title = "One"
            session.flush()
            found.abstract = "Two"  # a second flush in one transaction: one row
            session.flush()
        store.delete_event(session, found, seen=found.version)
    logged = changes(sessions, talk.id)
    assert [c.action for c in logged] == ["created", "updated", "deleted"]
    assert set(logged[1].fields) == {"title", "abstract"} and logged[1].path == "mirror"
    assert logged[2].fields["title"] == ["One", None]


def test_history_page_and_restore_is_a_logged_checked_edit(
    web: Flask, sessions: sessionmaker[Session], html_checker: Any
) -> None:
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    talk_id = publish_talk(owner)
    edit_talk(owner, talk_id, title="A worse title", start_time="10:00", end_time="11:00")
    page = owner.get(f"/organise/talks/{talk_id}/history")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    html_checker.assert_valid(html, "talk history")
    assert "Modular forms in Beijing" in html and "A worse title" in html
    assert "2026-03-20 09:30" in html and "2026-03-20 10:00" in html
    targets = RESTORE.findall(html)
    (first_url, first_id) = targets[-1]  # the oldest: the talk as published
    version = shown_version(html)
    token = csrf(owner, f"/organise/talks/{talk_id}/history")
    restored = owner.post(first_url, data={"csrf_token": token, "version": version})
    assert restored.status_code == 302
    with sessions() as session:
        talk = session.get(Event, talk_id)
        assert talk is not None
        assert talk.title == "Modular forms in Beijing" and talk.start_local.endswith("09:30")
        assert talk.sequence == 2  # moved, then moved back: both raise SEQUENCE
        last = history.changes_of(session, talk)[0]
        assert last.action == "restored" and f"#{first_id}" in last.note
        assert last.fields["title"] == ["A worse title", "Modular forms in Beijing"]
    # The same restore over the version the page showed earlier: refused, nothing written.
    stale = owner.post(first_url, data={"csrf_token": token, "version": version})
    assert stale.status_code == 302
    assert "Not restored" in owner.get(stale.headers["Location"]).get_data(as_text=True)
    assert len(changes(sessions, talk_id)) == 3
    # Without the CSRF token: refused.
    assert owner.post(first_url, data={"version": version}).status_code == 400


def test_restoring_series_settings(web: Flask, sessions: sessionmaker[Session]) -> None:
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    settings = f"/organise/series/{SLUG}/settings"
    fields = series_fields(name="Lisbon Number Theory Seminar", slug=SLUG)
    assert post(owner, settings, fields).status_code == 302
    html = owner.get(f"/organise/series/{SLUG}/history").get_data(as_text=True)
    assert "Lisbon Number Theory Seminar" in html
    url, _ = RESTORE.findall(html)[-1]
    version = shown_version(html)
    token = csrf(owner, f"/organise/series/{SLUG}/history")
    assert owner.post(url, data={"csrf_token": token, "version": version}).status_code == 302
    with sessions() as session:
        series = session.scalar(select(Series).where(Series.slug == SLUG))
        assert series is not None and series.name == "Lisbon Number Theory"
        assert history.changes_of(session, series)[0].action == "restored"


def test_history_authorization_matrix(web: Flask, sessions: sessionmaker[Session]) -> None:
    owner_id = organiser(sessions, "owner@example.org")
    owner = signed_in(web, owner_id)
    make_series_via_form(owner)
    talk_id = publish_talk(owner)
    edit_talk(owner, talk_id, title="Second title")
    with sessions() as session, session.begin():
        series = store.get_series(session, SLUG)
        accounts.set_role(session, series, "editor@example.org", "editor", NOW)
    editor_id = accounts_id(sessions, "editor@example.org")
    editor = signed_in(web, editor_id)
    outsider = signed_in(web, organiser(sessions, "other@example.org"))
    make_series_via_form(outsider, name="Porto Algebra", slug="porto-algebra")
    admin = signed_in(web, organiser(sessions, "admin@example.org", admin=True))
    anonymous = web.test_client()
    talk_page = f"/organise/talks/{talk_id}/history"
    series_page = f"/organise/series/{SLUG}/history"
    html = owner.get(talk_page).get_data(as_text=True)
    talk_restore = RESTORE.findall(html)[-1][0]
    series_restore = RESTORE.findall(owner.get(series_page).get_data(as_text=True))[-1][0]

    for url in (talk_page, series_page):
        assert anonymous.get(url).status_code == 302  # to sign-in
        assert outsider.get(url).status_code == 404
        assert editor.get(url).status_code == 200
        assert admin.get(url).status_code == 200
    assert anonymous.post(talk_restore, data={}).status_code in (302, 400)
    token = csrf(outsider, "/organise/series/porto-algebra/history")
    assert outsider.post(talk_restore, data={"csrf_token": token}).status_code == 404
    assert outsider.post(series_restore, data={"csrf_token": token}).status_code == 404
    token = csrf(editor, series_page)
    assert editor.post(series_restore, data={"csrf_token": token}).status_code == 403
    assert (
        "Restore this version"
        not in editor.get(series_page).get_data(as_text=True).split("series settings")[-1]
    )
    version = shown_version(editor.get(talk_page).get_data(as_text=True))
    done = editor.post(talk_restore, data={"csrf_token": token, "version": version})
    assert done.status_code == 302
    assert changes(sessions, talk_id)[-1].who == "editor@example.org"
    # Another series' change id under this talk's address: 404.
    other = changes_of_series(sessions, "porto-algebra")[0]
    wrong = f"/organise/talks/{talk_id}/history/{other}/restore"
    assert owner.post(wrong, data={"csrf_token": csrf(owner, talk_page)}).status_code == 404


def shown_version(html: str) -> str:
    found = re.search(r'name="version" value="([^"]*)"', html)
    assert found
    return unescape(found.group(1))


def accounts_id(sessions: sessionmaker[Session], email: str) -> int:
    with sessions() as session:
        found = accounts.by_email(session, email)
        assert found is not None
        return found.id


def changes_of_series(sessions: sessionmaker[Session], slug: str) -> list[int]:
    with sessions() as session:
        series = store.get_series(session, slug)
        return [c.id for c in history.changes_of(session, series)]


def test_a_restored_talk_queues_change_emails_like_any_edit(
    web: Flask, sessions: sessionmaker[Session]
) -> None:
    from mail import outbox, subscribers

    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    talk_id = publish_talk(owner)
    with sessions() as session, session.begin():
        subscribers.add_confirmed(session, "reader@example.org", [SLUG], "UTC", NOW)
        talk = session.get(Event, talk_id)
        assert talk is not None
        assert outbox.announce(session, talk, NOW) == 1
        for row in session.scalars(select(Outbox)):
            row.status = "sent"  # the reader got the announcement
    edit_talk(owner, talk_id, start_time="11:00", end_time="12:00")
    html = owner.get(f"/organise/talks/{talk_id}/history").get_data(as_text=True)
    url = RESTORE.findall(html)[-1][0]
    version = shown_version(html)
    token = csrf(owner, f"/organise/talks/{talk_id}/history")
    before = outbox_count(sessions)
    assert owner.post(url, data={"csrf_token": token, "version": version}).status_code == 302
    assert before == 1 and outbox_count(sessions) == 2  # the move, then the move back


def outbox_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return len(session.scalars(select(Outbox.id).where(Outbox.kind == "change")).all())
