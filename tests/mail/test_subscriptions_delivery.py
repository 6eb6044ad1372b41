"""Subscribing, personal feeds and delivery through a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from events import importer, store
from events.clock import SYSTEM_CLOCK
from events.config import Settings
from events.errors import InvalidRecord
from events.models import Event, Outbox, Series, Subscriber, Subscription
from events.schemas import validate_event
from mail import outbox, sender, subscribers
from server import cli, sample_data_path
from tests.support.mailtools import SmtpServer, calendar_part, csrf, link, path_of, text_part
from web.context import state

FUTURE = (SYSTEM_CLOCK.now() + timedelta(days=30)).strftime("%Y-%m-%d")


def add(sessions: sessionmaker[Session], email: str, zone: str, slug: str = "lisbon-ml") -> None:
    """Add a confirmed subscriber."""
    with sessions() as session, session.begin():
        subscribers.add_confirmed(session, email, [slug], zone, SYSTEM_CLOCK.now())


def announce(sessions: sessionmaker[Session], event_id: str) -> int:
    """Queue the announcement of a talk."""
    with sessions() as session, session.begin():
        return outbox.announce(session, store.get_event(session, event_id), SYSTEM_CLOCK.now())


def drain(sessions: sessionmaker[Session], settings: Settings, **kwargs: object) -> None:
    """Send until nothing is due."""
    for _ in range(20):
        report = sender.send_batch(sessions, settings, progress=False, **kwargs)  # type: ignore[arg-type]
        if not (report.sent or report.skipped or report.retry or report.failed):
            return
    raise AssertionError("the outbox never drained")


def statuses(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Return the number of outbox rows per status."""
    with sessions() as session:
        rows = session.execute(select(Outbox.status, func.count()).group_by(Outbox.status))
        return {status: count for status, count in rows}


def confirm_from(client: FlaskClient, msg_text_link: str) -> None:
    """Follow a confirmation link: GET shows a button, POST confirms."""
    path = path_of(msg_text_link)
    token = csrf(client, path)
    answer = client.post(path, data={"csrf_token": token})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert "Subscription confirmed" in answer.get_data(as_text=True)


def test_done_when_sample_lisbon_series_with_shanghai_subscriber(
    app: Flask,
    client: FlaskClient,
    sessions: sessionmaker[Session],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    importer.import_files(sessions, [sample_data_path()], progress=False)
    form = "/series/lisbon-ml-seminars/subscribe"
    token = csrf(client, form)
    answer = client.post(
        form,
        data={
            "csrf_token": token,
            "email": "reader@example.cn",
            "timezone": "Asia/Shanghai",
            "announcements": "on",
            "digest": "on",
            "reminder_hours": "0",
        },
    )
    assert answer.status_code == 200
    assert "Check your inbox" in answer.get_data(as_text=True)
    drain(sessions, mail_settings)
    [confirmation] = smtp.inbox.messages
    assert (
        confirmation["Subject"] == "Confirm your subscription to Lisbon Machine Learning Seminars"
    )
    confirm_from(client, link(confirmation, "/subscriptions/confirm/"))

    with sessions() as session:
        subscriber = session.scalars(select(Subscriber)).one()
    feed = client.get(f"/s/{subscriber.token}.ics")
    assert feed.status_code == 200
    assert feed.content_type == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(feed.data)
    uids = {str(e["UID"]) for e in calendar.walk("VEVENT")}
    since = SYSTEM_CLOCK.now() - timedelta(days=state(app).settings.feed_window_days)
    with sessions() as session:
        expected = session.scalars(
            select(Event.id)
            .join(Event.series)
            .where(Series.slug == "lisbon-ml-seminars", Event.end_utc >= since)
        ).all()
    assert len(expected) > 10
    assert uids == {f"{event_id}@events.example.org" for event_id in expected}

    with sessions() as session:
        first_future = session.scalars(
            select(Event)
            .where(Event.start_utc > SYSTEM_CLOCK.now(), Event.status != "cancelled")
            .join(Event.series)
            .order_by(Event.start_utc)
        ).first()
        assert first_future is not None
        event_id, start = first_future.id, first_future.start_utc
    assert announce(sessions, event_id) == 1
    drain(sessions, mail_settings)
    announcement = smtp.inbox.messages[-1]
    body = text_part(announcement)
    lisbon = start.astimezone(ZoneInfo("Europe/Lisbon"))
    beijing = start.astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"{lisbon:%H:%M}–" in body and "Lisbon time" in body
    assert f"{beijing:%a %d %b %Y}, {beijing:%H:%M}–" in body and "Beijing time" in body
    assert f"({beijing:%a %d %b %Y}, {beijing:%H:%M} Beijing time)" in announcement["Subject"]
    ics = Calendar.from_ical(calendar_part(announcement).get_content())
    [vevent] = ics.walk("VEVENT")
    assert vevent["DTSTART"].dt == start

    # One-click unsubscribe (RFC 8058) from the header, then nothing more arrives.
    unsubscribe_url = announcement["List-Unsubscribe"].strip("<>")
    assert announcement["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe_url in body
    answer = client.post(path_of(unsubscribe_url), data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    count = len(smtp.inbox.messages)
    with sessions() as session:
        later = session.scalars(
            select(Event.id).where(Event.start_utc > start).order_by(Event.start_utc)
        ).first()
    assert later is not None
    assert announce(sessions, later) == 0
    drain(sessions, mail_settings)
    assert len(smtp.inbox.messages) == count


def test_double_opt_in_sends_nothing_but_the_confirmation(
    client: FlaskClient,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    event = make_event(start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00")
    answer = client.post(
        "/api/v1/subscriptions",
        json={"email": "new@example.org", "series": ["lisbon-ml"], "timezone": "Europe/Paris"},
    )
    assert answer.status_code == 202
    assert announce(sessions, event.id) == 0  # not confirmed: not an audience yet
    with sessions() as session, session.begin():
        assert outbox.queue_reminders(session, SYSTEM_CLOCK.now() + timedelta(days=30)) == 0
    drain(sessions, mail_settings)
    assert [m["Subject"] for m in smtp.inbox.messages] == [
        "Confirm your subscription to Lisbon Machine Learning Seminar"
    ]
    with sessions() as session:
        token = session.scalars(select(Subscriber.token)).one()
    assert client.get(f"/s/{token}.ics").status_code == 404  # no feed before confirming
    confirm_from(client, link(smtp.inbox.messages[0], "/subscriptions/confirm/"))
    assert announce(sessions, event.id) == 1
    assert announce(sessions, event.id) == 0  # never queued twice
    drain(sessions, mail_settings)
    assert len(smtp.inbox.to("new@example.org")) == 2


def test_api_reports_each_bad_field(
    client: FlaskClient, make_series: Callable[..., object]
) -> None:
    make_series()
    answer = client.post(
        "/api/v1/subscriptions",
        json={"email": "not-an-address", "series": ["lisbon-ml"], "timezone": "Mars/Base"},
    )
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.get_json()["errors"]}
    assert fields == {"email"} or "timezone" in fields
    answer = client.post(
        "/api/v1/subscriptions", json={"email": "a@example.org", "series": ["nope"]}
    )
    assert answer.status_code == 422
    assert answer.get_json()["errors"][0]["field"] == "series"


def test_form_without_csrf_token_is_refused(
    client: FlaskClient, make_series: Callable[..., object], sessions: sessionmaker[Session]
) -> None:
    make_series()
    answer = client.post("/series/lisbon-ml/subscribe", data={"email": "a@example.org"})
    assert answer.status_code == 400
    assert statuses(sessions) == {}


def test_new_york_and_shanghai_readers_get_their_own_local_times(
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    event = make_event(
        title="Optimal transport",
        start="2026-12-04 17:00",
        end="2026-12-04 18:00",
        meeting={"platform": "Zoom", "url": "https://zoom.us/j/1", "passcode": "4242"},
    )
    add(sessions, "ny@example.org", "America/New_York")
    add(sessions, "sh@example.cn", "Asia/Shanghai")
    assert announce(sessions, event.id) == 2
    drain(sessions, mail_settings)
    ny = text_part(smtp.inbox.to("ny@example.org")[0])
    sh = text_part(smtp.inbox.to("sh@example.cn")[0])
    lisbon = "Fri 04 Dec 2026, 17:00–18:00 Lisbon time"
    assert f"{lisbon} (12:00–13:00 New York time)" in ny
    assert f"{lisbon} (Sat 05 Dec 2026, 01:00–02:00 Beijing time)" in sh
    assert smtp.inbox.to("ny@example.org")[0]["Subject"].endswith("(12:00 New York time)")
    assert smtp.inbox.to("sh@example.cn")[0]["Subject"].endswith(
        "(Sat 05 Dec 2026, 01:00 Beijing time)"
    )
    for body in (ny, sh):  # subscribers-policy meeting details reach subscribers
        assert "https://zoom.us/j/1" in body and "4242" in body


def test_server_stopped_mid_batch_every_message_arrives_exactly_once(
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    event = make_event(start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00")
    addresses = [f"reader{i}@example.org" for i in range(12)]
    for address in addresses:
        add(sessions, address, "UTC")
    assert announce(sessions, event.id) == 12

    sent_ids: list[int] = []

    def stop_after_four(row_id: int) -> None:
        sent_ids.append(row_id)
        if len(sent_ids) == 4:
            smtp.stop()

    now = SYSTEM_CLOCK.now()
    first = sender.send_batch(
        sessions, mail_settings, now=now, progress=False, on_sent=stop_after_four
    )
    assert first.sent == 4 and first.retry == 1
    assert statuses(sessions) == {"sent": 4, "queued": 8}
    # While the server is down, nothing is lost: the next run fails and backs off.
    down = sender.send_batch(sessions, mail_settings, now=now + timedelta(hours=1), progress=False)
    assert down.sent == 0 and down.retry == 1
    assert statuses(sessions) == {"sent": 4, "queued": 8}

    smtp.start()
    drain(sessions, mail_settings, now=now + timedelta(days=1))
    assert statuses(sessions) == {"sent": 12}
    received = sorted(m["To"] for m in smtp.inbox.messages)
    assert received == sorted(addresses)
    assert len({m["Message-ID"] for m in smtp.inbox.messages}) == 12


def test_crashed_sender_rows_are_sent_again_after_the_lease_with_the_same_message_id(
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    event = make_event(start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00")
    add(sessions, "a@example.org", "UTC")
    announce(sessions, event.id)
    now = SYSTEM_CLOCK.now()
    # A sender claims the row, builds it, and "crashes" right after SMTP accepted it.
    [row_id] = sender.claim(sessions, "crashed:1", 10, now)
    prepared = sender._prepare(sessions, [row_id], "crashed:1", mail_settings)
    recipient, message = prepared[row_id]
    client = sender.connect(mail_settings.smtp_url)
    client.sendmail("noreply@events.example.org", [recipient], message)
    client.quit()
    # Another sender leaves the row alone while the lease lasts ...
    assert sender.claim(sessions, "other:2", 10, now + sender.LEASE / 2) == []
    # ... then sends the same bytes again: at least once, same Message-ID.
    drain(sessions, mail_settings, now=now + sender.LEASE * 2)
    first, second = smtp.inbox.messages
    assert first["Message-ID"] == second["Message-ID"]
    assert statuses(sessions) == {"sent": 1}


def test_two_senders_on_postgresql_never_send_twice(
    engine: Engine,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip(
            "row locks with SKIP LOCKED need PostgreSQL; SQLite serialises writers "
            "(set EVENTFEED_TEST_DATABASE_URL)"
        )
    event = make_event(start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00")
    for i in range(40):
        add(sessions, f"r{i}@example.org", "UTC")
    assert announce(sessions, event.id) == 40
    errors: list[BaseException] = []
    by_worker: dict[str, int] = {}

    def run(name: str) -> None:
        try:
            while True:
                report = sender.send_batch(
                    sessions, mail_settings, batch=3, worker=name, progress=False
                )
                by_worker[name] = by_worker.get(name, 0) + report.sent
                if not report.sent:
                    break
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"sender-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(by_worker.values()) == 40  # shared between the senders, each row once
    assert statuses(sessions) == {"sent": 40}
    assert len(smtp.inbox.messages) == 40
    assert len({m["To"] for m in smtp.inbox.messages}) == 40


def test_rotating_the_token_makes_old_feed_urls_404(
    client: FlaskClient, sessions: sessionmaker[Session], make_event: Callable[..., Event]
) -> None:
    make_event(
        start=f"{FUTURE} 12:00",
        end=f"{FUTURE} 13:00",
        meeting={"platform": "Zoom", "url": "https://zoom.us/j/77", "passcode": "secret-77"},
    )
    make_event(
        start=f"{FUTURE} 14:00",
        end=f"{FUTURE} 15:00",
        meeting={"url": "https://zoom.us/j/88", "passcode": "hidden-88", "access": "hidden"},
    )
    add(sessions, "a@example.org", "Asia/Shanghai")
    with sessions() as session:
        old = session.scalars(select(Subscriber.token)).one()
    feed = client.get(f"/s/{old}.ics")
    assert feed.status_code == 200
    assert len(Calendar.from_ical(feed.data).walk("VEVENT")) == 2
    assert b"secret-77" in feed.data  # subscribers-policy details reach subscribers
    assert b"hidden-88" not in feed.data and b"zoom.us/j/88" not in feed.data
    token = csrf(client, f"/manage/{old}")
    answer = client.post(f"/manage/{old}", data={"csrf_token": token, "action": "rotate"})
    assert answer.status_code == 200
    with sessions() as session:
        new = session.scalars(select(Subscriber.token)).one()
    assert new != old
    for url in (f"/s/{old}.ics", f"/s/{old}.rss", f"/manage/{old}", f"/unsubscribe/{old}"):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/s/{new}.ics").status_code == 200
    rss = client.get(f"/s/{new}.rss")
    assert rss.status_code == 200
    assert rss.headers["Cache-Control"].startswith("private")
    parsed = feedparser.parse(rss.data)
    assert not parsed.bozo
    assert len(parsed.entries) == 2
    assert "secret-77" in rss.get_data(as_text=True)
    assert "hidden-88" not in rss.get_data(as_text=True)


def test_manage_page_changes_zone_and_choices(
    client: FlaskClient, sessions: sessionmaker[Session], make_series: Callable[..., object]
) -> None:
    make_series()
    make_series(slug="other", name="Other seminar")
    add(sessions, "a@example.org", "UTC")
    with sessions() as session:
        token = session.scalars(select(Subscriber.token)).one()
    form = {
        "csrf_token": csrf(client, f"/manage/{token}"),
        "series": ["other"],
        "timezone": "Eastern time",
        "reminder_hours": "3",
        "digest": "on",
    }
    assert client.post(f"/manage/{token}", data=form).status_code == 200
    with sessions() as session:
        subscriber = session.scalars(select(Subscriber)).one()
        assert subscriber.timezone == "America/New_York"
        assert (subscriber.announcements, subscriber.digest) == (False, True)
        assert subscriber.reminder_hours == 3
        assert [s.series.slug for s in subscriber.subscriptions] == ["other"]


def test_change_notice_and_cancellation_of_an_announced_talk(
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    event = make_event(id="moving", start="2026-12-04 17:00", end="2026-12-04 18:00")
    add(sessions, "sh@example.cn", "Asia/Shanghai")
    announce(sessions, event.id)
    drain(sessions, mail_settings)

    def save(**changes: str) -> None:
        data = {"id": "moving", "title": event.title, **changes}
        data.setdefault("start", "2026-12-04 17:00")
        data.setdefault("end", "2026-12-04 18:00")
        with sessions() as session, session.begin():
            series = store.get_series(session, "lisbon-ml")
            record = validate_event(data, store.series_record(series))
            store.upsert_event(session, series, record, SYSTEM_CLOCK.now())

    save(title="Renamed only")  # not material: no email
    save(start="2026-12-10 17:00", end="2026-12-10 18:00")
    # A second change before sending supersedes the first: one notice, from the old time.
    save(start="2026-12-11 17:00", end="2026-12-11 18:00", location="Room 2")
    drain(sessions, mail_settings)
    save(start="2026-12-11 17:00", end="2026-12-11 18:00", location="Room 2", status="cancelled")
    drain(sessions, mail_settings)
    kinds = [m["Subject"].split(":")[0].split(" ")[0] for m in smtp.inbox.messages]
    assert kinds == ["[Lisbon", "Changed", "Cancelled"]
    change = text_part(smtp.inbox.messages[1])
    assert "Was: Fri 04 Dec 2026, 17:00–18:00 Lisbon time (Sat 05 Dec 2026, 01:00–02:00" in change
    assert "Now: Fri 11 Dec 2026, 17:00–18:00 Lisbon time (Sat 12 Dec 2026, 01:00–02:00" in change
    assert "Place now: Room 2" in change
    sequences = [
        int(Calendar.from_ical(calendar_part(m).get_content()).walk("VEVENT")[0]["SEQUENCE"])
        for m in smtp.inbox.messages
    ]
    assert sequences == [0, 2, 3]


def test_auto_announce_series_queue_new_talks_on_import(
    sessions: sessionmaker[Session], write_file: Callable[[str, str], Path]
) -> None:
    doc = """
series:
  - slug: auto
    name: Auto
    timezone: UTC
    auto_announce: true
"""
    importer.import_files(sessions, [write_file("s.yaml", doc)], progress=False)
    add(sessions, "a@example.org", "UTC", slug="auto")
    talks = f"""
events:
  - {{id: t1, series: auto, title: One, start: "{FUTURE} 10:00", end: "11:00"}}
  - {{id: old, series: auto, title: Past, start: "2020-01-01 10:00", end: "11:00"}}
"""
    path = write_file("t.yaml", talks)
    importer.import_files(sessions, [path], progress=False)
    importer.import_files(sessions, [path], progress=False)  # re-import: nothing new
    with sessions() as session:
        rows = session.execute(select(Outbox.kind, Outbox.event_id)).all()
    assert rows == [("announcement", "t1")]


def test_reminders_and_digests_are_queued_once(
    sessions: sessionmaker[Session], make_event: Callable[..., Event]
) -> None:
    event = make_event(start="2026-12-07 12:00", end="2026-12-07 13:00")  # a Monday
    add(sessions, "a@example.org", "Europe/Lisbon")
    monday_morning = event.start_utc - timedelta(hours=5)  # 07:00 in Lisbon
    with sessions() as session, session.begin():
        session.scalars(select(Subscription)).one().frequency = "weekly"
        assert outbox.queue_reminders(session, event.start_utc - timedelta(hours=30)) == 0
        assert outbox.queue_reminders(session, monday_morning) == 1
        assert outbox.queue_reminders(session, monday_morning) == 0
        assert outbox.queue_digests(session, monday_morning) == 1
        assert outbox.queue_digests(session, monday_morning + timedelta(hours=1)) == 0
        assert outbox.queue_digests(session, monday_morning - timedelta(days=2)) == 0  # Saturday


def test_cli_add_import_preview_and_send(
    cli_env: dict[str, str],
    tmp_path: Path,
    make_event: Callable[..., Event],
    smtp: SmtpServer,
) -> None:
    event = make_event(
        title="冷冻电镜原理及相关算法", start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00"
    )
    env = {
        **cli_env,
        "EVENTFEED_SMTP_URL": smtp.url,
        "EVENTFEED_BASE_URL": "https://events.example.org",
    }

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run(
        "subscribers",
        "add",
        "a@example.org",
        "--series",
        "lisbon-ml",
        "--timezone",
        "Beijing time",
        "--language",
        "zh-Hans",
        "--confirmed",
    )
    csv_file = tmp_path / "list.csv"
    csv_file.write_text(
        "email,series,timezone,language\nb@example.org,lisbon-ml,America/New_York,pt-PT\n"
    )
    assert "imported 1 subscriber" in run("subscribers", "import", str(csv_file))
    out = run("announce", event.id, "--preview", str(tmp_path / "eml"))
    assert "wrote 2 .eml" in out
    assert len(list((tmp_path / "eml").glob("*.eml"))) == 2
    run("send")
    assert smtp.inbox.messages == []  # preview queues nothing
    assert "queued 2" in run("announce", event.id)
    run("send")
    assert sorted(m["To"] for m in smtp.inbox.messages) == ["a@example.org", "b@example.org"]
    assert "冷冻电镜原理及相关算法" in smtp.inbox.to("a@example.org")[0]["Subject"]
    # Each in the language given on the command line or in the CSV.
    assert "（里斯本时间）；" in smtp.inbox.to("a@example.org")[0]["Subject"]
    assert "(hora de Lisboa); " in smtp.inbox.to("b@example.org")[0]["Subject"]
    result = CliRunner().invoke(
        cli, ["subscribers", "add", "x@example.org", "--series", "nope", "--confirmed"], env=env
    )
    assert result.exit_code == 1
    assert result.output.strip() == "Error: no series with slug 'nope'"


def test_smtp_login_from_the_url(
    sessions: sessionmaker[Session], make_event: Callable[..., Event], app: Flask
) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    from tests.support.mailtools import Inbox, free_port

    seen: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        seen.append((data.login, data.password))
        return AuthResult(success=True)

    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        event = make_event(start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00")
        add(sessions, "a@example.org", "UTC")
        announce(sessions, event.id)
        base = state(app).settings
        url = f"smtp://mailer%40example.org:p%40ss%20word@127.0.0.1:{port}"
        right = base.model_copy(update={"smtp_url": url})
        drain(sessions, right)
        assert len(inbox.messages) == 1
        assert seen[-1] == (b"mailer@example.org", b"p@ss word")
    finally:
        controller.stop()


@pytest.mark.parametrize(
    "address",
    ["plain", "a@b", "two@@example.org", "ümlaut@example.org", "a b@example.org", "x@exa mple.org"],
)
def test_bad_addresses_are_refused(address: str) -> None:
    with pytest.raises(InvalidRecord):
        subscribers.normalise_email(address)


def test_address_domain_is_lower_cased() -> None:
    assert subscribers.normalise_email(" Ana.Silva+ml@IST.UTL.PT ") == "Ana.Silva+ml@ist.utl.pt"


def test_auto_announce_round_trips_through_export(
    sessions: sessionmaker[Session], write_file: Callable[[str, str], Path]
) -> None:
    from events import exporter

    doc = "series:\n  - {slug: auto, name: Auto, timezone: UTC, auto_announce: true}\n"
    importer.import_files(sessions, [write_file("s.yaml", doc)], progress=False)
    with sessions() as session:
        text = exporter.export_series(session, ["auto"])
    assert "auto_announce: true" in text
    importer.import_files(sessions, [write_file("again.yaml", text)], progress=False)
    with sessions() as session:
        assert store.get_series(session, "auto").auto_announce is True
