"""The email fast path (`feeds.email.EventEmails`) writes the same bytes as the slow path.

Messages made from one template share its random MIME boundaries, so each comparison
serialises the slow path's message with the boundaries of the fast one (by construction,
not by rewriting bytes) and then demands byte equality.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import escape
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.clock import SYSTEM_CLOCK
from events.config import Settings
from events.models import Event, Outbox
from feeds import email as mail
from feeds.links import Links
from mail import outbox, sender, subscribers
from tests.support.mailtools import html_part, text_part
from web.context import state

ZONES = ["Asia/Shanghai", "Europe/Lisbon", "America/New_York", "UTC", "Australia/Sydney"]
MAIL_FROM = "EventFeed <noreply@events.example.org>"
SETTINGS = Settings.from_env({}, base_url="https://events.example.org", secret_key="x")
PREVIOUS = {
    "start_utc": "2026-12-04T01:30:00+00:00",
    "end_utc": "2026-12-04T03:30:00+00:00",
    "location": {"room": "Room 2"},
    "status": "tentative",
}
ABSTRACT = (
    "We explain cryo-EM and the $\\infty$-Laplacian $\\Delta_\\infty u = 0$ on "
    "$\\Omega \\subset \\mathbb{R}^n$.\n\n"
    "Then $$\\int_0^1 f(x)\\,dx$$ and *more* (joint work, 2026)."
)


@pytest.fixture
def talk(make_event: Callable[..., Event]) -> Event:
    """A Beijing-time talk with a Chinese title, a subscribers-only meeting and LaTeX."""
    return make_event(
        id="2026-12-05-wang",
        series="ml-joint",
        title="冷冻电镜原理及相关算法",
        speakers=[{"name": "王宇航", "affiliation": "北京深势科技有限公司"}],
        timezone="Asia/Shanghai",
        start="2026-12-05 09:30",
        end="2026-12-05 11:30",
        location="Online",
        meeting={
            "platform": "Tencent Meeting",
            "url": "https://meeting.tencent.com/dm/abc",
            "id": "329744341",
            "passcode": "974114",
            "access": "subscribers",
        },
        abstract=ABSTRACT,
    )


def reader(n: int, zone: str, calendar: bool, **overrides: str) -> mail.Reader:
    """Return reader number `n` with their own links; keyword arguments override."""
    token = f"tok{n}-" + "x" * 30
    values: dict[str, Any] = {
        "email": f"reader.{n}+seminars@example{n % 3}.org",
        "timezone": zone,
        "manage_url": f"https://events.example.org/manage/{token}",
        "unsubscribe_url": f"https://events.example.org/unsubscribe/{token}",
        "calendar_url": f"https://events.example.org/s/{token}.ics" if calendar else None,
    }
    return mail.Reader(**{**values, **overrides})


def with_boundaries_of(msg: EmailMessage, data: bytes) -> bytes:
    """Serialise `msg` with the MIME boundaries of the message bytes `data`, in order."""
    found = re.findall(rb'boundary="([^"]+)"', data)
    multiparts = [part for part in msg.walk() if part.is_multipart()]
    assert len(found) == len(multiparts) == 2
    for part, boundary in zip(multiparts, found, strict=True):
        part.set_boundary(boundary.decode("ascii"))
    return mail.to_bytes(msg)


def both(
    emails: mail.EventEmails,
    kind: str,
    event: Event,
    who: mail.Reader,
    envelope: mail.Envelope,
    **kwargs: Any,
) -> tuple[bytes, bytes, str]:
    """Return (fast bytes, slow bytes with the same boundaries, fast subject)."""
    arguments: dict[str, Any] = {
        "event_url": f"https://events.example.org/events/{event.id}",
        "ics": sender.event_calendar(event, event.series, SETTINGS),
        "previous": PREVIOUS if kind == "change" else None,
        **kwargs,
    }
    fast, subject = emails.render(kind, event, event.series, who, envelope, **arguments)  # type: ignore[arg-type]
    slow = mail.event_email(kind, event, event.series, who, envelope, **arguments)  # type: ignore[arg-type]
    assert subject == str(slow["Subject"])
    return fast, with_boundaries_of(slow, fast), subject


def parse(data: bytes) -> EmailMessage:
    """Parse message bytes as a receiving mail system would."""
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize("kind", ["announcement", "change", "cancellation", "reminder"])
def test_fast_path_bytes_equal_the_slow_path_in_every_zone_with_and_without_calendar(
    kind: str, talk: Event
) -> None:
    if kind == "cancellation":
        talk.status = "cancelled"
    emails = mail.EventEmails()
    readers = [
        reader(n, zone, calendar)
        for zone in ZONES
        for calendar in (True, False)
        for n in range(3 * len(ZONES) * (1 + calendar), 3 * len(ZONES) * (1 + calendar) + 3)
    ]
    outputs = set()
    for who in readers:
        envelope = mail.Envelope.new(MAIL_FROM, "events.example.org")
        fast, slow, _ = both(emails, kind, talk, who, envelope)
        assert fast == slow, who
        outputs.add(fast)
    assert (emails.fast, emails.slow) == (len(readers), 0)
    assert len(outputs) == len(readers)  # every reader gets their own message
    one = parse(fast)
    assert one["To"] == readers[-1].email
    assert readers[-1].manage_url in text_part(one) and readers[-1].manage_url in html_part(one)


def test_one_template_per_zone_and_calendar_link_serves_many_readers(talk: Event) -> None:
    emails = mail.EventEmails()
    for n in range(40):
        who = reader(n, ZONES[n % 5], calendar=n % 2 == 0)
        fast, slow, subject = both(
            emails, "announcement", talk, who, mail.Envelope.new(MAIL_FROM, "example.org")
        )
        assert fast == slow
    assert emails.fast == 40
    assert len(emails._templates) == 10  # 5 zones, with and without a calendar link
    assert "Sat 05 Dec 2026" in subject or "Fri 04 Dec 2026" in subject


def test_one_cache_keeps_kinds_talks_and_previous_values_apart(
    talk: Event, make_event: Callable[..., Event]
) -> None:
    other = make_event(series="ml-joint", title="Sheaves", location="Room 5", abstract="$H^1$")
    previous_values = [None, PREVIOUS, {"location": {"room": "Room 9"}}, {"meeting": None}]
    emails = mail.EventEmails()
    messages = set()
    for n in range(3):
        for event in (talk, other):
            for kind in ("announcement", "change", "reminder"):
                for previous in previous_values if kind == "change" else [None]:
                    who = reader(n, ZONES[n], True)
                    envelope = mail.Envelope.new(MAIL_FROM, "x")
                    fast, slow, _ = both(emails, kind, event, who, envelope, previous=previous)
                    assert fast == slow, (event.id, kind, previous)
                    messages.add(fast)
    assert emails.fast == len(messages) == 3 * 2 * 6
    assert len(emails._templates) == 3 * 2 * 6
    # Edited in place (same calendar argument): a new template, not a stale one.
    for title in ("Sheaves", "Sheaves, revised"):
        other.title = title
        envelope = mail.Envelope.new(MAIL_FROM, "x")
        fast, slow, subject = both(emails, "reminder", other, who, envelope, ics=None)
        assert fast == slow and f"] {title} —" in subject


@pytest.mark.parametrize(
    "overrides",
    [
        {"email": "ü@例え.jp"},
        {"email": "o'brien@example.org"},
        {"email": "reader@example.org "},
        {"manage_url": "https://events.example.org/manage?token=abc&lang=pt"},
        {"unsubscribe_url": "https://events.example.org/unsubscribe/a b"},
        {"unsubscribe_url": "https://events.example.org/u/=?utf-8?q?x?="},
        {"calendar_url": 'https://events.example.org/s/"quoted".ics'},
        {"calendar_url": "https://events.example.org/s/<x>.ics"},
        {"calendar_url": "https://events.example.org/s/" + "y" * 300 + ".ics"},
        {"manage_url": "https://events.example.org/ação"},
    ],
)
def test_readers_with_values_that_are_not_plain_take_the_slow_path(
    overrides: dict[str, str], talk: Event
) -> None:
    emails = mail.EventEmails()
    plain = reader(1, "Europe/Lisbon", True)
    odd = reader(2, "Europe/Lisbon", True, **overrides)
    for who in (plain, odd, plain):
        fast, slow, _ = both(emails, "announcement", talk, who, mail.Envelope.new(MAIL_FROM, "x"))
        assert fast == slow
    assert (emails.fast, emails.slow) == (2, 1)
    odd_message = parse(
        both(emails, "announcement", talk, odd, mail.Envelope.new(MAIL_FROM, "x"))[0]
    )
    links = [odd.manage_url, odd.unsubscribe_url, odd.calendar_url or ""]
    for url in links:
        assert url in text_part(odd_message)
        assert escape(url) in html_part(odd_message)


def test_non_ascii_address_and_ampersand_link_read_back_correctly(talk: Event) -> None:
    emails = mail.EventEmails()
    manage = "https://events.example.org/manage?token=abc&lang=pt"
    who = reader(3, "Asia/Shanghai", True, email="ü@例え.jp", manage_url=manage)
    data, subject = emails.render(
        "reminder",
        talk,
        talk.series,
        who,
        mail.Envelope.new(MAIL_FROM, "events.example.org"),
        event_url="https://events.example.org/events/x",
        ics=None,
    )
    assert emails.slow == 1
    received = parse(data)
    assert received["To"] == "ü@例え.jp"
    assert received["Subject"] == subject
    assert f"Manage your subscription: {manage}" in text_part(received)
    assert 'href="https://events.example.org/manage?token=abc&amp;lang=pt"' in html_part(received)


def test_plain_links_with_unusual_punctuation_are_filled_verbatim(talk: Event) -> None:
    emails = mail.EventEmails()
    odd = "https://events.example.org/m/(a),b;c:[d]\\e%20f=g?h~!#$*+|{}^`@/" + "z" * 40
    who = reader(4, "America/New_York", True, manage_url=odd, unsubscribe_url=odd + "u")
    fast, slow, _ = both(emails, "change", talk, who, mail.Envelope.new(MAIL_FROM, "x"))
    assert emails.fast == 1
    assert fast == slow
    assert f"List-Unsubscribe: <{odd}u>\r\n".encode() in fast


def test_a_long_abstract_line_keeps_every_reader_on_the_slow_path(
    make_event: Callable[..., Event],
) -> None:
    event = make_event(abstract="Long " + "word " * 250)  # one line over 998 octets
    emails = mail.EventEmails()
    for n, zone in enumerate(ZONES):
        fast, slow, _ = both(
            emails, "announcement", event, reader(n, zone, True), mail.Envelope.new(MAIL_FROM, "x")
        )
        assert fast == slow
    assert b"Content-Transfer-Encoding: quoted-printable" in fast
    assert (emails.fast, emails.slow) == (0, len(ZONES))


def test_links_that_push_a_line_over_998_octets_fall_back_exactly_at_the_limit(
    talk: Event,
) -> None:
    emails = mail.EventEmails()
    seen: dict[int, bool] = {}  # widest content line → filled from the template
    for length in range(150, 300):
        who = reader(
            length,
            "UTC",
            True,
            manage_url="https://events.example.org/manage/" + "m" * length,
            unsubscribe_url="https://events.example.org/unsubscribe/" + "u" * 60,
            calendar_url="https://events.example.org/s/" + "c" * 60,
        )
        before = emails.fast
        fast, slow, _ = both(emails, "announcement", talk, who, mail.Envelope.new(MAIL_FROM, "x"))
        assert fast == slow
        received = parse(fast)
        content = text_part(received) + html_part(received)
        seen[max(len(line.encode()) for line in content.splitlines())] = emails.fast > before
    # Fast exactly while every content line fits in 998 octets (7bit/8bit), slow beyond;
    # the widest line (HTML links, each twice) grows by two octets per character.
    assert seen[mail.MAX_LINE] is True and seen[mail.MAX_LINE + 2] is False
    assert all(fast == (widest <= mail.MAX_LINE) for widest, fast in seen.items())


def subscribe(sessions: sessionmaker[Session], email: str, zone: str) -> None:
    """Add a confirmed subscriber of the talk's series."""
    with sessions() as session, session.begin():
        subscribers.add_confirmed(session, email, ["ml-joint"], zone, SYSTEM_CLOCK.now())


def slow_twin(row: Outbox, session: Session, settings: Settings) -> bytes:
    """Return what `sender.build` makes of a stored row with its Message-ID and Date."""
    assert row.message is not None
    stored = parse(row.message)
    envelope = mail.Envelope(settings.mail_from, str(row.message_id), str(stored["Date"]))
    msg = sender.build(session, row, settings, envelope)
    assert msg is not None
    assert row.subject == str(msg["Subject"])
    return with_boundaries_of(msg, row.message)


def test_sender_stores_the_bytes_subject_and_message_id_of_the_slow_path(
    app: Flask,
    sessions: sessionmaker[Session],
    talk: Event,
    event_emails_made: list[mail.EventEmails],
) -> None:
    settings = state(app).settings
    addresses = [f"r{n}@example.org" for n in range(9)] + ["o'brien@example.org", "a&b@example.org"]
    for n, address in enumerate(addresses):
        subscribe(sessions, address, ZONES[n % len(ZONES)])
    with sessions() as session, session.begin():
        assert outbox.announce(session, store.get_event(session, talk.id), SYSTEM_CLOCK.now()) == 11
    ids = sender.claim(sessions, "test:1", 100, SYSTEM_CLOCK.now())
    ready = sender._prepare(sessions, ids, "test:1", settings)
    assert len(ready) == 11
    with sessions() as session:
        rows = session.scalars(select(Outbox).where(Outbox.id.in_(ids))).all()
        for row in rows:
            assert row.message is not None and ready[row.id] == (row.recipient, row.message)
            assert parse(row.message)["Message-ID"] == row.message_id
            assert row.message == slow_twin(row, session, settings)
        assert len({row.message_id for row in rows}) == 11
    [emails] = event_emails_made
    assert (emails.fast, emails.slow) == (9, 2)  # the apostrophe and the ampersand


def test_preview_writes_the_slow_path_bytes(
    app: Flask, sessions: sessionmaker[Session], talk: Event
) -> None:
    settings = state(app).settings
    for n, zone in enumerate(ZONES):
        subscribe(sessions, f"p{n}@example.org", zone)
    with sessions() as session:
        event = store.get_event(session, talk.id)
        found = sender.preview(session, event, settings)
        assert sorted(address for address, _ in found) == [f"p{n}@example.org" for n in range(5)]
        ics = sender.event_calendar(event, event.series, settings)
        for (address, data), subscriber in zip(
            found, outbox.active_subscribers(session, event.series_id), strict=True
        ):
            stored = parse(data)
            envelope = mail.Envelope(settings.mail_from, stored["Message-ID"], stored["Date"])
            msg = mail.event_email(
                "announcement",
                event,
                event.series,
                sender.reader_for(subscriber, Links(settings.base_url)),
                envelope,
                event_url=Links(settings.base_url).event_page(event.id),
                ics=ics,
            )
            assert subscriber.email == address
            assert data == with_boundaries_of(msg, data)


def test_templates_kept_across_batches_serve_later_batches_exactly(
    app: Flask, sessions: sessionmaker[Session], talk: Event
) -> None:
    settings = state(app).settings
    for n in range(12):
        subscribe(sessions, f"b{n}@example.org", ZONES[n % 3])
    with sessions() as session, session.begin():
        assert outbox.announce(session, store.get_event(session, talk.id), SYSTEM_CLOCK.now()) == 12
    emails = mail.EventEmails()
    for _ in range(3):
        ids = sender.claim(sessions, "test:1", 4, SYSTEM_CLOCK.now())
        assert len(sender._prepare(sessions, ids, "test:1", settings, emails)) == 4
        assert len(emails._templates) == 3  # the first batch's templates, reused
        with sessions() as session:
            for row in session.scalars(select(Outbox).where(Outbox.id.in_(ids))):
                assert row.message == slow_twin(row, session, settings)
    assert (emails.fast, emails.slow) == (12, 0)


def test_a_full_cache_drops_its_oldest_templates_and_stays_exact(talk: Event) -> None:
    emails = mail.EventEmails(max_templates=2)
    for n in range(12):
        who = reader(n, ZONES[n % 3], True)
        fast, slow, _ = both(emails, "reminder", talk, who, mail.Envelope.new(MAIL_FROM, "x"))
        assert fast == slow
        assert len(emails._templates) <= 2
    assert emails.fast == 12
