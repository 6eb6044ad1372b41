"""Mirrored series against a real local HTTP server serving an Indico-style export.

The export changes between fetches (a talk moved across the DST change, one removed, one
added); conditional GET answers 304 and nothing is rewritten; fetching is refused for
redirects to loopback without the allowance, too-large bodies and non-http URLs; a 500
upstream keeps the last good data and says so.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from events import mirror, store
from events.clock import SYSTEM_CLOCK, FrozenClock
from events.config import Settings
from events.models import Change, Event, Outbox, Series, SeriesMirror
from mail import subscribers
from mail.worker import Worker

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
SLUG = "lisbon-ml"

VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Lisbon
BEGIN:STANDARD
DTSTART:19961027T020000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
TZNAME:WET
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19960331T010000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
TZNAME:WEST
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:GMT Standard Time
BEGIN:STANDARD
DTSTART:16010101T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T010000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
END:DAYLIGHT
END:VTIMEZONE
"""


def vevent(uid: str, title: str, start: str, end: str, zone: str = "Europe/Lisbon") -> str:
    return f"""BEGIN:VEVENT
UID:indico-event-{uid}@indico.example.org
DTSTAMP:20270201T000000Z
SUMMARY:{title}
DTSTART;TZID={zone}:{start}
DTEND;TZID={zone}:{end}
DESCRIPTION:Speaker: see https://indico.example.org/event/{uid}/
LOCATION:Room 6.2.33
URL:https://indico.example.org/event/{uid}/
STATUS:CONFIRMED
END:VEVENT
"""


def export(*events: str) -> bytes:
    """An Indico category export: VTIMEZONEs, then its events (CRLF lines)."""
    text = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//CERN//INDICO//EN\n"
        + VTIMEZONE
        + "".join(events)
        + "END:VCALENDAR\n"
    )
    return text.replace("\n", "\r\n").encode()


# Version 1: three talks; a weekly colloquium (RRULE with an override) is in both versions.
WEEKLY = """BEGIN:VEVENT
UID:indico-event-900@indico.example.org
SUMMARY:Colloquium
DTSTART;TZID=Europe/Lisbon:20270303T150000
DTEND;TZID=Europe/Lisbon:20270303T160000
RRULE:FREQ=WEEKLY;COUNT=3
STATUS:CONFIRMED
END:VEVENT
BEGIN:VEVENT
UID:indico-event-900@indico.example.org
RECURRENCE-ID;TZID=Europe/Lisbon:20270310T150000
SUMMARY:Colloquium (moved)
DTSTART;TZID=Europe/Lisbon:20270311T150000
DTEND;TZID=Europe/Lisbon:20270311T160000
STATUS:CONFIRMED
END:VEVENT
"""
FIRST = export(
    vevent("101", "Moving talk", "20270324T170000", "20270324T180000"),
    vevent("102", "Removed talk", "20270317T170000", "20270317T180000"),
    vevent("103", "Steady talk", "20270407T170000", "20270407T180000"),
    WEEKLY,
)
# Version 2: 101 a week later, across the 28 March DST change (17:00 WET -> 17:00 WEST);
# 102 gone; 104 added, written by Outlook with a Windows zone name.
SECOND = export(
    vevent("101", "Moving talk", "20270331T170000", "20270331T180000"),
    vevent("103", "Steady talk", "20270407T170000", "20270407T180000"),
    vevent("104", "New talk", "20270414T170000", "20270414T180000", "GMT Standard Time"),
    WEEKLY,
)


class Upstream:
    """What the local server answers, and the requests it saw."""

    def __init__(self) -> None:
        self.body = FIRST
        self.status = 200
        self.redirect: str | None = None
        self.requests: list[dict[str, str]] = []

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


def serve(upstream: Upstream, host: str) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  (http.server's name)
            upstream.requests.append({"path": self.path, **dict(self.headers.items())})
            if self.path == "/redirect" and upstream.redirect:
                self.send_response(302)
                self.send_header("Location", upstream.redirect)
                self.end_headers()
                return
            if upstream.status != 200:
                self.send_response(upstream.status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.headers.get("If-None-Match") == upstream.etag:
                self.send_response(304)
                self.send_header("ETag", upstream.etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("ETag", upstream.etag)
            if self.path != "/no-length":
                self.send_header("Content-Length", str(len(upstream.body)))
            self.end_headers()
            self.wfile.write(upstream.body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}"


@pytest.fixture
def upstream() -> Iterator[tuple[Upstream, str]]:
    """A local HTTP server on 127.0.0.1 and its base URL."""
    state = Upstream()
    server, base = serve(state, "127.0.0.1")
    yield state, base
    server.shutdown()
    server.server_close()


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"secret_key": "k", "mirror_allowed_networks": "127.0.0.1/32"}
    return Settings.from_env({}, **{**values, **overrides})


@pytest.fixture
def mirrored(
    sessions: sessionmaker[Session], make_series: Callable[..., Series]
) -> Callable[[str], None]:
    """Make the `lisbon-ml` series (auto-announcing, one subscriber) mirror a URL."""
    make_series(slug=SLUG, auto_announce=True)
    with sessions() as session, session.begin():
        subscribers.add_confirmed(session, "ana@example.org", [SLUG], "UTC", SYSTEM_CLOCK.now())

    def point(url: str) -> None:
        with sessions() as session, session.begin():
            mirror.set_mirror(session, store.get_series(session, SLUG), url, NOW)

    return point


def talks(sessions: sessionmaker[Session]) -> dict[str, Event]:
    with sessions() as session:
        found = session.scalars(select(Event).order_by(Event.id)).all()
        session.expunge_all()
        return {e.id: e for e in found}


def the_mirror(sessions: sessionmaker[Session]) -> SeriesMirror:
    with sessions() as session:
        found = session.scalars(select(SeriesMirror)).one()
        session.expunge(found)
        return found


def mails(sessions: sessionmaker[Session]) -> list[tuple[str, str | None]]:
    with sessions() as session:
        rows = session.execute(select(Outbox.kind, Outbox.event_id).order_by(Outbox.id))
        return [(kind, event_id) for kind, event_id in rows]


def test_changes_upstream_become_edits_with_sequence_cancellations_and_emails(
    sessions: sessionmaker[Session],
    upstream: tuple[Upstream, str],
    mirrored: Callable[[str], None],
) -> None:
    state, base = upstream
    mirrored(base + "/export.ics")
    first = mirror.refresh(sessions, SLUG, settings(), NOW)
    assert first == mirror.Outcome("ok", "6 new, 0 changed, 0 unchanged, 0 cancelled")
    before = talks(sessions)
    assert sorted(before) == [
        "indico-event-101",
        "indico-event-102",
        "indico-event-103",
        "indico-event-900-20270303",
        "indico-event-900-20270310",  # the override keeps its occurrence's id
        "indico-event-900-20270317",
    ]
    assert before["indico-event-101"].start_utc == datetime(2027, 3, 24, 17, 0, tzinfo=UTC)
    announced = {e for kind, e in mails(sessions) if kind == "announcement"}
    assert announced == set(before)
    with sessions() as session, session.begin():  # delivered (a worker would send them)
        session.execute(update(Outbox).values(status="sent", sent_at=NOW))

    state.body = SECOND
    later = NOW + timedelta(hours=1)
    second = mirror.refresh(sessions, SLUG, settings(), later)
    assert second == mirror.Outcome("ok", "1 new, 1 changed, 4 unchanged, 1 cancelled")
    after = talks(sessions)
    moved = after["indico-event-101"]
    assert moved.start_local == "2027-03-31 17:00" and moved.timezone == "Europe/Lisbon"
    assert moved.start_utc == datetime(2027, 3, 31, 16, 0, tzinfo=UTC)  # summer time: UTC+1
    assert moved.sequence == before["indico-event-101"].sequence + 1
    removed = after["indico-event-102"]  # cancelled, not deleted
    assert removed.status == "cancelled"
    assert removed.sequence == before["indico-event-102"].sequence + 1
    steady = after["indico-event-103"]
    assert steady.sequence == before["indico-event-103"].sequence
    assert steady.updated_at == before["indico-event-103"].updated_at
    added = after["indico-event-104"]
    assert added.timezone == "Europe/London"  # Outlook's "GMT Standard Time"
    assert added.start_utc == datetime(2027, 4, 14, 16, 0, tzinfo=UTC)
    new_mail = mails(sessions)[len(announced) :]
    assert ("change", "indico-event-101") in new_mail
    assert ("cancellation", "indico-event-102") in new_mail
    assert ("announcement", "indico-event-104") in new_mail
    assert {e for _, e in new_mail} == {"indico-event-101", "indico-event-102", "indico-event-104"}

    record = the_mirror(sessions)
    assert record.result == "ok" and record.etag == state.etag
    assert record.fetched_at == later and record.good_at == later
    assert record.next_fetch_at == later + timedelta(minutes=60)


def test_not_modified_rewrites_nothing(
    sessions: sessionmaker[Session],
    upstream: tuple[Upstream, str],
    mirrored: Callable[[str], None],
) -> None:
    state, base = upstream
    mirrored(base + "/export.ics")
    mirror.refresh(sessions, SLUG, settings(), NOW)
    before = talks(sessions)
    outbox = mails(sessions)
    with sessions() as session:
        revision = store.get_series(session, SLUG).feed_revision
    later = NOW + timedelta(hours=1)
    outcome = mirror.refresh(sessions, SLUG, settings(), later)
    assert outcome.result == "not modified"
    assert state.requests[-1]["If-None-Match"] == state.etag
    after = talks(sessions)
    assert [(e.id, e.updated_at, e.sequence) for e in after.values()] == [
        (e.id, e.updated_at, e.sequence) for e in before.values()
    ]
    assert mails(sessions) == outbox
    with sessions() as session:
        assert store.get_series(session, SLUG).feed_revision == revision
    record = the_mirror(sessions)
    assert record.result == "not modified" and record.good_at == later


def test_an_upstream_error_keeps_the_last_good_data_and_says_so(
    sessions: sessionmaker[Session],
    upstream: tuple[Upstream, str],
    mirrored: Callable[[str], None],
) -> None:
    state, base = upstream
    mirrored(base + "/export.ics")
    mirror.refresh(sessions, SLUG, settings(), NOW)
    before = talks(sessions)
    state.status = 500
    later = NOW + timedelta(hours=1)
    outcome = mirror.refresh(sessions, SLUG, settings(), later)
    assert outcome.result == "error"
    assert "500" in outcome.message and "last good fetch" in outcome.message
    assert talks(sessions).keys() == before.keys()
    assert all(e.status == "confirmed" for e in talks(sessions).values())
    record = the_mirror(sessions)
    assert record.result == "error" and record.good_at == NOW and record.fetched_at == later
    assert record.next_fetch_at == later + timedelta(minutes=60)
    again = later + timedelta(hours=1)
    mirror.refresh(sessions, SLUG, settings(), again)  # failing again: waits twice as long
    assert the_mirror(sessions).next_fetch_at == again + timedelta(minutes=120)
    state.body = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n"  # broken, served as 200
    state.status = 200
    broken = mirror.refresh(sessions, SLUG, settings(), again)
    assert broken.result == "error" and "nothing was changed" in broken.message
    assert talks(sessions).keys() == before.keys()


def test_a_redirect_to_loopback_is_refused_without_the_allowance(
    sessions: sessionmaker[Session], upstream: tuple[Upstream, str]
) -> None:
    state, base = upstream
    other = Upstream()
    other.redirect = base + "/export.ics"  # 127.0.0.1
    server, front = serve(other, "127.0.0.2")
    try:
        allowed_front = settings(mirror_allowed_networks="127.0.0.2/32")
        with pytest.raises(mirror.FetchError, match=r"resolves to 127\.0\.0\.1.*refused"):
            mirror.fetch(front + "/redirect", mirror.Limits.of(allowed_front))
        assert other.requests and not state.requests  # the first hop was made, not the second
        both = settings(mirror_allowed_networks="127.0.0.1/32, 127.0.0.2/32")
        fetched = mirror.fetch(front + "/redirect", mirror.Limits.of(both))
        assert fetched.status == 200 and fetched.body == FIRST
        with pytest.raises(mirror.FetchError, match="refused"):
            mirror.fetch(base + "/export.ics", mirror.Limits())  # the default: none allowed
        assert len(state.requests) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_bodies_above_the_limit_are_refused(upstream: tuple[Upstream, str]) -> None:
    state, base = upstream
    limits = mirror.Limits.of(settings(mirror_max_bytes=len(FIRST) - 1))
    with pytest.raises(mirror.FetchError, match="larger than"):
        mirror.fetch(base + "/export.ics", limits)  # declared by Content-Length
    with pytest.raises(mirror.FetchError, match="larger than"):
        mirror.fetch(base + "/no-length", limits)  # counted while reading
    exact = mirror.Limits.of(settings(mirror_max_bytes=len(FIRST)))
    assert mirror.fetch(base + "/no-length", exact).body == FIRST


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "only http"),
        ("ftp://example.org/a.ics", "only http"),
        ("http:///nohost", "no host"),
        ("https://example.org/a b.ics", "spaces"),
    ],
)
def test_only_http_urls_can_be_mirrored(url: str, message: str) -> None:
    with pytest.raises(mirror.MirrorError, match=message):
        mirror.check_url(url)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", False),
        ("10.0.0.8", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
    ],
)
def test_only_public_addresses_by_default(address: str, allowed: bool) -> None:
    assert mirror.allowed_address(address, ()) is allowed


def test_the_worker_job_refreshes_due_mirrors_once(
    sessions: sessionmaker[Session],
    upstream: tuple[Upstream, str],
    mirrored: Callable[[str], None],
) -> None:
    state, base = upstream
    mirrored(base + "/export.ics")
    assert mirror.refresh_due(sessions, NOW, settings()) == 1
    assert mirror.refresh_due(sessions, NOW + timedelta(minutes=59), settings()) == 0
    assert len(state.requests) == 1
    assert mirror.refresh_due(sessions, NOW + timedelta(minutes=60), settings()) == 1
    assert len(state.requests) == 2 and the_mirror(sessions).result == "not modified"


def test_eventfeed_worker_runs_the_mirror_job(
    sessions: sessionmaker[Session],
    upstream: tuple[Upstream, str],
    mirrored: Callable[[str], None],
) -> None:
    state, base = upstream
    mirrored(base + "/export.ics")
    worker = Worker(sessions, settings(), FrozenClock(NOW))
    assert [job.name for job in worker.jobs] == [
        "due-mail",
        "digests",
        "announcements",
        "prune",
        "imports",
        "mirror",
    ]
    worker.run_jobs()
    assert len(state.requests) == 1 and the_mirror(sessions).result == "ok"


def test_a_mirror_refresh_is_logged_in_the_history_as_the_mirror(
    sessions: sessionmaker[Session],
    upstream: tuple[Upstream, str],
    mirrored: Callable[[str], None],
) -> None:
    _, base = upstream
    mirrored(base + "/export.ics")
    assert mirror.refresh_due(sessions, NOW, settings()) == 1
    with sessions() as session:
        changes = session.scalars(select(Change).where(Change.entity == "talk")).all()
    assert changes and {c.path for c in changes} == {"mirror"}
    assert all(c.who == f"mirror of {base}/export.ics" for c in changes)
