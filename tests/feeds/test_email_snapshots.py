"""Emails of every kind: structure, headers, and their text and HTML fixed by snapshot files.

Snapshots live in tests/snapshots/email-<kind>.txt|.html; a mismatch fails. Regenerate them
after an intended change with
`EVENTFEED_UPDATE_SNAPSHOTS=1 bash scripts/test tests/test_email_snapshots.py`
and review the diff.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from icalendar import Calendar

from events.config import Settings
from events.models import Event
from feeds import email as mail
from mail.sender import event_calendar
from tests.support.mailtools import calendar_part, html_part, text_part
from tests.support.parsers import all_parsers

SNAPSHOTS = Path(__file__).parents[1] / "snapshots"
UPDATE = os.environ.get("EVENTFEED_UPDATE_SNAPSHOTS") == "1"
SETTINGS = Settings.from_env({}, base_url="https://events.example.org", secret_key="x")
ENVELOPE = mail.Envelope(
    mail_from="EventFeed <noreply@events.example.org>",
    message_id="<fixed.1@events.example.org>",
    date="Mon, 23 Nov 2026 12:00:00 GMT",
)
TOKEN = "tok-" + "x" * 40
READER = mail.Reader(
    email="reader@example.cn",
    timezone="Asia/Shanghai",
    manage_url=f"https://events.example.org/manage/{TOKEN}",
    unsubscribe_url=f"https://events.example.org/unsubscribe/{TOKEN}",
    calendar_url=f"https://events.example.org/s/{TOKEN}.ics",
)
MEETING = {
    "platform": "Tencent Meeting",
    "url": "https://meeting.tencent.com/dm/abc",
    "id": "329744341",
    "passcode": "974114",
    "access": "subscribers",
}


MONDAY = date(2026, 11, 30)


def digest_items(*events: Event) -> list[mail.DigestItem]:
    """Digest entries of talks (the last one marked changed when there are several)."""
    return [
        mail.DigestItem(
            e,
            e.series,
            f"https://events.example.org/events/{e.id}",
            f"https://events.example.org/events/{e.id}.ics",
            changed=len(events) > 1 and n == len(events) - 1,
        )
        for n, e in enumerate(events)
    ]


def check_snapshot(name: str, content: str) -> None:
    """Compare with tests/snapshots/<name>, or write it when regenerating."""
    path = SNAPSHOTS / name
    content = content.replace("\r\n", "\n")
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"missing snapshot {path}; run with EVENTFEED_UPDATE_SNAPSHOTS=1")
        path.parent.mkdir(exist_ok=True)
        path.write_text(content, encoding="utf-8")
    assert content == path.read_text(encoding="utf-8"), f"{name} differs from its snapshot"


def parse(msg: EmailMessage) -> EmailMessage:
    """Serialise and parse back, as a receiving mail system would."""
    parsed = message_from_bytes(mail.to_bytes(msg), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


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
        meeting=MEETING,
        abstract="Cryo-EM and the $\\infty$-Laplacian.",
    )


@pytest.fixture
def lisbon_reader() -> mail.Reader:
    """A reader in Lisbon."""
    return mail.Reader(
        email="leitor@example.pt",
        timezone="Europe/Lisbon",
        manage_url=READER.manage_url,
        unsubscribe_url=READER.unsubscribe_url,
        calendar_url=READER.calendar_url,
    )


def build(kind: str, event: Event, reader: mail.Reader) -> EmailMessage:
    """Build one event email with fixed envelope."""
    previous = None
    if kind == "change":
        previous = {
            "start_utc": "2026-12-04T01:30:00+00:00",
            "end_utc": "2026-12-04T03:30:00+00:00",
            "location": {"room": "Room 2"},
        }
    return mail.event_email(
        kind,  # type: ignore[arg-type]
        event,
        event.series,
        reader,
        ENVELOPE,
        event_url=f"https://events.example.org/events/{event.id}",
        ics=event_calendar(event, event.series, SETTINGS),
        previous=previous,
    )


@pytest.mark.parametrize("kind", ["announcement", "change", "cancellation", "reminder"])
def test_event_emails_match_snapshots_and_structure(
    kind: str, talk: Event, lisbon_reader: mail.Reader
) -> None:
    if kind == "cancellation":
        talk.status = "cancelled"
    msg = parse(build(kind, talk, lisbon_reader))
    assert msg.get_content_type() == "multipart/mixed"
    first = msg.get_payload()[0]  # type: ignore[index]
    assert first.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in first.get_payload()] == ["text/plain", "text/html"]
    text, html = text_part(msg), html_part(msg)
    check_snapshot(f"email-{kind}.txt", text)
    check_snapshot(f"email-{kind}.html", html)
    # The same content in both parts.
    when = "Sat 05 Dec 2026, 09:30–11:30 Beijing time (01:30–03:30 Lisbon time)"
    for body in (text, html):
        assert when in body
        assert "974114" in body and "https://meeting.tencent.com/dm/abc" in body
        assert READER.unsubscribe_url in body
    # Calendar part: method parameter matches METHOD; UID and SEQUENCE as in the feeds.
    part = calendar_part(msg)
    method = "CANCEL" if kind == "cancellation" else "REQUEST"
    assert part.get_param("method") == method
    calendar = Calendar.from_ical(part.get_content())
    assert str(calendar["METHOD"]) == method
    [vevent] = calendar.walk("VEVENT")
    assert str(vevent["ATTENDEE"]) == f"mailto:{lisbon_reader.email}"
    assert str(vevent["UID"]) == "2026-12-05-wang@events.example.org"
    assert int(vevent["SEQUENCE"]) == talk.sequence
    assert str(vevent["ORGANIZER"]) == "mailto:noreply@events.example.org"
    # Every parser (ical.js, the strict `ical`, icalendar) reads the same instants.
    for name, found in all_parsers(part.get_content().encode()).items():
        assert [(p.start, p.end) for p in found] == [(talk.start_utc, talk.end_utc)], name
    # Headers.
    assert msg["Message-ID"] == ENVELOPE.message_id
    # formatdate(usegmt=True) is written as "+0000", RFC 5322's preferred form of UTC.
    assert msg["Date"].datetime == parsedate_to_datetime(ENVELOPE.date)
    assert msg["List-Unsubscribe"] == f"<{READER.unsubscribe_url}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The zone rule: the talk's zone leads, the reader's follows.
    assert msg["Subject"].endswith("Sat 05 Dec 2026, 09:30 Beijing time (01:30 Lisbon time)")


def test_chinese_subject_is_encoded_and_long_unsubscribe_url_stays_on_one_line(
    talk: Event,
) -> None:
    raw = mail.to_bytes(build("announcement", talk, READER))
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")  # headers are pure ASCII
    assert "=?utf-8?" in head
    assert "?==?" not in head
    assert f"List-Unsubscribe: <{READER.unsubscribe_url}>\r\n" in head
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == (
        "[Lisbon Machine Learning Seminar] 冷冻电镜原理及相关算法 — "
        "Sat 05 Dec 2026, 09:30 Beijing time"
    )


def test_hidden_meetings_never_appear(make_event: Callable[..., Event]) -> None:
    event = make_event(meeting={**MEETING, "access": "hidden"})
    msg = parse(build("announcement", event, READER))
    for body in (text_part(msg), html_part(msg), calendar_part(msg).get_content()):
        assert "974114" not in body and "meeting.tencent.com" not in body


def test_digest_and_confirmation_match_snapshots(
    talk: Event, make_event: Callable[..., Event]
) -> None:
    other = make_event(id="2026-12-07-costa", start="2026-12-07 12:00", end="2026-12-07 13:00")
    items = digest_items(talk, other)
    digest = parse(mail.digest_email(items, READER, ENVELOPE, frequency="weekly", day=MONDAY))
    assert digest["Subject"] == "Weekly digest, Mon 30 Nov 2026: 2 new or changed talks"
    check_snapshot("email-digest.txt", text_part(digest))
    check_snapshot("email-digest.html", html_part(digest))
    assert not [p for p in digest.walk() if p.get_content_type() == "text/calendar"]
    daily = parse(mail.digest_email(items[1:], READER, ENVELOPE, frequency="daily", day=MONDAY))
    assert daily["Subject"] == "Daily digest, Mon 30 Nov 2026: 1 new or changed talk"
    check_snapshot("email-digest-daily.txt", text_part(daily))
    check_snapshot("email-digest-daily.html", html_part(daily))

    confirm = parse(
        mail.confirmation_email(
            ["Joint Seminar of Machine Learning"],
            READER,
            ENVELOPE,
            confirm_url="https://events.example.org/subscriptions/confirm/abc.def",
        )
    )
    assert confirm["Subject"] == "Confirm your subscription to Joint Seminar of Machine Learning"
    check_snapshot("email-confirmation.txt", text_part(confirm))
    check_snapshot("email-confirmation.html", html_part(confirm))


def test_a_long_non_ascii_subject_is_folded_into_short_encoded_words(
    make_event: Callable[..., Event],
) -> None:
    title = "关于冷冻电镜原理及相关算法的研究进展与展望：从单颗粒分析到断层成像" * 3
    event = make_event(title=title, start="2026-12-05 09:30", end="2026-12-05 11:00")
    raw = mail.to_bytes(build("announcement", event, READER))
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    subject = head.split("\r\nSubject: ", 1)[1].split("\r\nDate:", 1)[0]
    lines = ("Subject: " + subject).split("\r\n")
    assert len(lines) > 5  # folded (before: one 336-character word on a 402-character line)
    assert all(len(line) <= 78 for line in lines), max(len(line) for line in lines)
    words = re.findall(r"=\?utf-8\?[bq]\?[^?]*\?=", subject)
    assert words and all(len(word) <= 75 for word in words)  # RFC 2047
    assert title in message_from_bytes(raw, policy=policy.default)["Subject"]


def test_list_headers_on_list_mail_only(talk: Event) -> None:
    for kind in ("announcement", "change", "cancellation", "reminder"):
        msg = parse(build(kind, talk, READER))
        assert msg["Precedence"] == "bulk", kind
        assert msg["List-Id"] == f"{talk.series.name} <{talk.series.slug}.events.example.org>"
    items = digest_items(talk)
    digest = parse(mail.digest_email(items, READER, ENVELOPE, frequency="daily", day=MONDAY))
    assert digest["Precedence"] == "bulk"
    assert digest["List-Id"] == "EventFeed digest <digest.events.example.org>"
    confirm = parse(
        mail.confirmation_email(["S"], READER, ENVELOPE, confirm_url="https://e.org/c/x")
    )
    assert confirm["Precedence"] is None and confirm["List-Id"] is None  # one person's request
