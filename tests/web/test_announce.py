"""Announce a talk: the exact email in two zones, sent as previewed, delivery counts, access."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import accounts, store
from events.clock import FrozenClock
from events.models import Outbox, ScheduledAnnouncement, Series, Subscriber
from mail import sender, subscribers
from mail.worker import Worker
from tests.support.mailtools import SmtpServer, text_part
from tests.web.test_history import publish_talk
from tests.web.test_organise import (
    csrf,
    make_series_via_form,
    organiser,
    signed_in,
    talk_fields,
)
from web.context import state
from web.organise.announce import PREVIEW_ADDRESS

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SLUG = "lisbon-number-theory"


@pytest.fixture
def web(make_app: Callable[..., Flask]) -> Flask:
    return make_app(clock=FrozenClock(NOW))


def readers(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        subscribers.add_confirmed(session, "ana@example.org", [SLUG], "Europe/Lisbon", NOW)
        subscribers.add_confirmed(session, "bo@example.org", [SLUG], "Asia/Shanghai", NOW)
        subscribers.add_confirmed(session, "gone@example.org", [SLUG], "UTC", NOW)


def shown(html: str, what: str, index: int) -> str:
    found = re.search(rf'id="{what}-{index}">(.*?)</', html, re.S)
    assert found, (what, index)
    return unescape(found.group(1))


def counts(html: str) -> dict[str, int]:
    return {
        s: int(re.search(rf'id="count-{s}">(\d+)<', html).group(1))  # type: ignore[union-attr]
        for s in ("queued", "sent", "deferred", "bounced")
    }


def personal(text: str, sessions: sessionmaker[Session], address: str) -> str:
    """Return text with a subscriber's personal tokens and address as the preview's."""
    with sessions() as session:
        token = session.scalars(select(Subscriber.token).where(Subscriber.email == address)).one()
    return text.replace(token, "preview").replace(address, PREVIEW_ADDRESS)


def test_preview_in_two_zones_then_send_delivers_what_was_previewed(
    web: Flask, sessions: sessionmaker[Session], smtp: SmtpServer, html_checker: Any
) -> None:
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    talk_id = publish_talk(owner)
    readers(sessions)
    path = f"/organise/talks/{talk_id}/announce"
    assert f'href="{path}"' in owner.get(f"/organise/talks/{talk_id}").get_data(as_text=True)
    page = owner.get(path, query_string={"zone": "Asia/Shanghai"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    html_checker.assert_valid(html, "announce")
    assert '<label for="zone">' in html and "<script>" not in html
    assert "A subscriber in Europe/Lisbon (the series’ zone)" in html
    assert "A subscriber in Asia/Shanghai" in html
    lisbon, shanghai = shown(html, "text", 1), shown(html, "text", 2)
    assert lisbon != shanghai and "01:30" in lisbon and "09:30" in shanghai
    part = owner.get(f"{path}/email.html", query_string={"zone": "Asia/Shanghai"})
    assert part.status_code == 200 and "Modular forms in Beijing" in part.get_data(as_text=True)
    policy = part.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy and "script" not in policy
    assert counts(html) == {"queued": 0, "sent": 0, "deferred": 0, "bounced": 0}

    sent = owner.post(path, data={"csrf_token": csrf(owner, path)})
    assert sent.status_code == 302
    assert counts(owner.get(path).get_data(as_text=True))["queued"] == 3
    again = owner.post(path, data={"csrf_token": csrf(owner, path)})
    assert again.status_code == 302
    assert "Queued for 0 subscribers" in owner.get(path).get_data(as_text=True)

    smtp.inbox.refuse_rcpt = {"gone@example.org": "550 5.1.1 no such user"}
    settings = state(web).settings.model_copy(update={"smtp_url": smtp.url})
    report = sender.send_batch(sessions, settings, now=NOW, progress=False)
    assert (report.sent, report.bounced) == (2, 1)
    for address, index in (("ana@example.org", 1), ("bo@example.org", 2)):
        (delivered,) = smtp.inbox.to(address)
        assert str(delivered["Subject"]) == shown(html, "subject", index)
        assert personal(text_part(delivered), sessions, address) == shown(html, "text", index)
    after = owner.get(path).get_data(as_text=True)
    assert counts(after) == {"queued": 0, "sent": 2, "deferred": 0, "bounced": 1}
    polled = owner.get(f"{path}/status.json")
    assert polled.get_json() == {"queued": 0, "sent": 2, "deferred": 0, "bounced": 1}


def test_an_unknown_zone_is_a_field_error(web: Flask, sessions: sessionmaker[Session]) -> None:
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    talk_id = publish_talk(owner)
    page = owner.get(f"/organise/talks/{talk_id}/announce", query_string={"zone": "Mars/Base"})
    assert page.status_code == 400
    assert 'id="zone-error"' in page.get_data(as_text=True)


def test_announce_authorization_matrix(web: Flask, sessions: sessionmaker[Session]) -> None:
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    talk_id = publish_talk(owner)
    with sessions() as session, session.begin():
        series = store.get_series(session, SLUG)
        editor_id = accounts.set_role(session, series, "editor@example.org", "editor", NOW).id
    readers(sessions)
    editor = signed_in(web, editor_id)
    outsider = signed_in(web, organiser(sessions, "other@example.org"))
    make_series_via_form(outsider, name="Porto Algebra", slug="porto-algebra")
    admin = signed_in(web, organiser(sessions, "admin@example.org", admin=True))
    anonymous = web.test_client()
    path = f"/organise/talks/{talk_id}/announce"
    routes = [path, f"{path}/email.html", f"{path}/status.json"]
    for route in routes:
        assert anonymous.get(route).status_code == 302, route
        assert outsider.get(route).status_code == 404, route
        assert owner.get(route).status_code == 200, route
        assert admin.get(route).status_code == 200, route
        assert owner.get(route.replace(talk_id, "no-such-talk")).status_code == 404, route
    token = csrf(outsider, "/organise/series/porto-algebra")
    assert outsider.post(path, data={"csrf_token": token}).status_code == 404
    scheduling = {"csrf_token": token, "lead": "7"}
    assert outsider.post(f"{path}/schedule", data=scheduling).status_code == 404
    assert owner.post(f"{path}/schedule", data={"lead": "7"}).status_code == 400
    assert anonymous.post(f"{path}/schedule", data={}).status_code in (302, 400)
    assert anonymous.post(path, data={}).status_code in (302, 400)
    assert owner.post(path, data={}).status_code == 400  # no CSRF token
    assert counts(owner.get(path).get_data(as_text=True))["queued"] == 0
    assert editor.get(path).status_code == 200
    assert editor.post(path, data={"csrf_token": csrf(editor, path)}).status_code == 302
    assert counts(owner.get(path).get_data(as_text=True))["queued"] == 3
    assert admin.post(path, data={"csrf_token": csrf(admin, path)}).status_code == 302


def test_a_draft_is_not_announced(web: Flask, sessions: sessionmaker[Session]) -> None:
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    made = owner.post(
        f"/organise/series/{SLUG}/talks/new",
        data={
            "csrf_token": csrf(owner, f"/organise/series/{SLUG}/talks/new"),
            **talk_fields(),
            "action": "save",
        },
    )
    assert made.status_code == 302
    draft = str(made.headers["Location"]).rsplit("/", 1)[1]
    assert owner.get(f"/organise/talks/{draft}/announce").status_code == 404


def test_a_scheduled_announcement_is_queued_once_at_its_moment(
    web: Flask, sessions: sessionmaker[Session]
) -> None:
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    talk_id = publish_talk(owner)  # 2026-03-20 09:30 Beijing = 01:30 UTC
    readers(sessions)
    path = f"/organise/talks/{talk_id}/announce"
    scheduled = owner.post(f"{path}/schedule", data={"csrf_token": csrf(owner, path), "lead": "7"})
    assert scheduled.status_code == 302
    html = owner.get(path).get_data(as_text=True)
    assert "Scheduled 7 days before the start: Fri 13 Mar 2026, 01:30 UTC." in html
    due = datetime(2026, 3, 13, 1, 30, tzinfo=UTC)
    settings = state(web).settings
    workers = [Worker(sessions, settings, FrozenClock(due - timedelta(minutes=1))) for _ in "ab"]
    for worker in workers:
        worker.jobs = [j for j in worker.jobs if j.name == "announcements"]
        worker.run_jobs()
    assert counts(owner.get(path).get_data(as_text=True))["queued"] == 0
    for worker in workers:  # both workers at the due moment: queued once
        worker.clock = FrozenClock(due)
        worker.jobs[0].last = None
        worker.run_jobs()
    with sessions() as session:
        rows = session.scalars(select(Outbox).where(Outbox.event_id == talk_id)).all()
        assert sorted(r.recipient for r in rows) == [
            "ana@example.org",
            "bo@example.org",
            "gone@example.org",
        ]
        planned = session.get(ScheduledAnnouncement, talk_id)
        assert planned is not None and planned.queued_at == due
    assert "was queued Fri 13 Mar 2026, 01:30 UTC" in owner.get(path).get_data(as_text=True)


def test_a_cancelled_schedule_queues_nothing(web: Flask, sessions: sessionmaker[Session]) -> None:
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    talk_id = publish_talk(owner)
    readers(sessions)
    path = f"/organise/talks/{talk_id}/announce"
    owner.post(f"{path}/schedule", data={"csrf_token": csrf(owner, path), "lead": "1"})
    assert "Scheduled 1 day before" in owner.get(path).get_data(as_text=True)
    cancelled = owner.post(
        f"{path}/schedule", data={"csrf_token": csrf(owner, path), "action": "cancel"}
    )
    assert cancelled.status_code == 302
    assert "Scheduled 1 day" not in owner.get(path).get_data(as_text=True)
    worker = Worker(sessions, state(web).settings, FrozenClock(datetime(2026, 3, 30, tzinfo=UTC)))
    worker.jobs = [j for j in worker.jobs if j.name == "announcements"]
    worker.run_jobs()
    with sessions() as session:
        assert session.scalars(select(Outbox).where(Outbox.event_id == talk_id)).all() == []


def test_a_series_default_lead_schedules_each_new_talk(
    web: Flask, sessions: sessionmaker[Session], run: Callable[..., Any]
) -> None:
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    made = make_series_via_form(owner, announce_lead="7")
    assert made.status_code == 302, made.get_data(as_text=True)
    settings_page = owner.get(f"/organise/series/{SLUG}/settings").get_data(as_text=True)
    assert '<option selected value="7">' in settings_page
    talk_id = publish_talk(owner)  # 2026-03-20 09:30 Beijing = 01:30 UTC
    with sessions() as session:
        planned = session.get(ScheduledAnnouncement, talk_id)
        assert planned is not None and planned.lead_days == 7
        assert planned.due_at == datetime(2026, 3, 13, 1, 30, tzinfo=UTC)
        assert planned.created_by == "series default"
    html = owner.get(f"/organise/talks/{talk_id}/announce").get_data(as_text=True)
    assert "Schedule 7 days before (series default)" in html
    assert html.index("Schedule 7 days") < html.index("Schedule 1 day")
    # the export carries the default, so an import sets it again
    exported = run("export", SLUG)
    assert exported.exit_code == 0 and "announce_lead: 7" in exported.output


def test_a_bad_default_lead_is_a_field_error(web: Flask, sessions: sessionmaker[Session]) -> None:
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    made = make_series_via_form(owner, announce_lead="3")
    assert made.status_code == 422
    with sessions() as session:
        assert session.scalars(select(Series).where(Series.slug == SLUG)).first() is None


def test_preview_in_the_subscribers_languages(
    web: Flask, sessions: sessionmaker[Session], smtp: SmtpServer
) -> None:
    """The preview starts in the language most readers have; any other can be chosen; the
    Portuguese reader is sent exactly the Portuguese preview."""
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    talk_id = publish_talk(owner)
    with sessions() as session, session.begin():
        for address, language in (
            ("ana@example.org", "pt-PT"),
            ("rui@example.org", "pt-PT"),
            ("bo@example.org", "zh-Hans"),
        ):
            subscribers.add_confirmed(session, address, [SLUG], "Europe/Lisbon", NOW, language)
    path = f"/organise/talks/{talk_id}/announce"
    html = owner.get(path).get_data(as_text=True)
    assert '<option value="pt-PT" selected>Português (2 subscribers)</option>' in html
    assert "中文 (1 subscriber)" in html and "English (0 subscribers)" in html
    assert 'lang="pt-PT" id="subject-1"' in html
    subject, text = shown(html, "subject", 1), shown(html, "text", 1)
    assert "(hora de Lisboa)" in subject, subject
    chinese = owner.get(path, query_string={"language": "zh-Hans"}).get_data(as_text=True)
    assert "时间" in shown(chinese, "subject", 1)
    part = owner.get(f"{path}/email.html", query_string={"zone": "UTC", "language": "zh_Hans"})
    assert '<html lang="zh-Hans">' in part.get_data(as_text=True)
    english = owner.get(path, query_string={"language": "en"}).get_data(as_text=True)
    assert "(hora de Lisboa)" not in shown(english, "subject", 1)
    tabs = owner.get(path, query_string={"lang": "pt"}).get_data(as_text=True)
    assert "Português (2 subscritores)" in tabs and "中文 (1 subscritor)" in tabs

    assert owner.post(path, data={"csrf_token": csrf(owner, path)}).status_code == 302
    settings = state(web).settings.model_copy(update={"smtp_url": smtp.url})
    assert sender.send_batch(sessions, settings, now=NOW, progress=False).sent == 3
    (delivered,) = smtp.inbox.to("ana@example.org")
    assert str(delivered["Subject"]) == subject
    assert personal(text_part(delivered), sessions, "ana@example.org") == text
