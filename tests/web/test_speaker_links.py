"""Speakers' links: a secret per talk lets the speaker fix title, abstract, affiliation, links."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import accounts, history, store
from events.clock import FrozenClock
from events.models import Change, Event, Outbox, SpeakerLink
from tests.web.test_history import publish_talk, shown_version
from tests.web.test_organise import (
    csrf,
    make_series_via_form,
    organiser,
    post,
    signed_in,
    talk_fields,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SLUG = "lisbon-number-theory"
LINK = re.compile(r'id="speaker-url"[^>]*value="https?://[^/"]+(/speaker/[A-Za-z0-9_-]+)"')


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def web(make_app: Callable[..., Flask], clock: FrozenClock) -> Flask:
    return make_app(clock=clock)


def make_link(client: FlaskClient, talk_id: str, days: str = "30") -> str:
    made = post(client, f"/organise/talks/{talk_id}/speaker-link", {"days": days})
    assert made.status_code == 200, made.get_data(as_text=True)
    found = LINK.search(made.get_data(as_text=True))
    assert found
    return found.group(1)


def speaker_form(speaker: FlaskClient, path: str, **changes: str) -> dict[str, str]:
    html = speaker.get(path).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    fields = {
        "csrf_token": token.group(1),
        "version": shown_version(html),
        "title": unescape(re.search(r'id="title"[^>]*value="([^"]*)"', html).group(1)),  # type: ignore[union-attr]
        "abstract": "On $q$-series.",
        "affiliation-0": "Peking University",
        "slides": "",
        "recording": "",
        "livestream": "",
    }
    return {**fields, **changes}


def setup_talk(web: Flask, sessions: sessionmaker[Session]) -> tuple[FlaskClient, str]:
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    with sessions() as session, session.begin():
        series = store.get_series(session, SLUG)
        accounts.set_role(session, series, "editor@example.org", "editor", NOW)
    return owner, publish_talk(owner)


def test_speaker_fixes_their_talk_organisers_are_told_and_can_revert(
    web: Flask, sessions: sessionmaker[Session], html_checker: Any
) -> None:
    owner, talk_id = setup_talk(web, sessions)
    path = make_link(owner, talk_id)
    secret = path.rsplit("/", 1)[1]
    with sessions() as session:
        stored = session.get(SpeakerLink, talk_id)
        assert (
            stored is not None
            and stored.secret_hash != secret
            and secret not in str([stored.secret_hash, stored.created_by])
        )
    page_again = owner.get(f"/organise/talks/{talk_id}/speaker-link").get_data(as_text=True)
    assert secret not in page_again and "A link is active" in page_again

    speaker = web.test_client()
    page = speaker.get(path)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    html = page.get_data(as_text=True)
    html_checker.assert_valid(html, "speaker page")
    for label in (
        "Title",
        "Abstract",
        "Affiliation of Wang Yu",
        "Slides link",
        "Video (recording) link",
    ):
        assert re.search(rf'<label for="[^"]+">{re.escape(label)}', html), label
    assert 'name="start' not in html and "meeting" not in html.lower().split("<form")[1]
    saved = speaker.post(
        path,
        data=speaker_form(
            speaker,
            path,
            title="Modular forms and q-series",
            **{"affiliation-0": "BICMR, Peking University"},
            slides="https://example.org/slides.pdf",
        ),
    )
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert "Saved. Thank you!" in saved.get_data(as_text=True)
    with sessions() as session:
        talk = session.get(Event, talk_id)
        assert talk is not None and talk.title == "Modular forms and q-series"
        assert talk.speakers[0]["affiliation"] == "BICMR, Peking University"
        assert talk.slides == "https://example.org/slides.pdf"
        last = history.changes_of(session, talk)[0]
        assert last.path == "speaker" and last.who == "speaker link (Wang Yu)"
        assert set(last.fields) == {"title", "speakers", "slides"}
        notices = session.scalars(select(Outbox).where(Outbox.kind == "notice")).all()
        assert sorted(n.recipient for n in notices) == ["editor@example.org", "owner@example.org"]
        assert notices[0].message is not None
        text = notices[0].message.decode()
        assert "Modular forms and q-series" in text and f"/organise/talks/{talk_id}/history" in text
    # The organisers revert it from the history.
    history_page = owner.get(f"/organise/talks/{talk_id}/history").get_data(as_text=True)
    assert "through speaker link" in history_page
    restore = re.findall(r'action="(/organise/talks/[^"]+/restore)"', history_page)[1]
    token = csrf(owner, f"/organise/talks/{talk_id}/history")
    done = owner.post(restore, data={"csrf_token": token, "version": shown_version(history_page)})
    assert done.status_code == 302
    with sessions() as session:
        talk = session.get(Event, talk_id)
        assert talk is not None and talk.title == "Modular forms in Beijing" and talk.slides is None


def test_a_forged_start_time_or_meeting_is_refused_and_nothing_is_written(
    web: Flask, sessions: sessionmaker[Session]
) -> None:
    owner, talk_id = setup_talk(web, sessions)
    path = make_link(owner, talk_id)
    speaker = web.test_client()
    for forged in (
        {"start": "2026-03-20 09:00"},  # valid on its own: only the speaker rule refuses it
        {"start_time": "15:00"},
        {"meeting_url": "https://evil.example/"},
        {"affiliation-5": "Nowhere"},
        {"status": "cancelled"},
    ):
        answer = speaker.post(path, data=speaker_form(speaker, path, title="Sneaky", **forged))
        assert answer.status_code == 422, forged
        assert "cannot change this" in answer.get_data(as_text=True)
    with sessions() as session:
        talk = session.get(Event, talk_id)
        assert talk is not None and talk.title == "Modular forms in Beijing"
        assert talk.start_local.endswith("09:30") and talk.version == 1
        assert not session.scalars(select(Change).where(Change.path == "speaker")).all()
        assert not session.scalars(select(Outbox).where(Outbox.kind == "notice")).all()


def test_expired_rotated_and_revoked_links_stop_working(
    web: Flask, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    owner, talk_id = setup_talk(web, sessions)
    first = make_link(owner, talk_id, days="7")
    speaker = web.test_client()
    assert speaker.get(first).status_code == 200
    second = make_link(owner, talk_id)  # rotated: the first stops working
    assert speaker.get(first).status_code == 404
    assert speaker.get(second).status_code == 200
    clock.advance(timedelta(days=31))
    gone = speaker.get(second)
    assert gone.status_code == 410 and "expired" in gone.get_data(as_text=True)
    clock.advance(timedelta(days=-31))
    form = speaker_form(speaker, second, title="Late")
    clock.advance(timedelta(days=31))
    assert speaker.post(second, data=form).status_code == 410  # expired between GET and POST
    clock.advance(timedelta(days=-31))
    revoke = f"/organise/talks/{talk_id}/speaker-link/revoke"
    assert (
        post(owner, revoke, {}, form_url=f"/organise/talks/{talk_id}/speaker-link").status_code
        == 302
    )
    assert speaker.get(second).status_code == 404
    assert speaker.get("/speaker/not-a-real-secret").status_code == 404


def test_speaker_link_authorization_matrix(web: Flask, sessions: sessionmaker[Session]) -> None:
    owner, talk_id = setup_talk(web, sessions)
    manage = f"/organise/talks/{talk_id}/speaker-link"
    revoke = f"{manage}/revoke"
    anonymous = web.test_client()
    assert anonymous.get(manage).status_code == 302
    assert anonymous.post(manage, data={"days": "30"}).status_code in (302, 400)
    outsider = signed_in(web, organiser(sessions, "other@example.org"))
    make_series_via_form(outsider, name="Porto Algebra", slug="porto-algebra")
    token = csrf(outsider, "/organise/series/porto-algebra")
    assert outsider.get(manage).status_code == 404
    assert outsider.post(manage, data={"csrf_token": token, "days": "30"}).status_code == 404
    assert outsider.post(revoke, data={"csrf_token": token}).status_code == 404
    editor = signed_in(web, accounts_id(sessions, "editor@example.org"))
    assert editor.get(manage).status_code == 200
    assert make_link(editor, talk_id).startswith("/speaker/")
    admin = signed_in(web, organiser(sessions, "admin@example.org", admin=True))
    assert admin.get(manage).status_code == 200
    assert owner.post(manage, data={"days": "30"}).status_code == 400  # no CSRF token
    assert post(owner, manage, {"days": "365"}).status_code == 400  # not a choice
    # A draft has no speaker link.
    draft = post(
        owner,
        f"/organise/series/{SLUG}/talks/new",
        {**talk_fields(), "action": "save"},
    )
    draft_id = draft.headers["Location"].rsplit("/", 1)[1]
    assert owner.get(f"/organise/talks/{draft_id}/speaker-link").status_code == 404


def accounts_id(sessions: sessionmaker[Session], email: str) -> int:
    with sessions() as session:
        found = accounts.by_email(session, email)
        assert found is not None
        return found.id


def test_the_organisers_notice_is_delivered_over_smtp(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    from mail import sender
    from tests.support.mailtools import SmtpServer, text_part
    from web.context import state

    smtp = SmtpServer()
    smtp.start()
    try:
        web = make_app(clock=clock, smtp_url=smtp.url, mail_from="EventFeed <noreply@example.org>")
        owner, talk_id = setup_talk(web, sessions)
        path = make_link(owner, talk_id)
        speaker = web.test_client()
        form = speaker_form(speaker, path, title="A better title")
        assert speaker.post(path, data=form).status_code == 200
        report = sender.send_batch(sessions, state(web).settings, progress=False)
        assert report.sent == 2, report.errors
        (message,) = smtp.inbox.to("owner@example.org")
        assert message["Subject"] == "Speaker update: A better title"
        body = text_part(message)
        assert "Title: Modular forms in Beijing → A better title" in body
        assert f"/organise/talks/{talk_id}/history" in body
    finally:
        smtp.stop()


def test_the_organisers_notice_speaks_each_organisers_language(
    web: Flask, sessions: sessionmaker[Session]
) -> None:
    """The owner signs in from a Portuguese page (their sign-in email is Portuguese); the
    editor switches the workspace to Chinese: each gets the speaker's notice in that language."""
    from tests.web.test_organise import sent_links

    owner, talk_id = setup_talk(web, sessions)
    browser = web.test_client()
    browser.set_cookie("lang", "pt-PT")
    post(browser, "/login", {"email": "owner@example.org"})
    with sessions() as session:
        signin = session.scalars(
            select(Outbox).where(Outbox.kind == "signin", Outbox.recipient == "owner@example.org")
        ).one()
        assert signin.subject == "A sua ligação de entrada no EventFeed"
    (link,) = sent_links(sessions, "owner@example.org")
    assert browser.get(link).status_code == 302
    editor = signed_in(web, accounts_id(sessions, "editor@example.org"))
    assert "报告" in editor.get("/organise?lang=zh-Hans").get_data(as_text=True)
    with sessions() as session:
        languages = {
            email: accounts.by_email(session, email).language  # type: ignore[union-attr]
            for email in ("owner@example.org", "editor@example.org")
        }
    assert languages == {"owner@example.org": "pt_PT", "editor@example.org": "zh_Hans"}

    path = make_link(owner, talk_id)
    speaker = web.test_client()
    assert (
        speaker.post(path, data=speaker_form(speaker, path, title="Formas modulares")).status_code
        == 200
    )
    with sessions() as session:
        notices = {
            n.recipient: n for n in session.scalars(select(Outbox).where(Outbox.kind == "notice"))
        }
    pt, zh = notices["owner@example.org"], notices["editor@example.org"]
    assert pt.subject == "Alteração do orador: Formas modulares"
    assert zh.subject == "报告人修改：Formas modulares"
    assert pt.message is not None and zh.message is not None
    from email import message_from_bytes, policy

    pt_text = message_from_bytes(pt.message, policy=policy.default).get_body().get_content()  # type: ignore[union-attr]
    zh_text = message_from_bytes(zh.message, policy=policy.default).get_body().get_content()  # type: ignore[union-attr]
    assert "alterou-a através da sua ligação de orador" in pt_text
    assert "Título: Modular forms in Beijing → Formas modulares" in pt_text
    assert "通过报告人链接修改了以下内容" in zh_text
    assert "- 标题：Modular forms in Beijing → Formas modulares" in zh_text
    assert f"/organise/talks/{talk_id}/history" in zh_text
