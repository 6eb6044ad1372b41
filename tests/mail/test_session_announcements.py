"""One announcement per session with every talk in it, through a real SMTP server on loopback.

The Beijing sample's shape: one 09:30–11:30 Asia/Shanghai session, two talks; a reader in
Lisbon. Snapshots of the session email live in tests/snapshots/email-session.txt|.html.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import importer, store
from events.clock import FrozenClock
from events.config import Settings
from events.models import Event, Outbox
from feeds import email as mail
from mail import blocks, sender, subscribers, worker
from mail.sender import talks_calendar
from server import cli
from tests.feeds.test_email_snapshots import ENVELOPE, READER, check_snapshot, parse
from tests.support.mailtools import SmtpServer, calendar_part, html_part, text_part
from tests.support.parsers import all_parsers

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
WriteFile = Callable[[str, "str | bytes"], Path]
LISBON = "leitor@example.pt"
TALK_A = {
    "id": "bj-wang",
    "title": "冷冻电镜原理及相关算法",
    "speakers": [{"name": "王宇航", "affiliation": "北京深势科技有限公司"}],
    "abstract": "Cryo-EM and the $\\infty$-Laplacian.",
    "slides": "https://example.org/wang.pdf",
    "duration": 60,
}
TALK_B = {
    "id": "bj-zhu",
    "title": "Deep learning for PDEs",
    "speakers": [{"name": "Zhu Yi", "affiliation": "Peking University"}],
    "abstract": "Neural operators.",
    "duration": 60,
}


def session_doc(
    talks: list[dict[str, Any]], end: str = "11:30", auto_announce: bool = True
) -> dict[str, Any]:
    """Return the Beijing series with one session on Saturday 9 January 2027."""
    block = {
        "id": "bj-2027-01-09",
        "kind": "session",
        "title": "Joint Seminar of Machine Learning",
        "start": "2027-01-09 09:30",
        "end": end,
        "talks": talks,
    }
    return {
        "series": [
            {
                "slug": "bj",
                "name": "Joint Seminar of Machine Learning",
                "timezone": "Asia/Shanghai",
                "auto_announce": auto_announce,
                "location": "Online",
                "meeting": {
                    "platform": "Tencent Meeting",
                    "url": "https://meeting.tencent.com/dm/abc",
                    "passcode": "974114",
                    "access": "subscribers",
                },
                "events": [block],
            }
        ]
    }


class Room:
    """The series, a Lisbon reader and the SMTP server: import, then deliver."""

    prefix = "bj"  # of the imported files' names

    def __init__(self, sessions: sessionmaker[Session], write_file: WriteFile, url: str) -> None:
        self.sessions, self.write_file, self.imports = sessions, write_file, 0
        self.settings = Settings.from_env(
            {}, base_url="https://events.example.org", secret_key="x", smtp_url=url
        )

    def load(self, doc: dict[str, Any]) -> None:
        self.imports += 1
        path = self.write_file(f"{self.prefix}-{self.imports}.json", json.dumps(doc))
        importer.import_files(self.sessions, [path], clock=FrozenClock(NOW))

    def drain(self) -> None:
        for _ in range(10):
            report = sender.send_batch(self.sessions, self.settings, now=NOW, progress=False)
            if not report.processed:
                return
        raise AssertionError("the outbox never drained")


@pytest.fixture
def room(sessions: sessionmaker[Session], write_file: WriteFile, smtp: SmtpServer) -> Room:
    """The Beijing series (no talk yet) with a confirmed reader in Lisbon."""
    found = Room(sessions, write_file, smtp.url)
    found.load(session_doc([]))
    with sessions() as session, session.begin():
        subscribers.add_confirmed(session, LISBON, ["bj"], "Europe/Lisbon", NOW)
    return found


WANG = "Sat 09 Jan 2027, 09:30–10:30 Beijing time (01:30–02:30 Lisbon time)"
ZHU = "Sat 09 Jan 2027, 10:30–11:30 Beijing time (02:30–03:30 Lisbon time)"


def instants(msg: EmailMessage) -> list[tuple[datetime, datetime]]:
    """Return the (start, end) of the attached calendar's events, as every parser reads them."""
    data = calendar_part(msg).get_content().encode()
    found = {name: sorted((p.start, p.end) for p in got) for name, got in all_parsers(data).items()}
    first = next(iter(found.values()))
    assert all(v == first for v in found.values()), found
    return first


def test_one_email_for_the_session_with_both_talks_at_the_right_instants(
    room: Room, smtp: SmtpServer
) -> None:
    room.load(session_doc([TALK_A, TALK_B]))
    room.drain()
    [msg] = smtp.inbox.to(LISBON)
    assert msg["Subject"] == (
        "[Joint Seminar of Machine Learning] Joint Seminar of Machine Learning session: "
        "2 talks — Sat 09 Jan 2027, 09:30 Beijing time (01:30 Lisbon time)"
    )
    text, html = text_part(msg), html_part(msg)
    for body in (text, html):
        assert WANG in body and ZHU in body
        assert body.index(TALK_A["title"]) < body.index(str(TALK_B["title"]))
        assert "王宇航" in body and "Zhu Yi" in body and "Neural operators." in body
        assert "https://example.org/wang.pdf" in body and "974114" in body
        assert "https://events.example.org/events/bj-zhu" in body
    part = calendar_part(msg)
    assert part.get_param("method") == "REQUEST"
    calendar = Calendar.from_ical(part.get_content())
    uids = sorted(str(v["UID"]) for v in calendar.walk("VEVENT"))
    assert uids == ["bj-wang@events.example.org", "bj-zhu@events.example.org"]
    assert instants(msg) == [
        (datetime(2027, 1, 9, 1, 30, tzinfo=UTC), datetime(2027, 1, 9, 2, 30, tzinfo=UTC)),
        (datetime(2027, 1, 9, 2, 30, tzinfo=UTC), datetime(2027, 1, 9, 3, 30, tzinfo=UTC)),
    ]
    # Exactly once: importing the same again, or announcing by hand, sends nothing more.
    room.load(session_doc([TALK_A, TALK_B]))
    with room.sessions() as session, session.begin():
        assert blocks.announce(session, store.get_event(session, "bj-wang"), NOW) == 0
        assert blocks.announce(session, store.get_event(session, "bj-2027-01-09"), NOW) == 0
    room.drain()
    assert len(smtp.inbox.to(LISBON)) == 1
    with room.sessions() as session:
        [row] = session.scalars(select(Outbox)).all()
    assert row.dedupe_key.startswith("session:") and row.event_id == "bj-2027-01-09"
    assert row.payload["talks"] == ["bj-wang", "bj-zhu"]


def test_talks_published_one_by_one_before_the_worker_runs_are_one_email(
    room: Room, smtp: SmtpServer
) -> None:
    room.load(session_doc([TALK_A]))
    room.load(session_doc([TALK_A, TALK_B]))
    room.drain()
    [msg] = smtp.inbox.to(LISBON)
    assert "2 talks" in msg["Subject"]
    assert WANG in text_part(msg) and ZHU in text_part(msg)


def test_a_talk_added_after_the_announcement_is_an_update_and_breaks_never_count(
    room: Room, smtp: SmtpServer
) -> None:
    short_a, short_b = {**TALK_A, "duration": 45}, {**TALK_B, "duration": 45}
    coffee = {"kind": "break", "title": "Coffee", "start": "11:00", "end": "11:10"}
    room.load(session_doc([short_a, short_b, coffee]))
    room.drain()
    [first] = smtp.inbox.to(LISBON)
    assert "2 talks" in first["Subject"] and "Coffee" not in text_part(first)
    # The worker drops old messages' bytes: the rows still know which talks they listed.
    assert worker.prune(room.sessions, NOW + timedelta(days=400)) == 1
    late = {
        "id": "bj-li",
        "title": "Sampling",
        "speakers": ["Li"],
        "start": "11:10",
        "end": "11:30",
    }
    room.load(session_doc([short_a, short_b, coffee, late]))
    room.load(session_doc([short_a, short_b, coffee, late]))  # the same again: nothing more
    room.drain()
    first_again, update = smtp.inbox.to(LISBON)
    assert update["Subject"].startswith("Updated: [Joint Seminar of Machine Learning]")
    assert "3 talks" in update["Subject"]
    text = text_part(update)
    assert "A talk has been added to this session" in text
    assert "Sampling (new)" in text and "Coffee" not in text
    assert "Sat 09 Jan 2027, 11:10–11:30 Beijing time (03:10–03:30 Lisbon time)" in text
    assert len(instants(update)) == 3  # the calendar holds every talk, same UIDs as before
    room.drain()
    assert len(smtp.inbox.to(LISBON)) == 2


def test_changes_follow_per_talk_and_a_cancelled_talk_is_left_out_before_sending(
    room: Room, smtp: SmtpServer
) -> None:
    room.load(session_doc([TALK_A, TALK_B]))
    # Cancelled before the worker ran: the session email lists the other talk only.
    room.load(session_doc([TALK_A, {**TALK_B, "status": "cancelled"}]))
    room.drain()
    [msg] = smtp.inbox.to(LISBON)
    assert "1 talk —" in msg["Subject"] and "Deep learning" not in text_part(msg)
    # After it was sent (and its bytes pruned): a talk's change is that talk's change notice.
    assert worker.prune(room.sessions, NOW + timedelta(days=400)) == 1
    moved = {k: v for k, v in TALK_A.items() if k != "duration"} | {
        "start": "09:45",
        "end": "10:30",
    }
    room.load(session_doc([moved, {**TALK_B, "status": "cancelled"}]))
    room.drain()
    _, change = smtp.inbox.to(LISBON)
    assert change["Subject"].startswith("Changed: [Joint Seminar of Machine Learning]")
    assert "09:45–10:30 Beijing time (01:45–02:30 Lisbon time)" in text_part(change)
    # The cancelled talk was never listed to the reader: no cancellation notice about it.
    with room.sessions() as session:
        kinds = sorted(session.scalars(select(Outbox.kind)))
    assert kinds == ["change", "session"]


def test_session_email_matches_snapshots(room: Room, make_event: Callable[..., Event]) -> None:
    room.load(session_doc([TALK_A, TALK_B]))
    with room.sessions() as session:
        block = store.get_event(session, "bj-2027-01-09")
        talks = blocks.talks_of(block)
        urls = {e.id: f"https://events.example.org/events/{e.id}" for e in (block, *talks)}
        ics = talks_calendar(talks, block.series, room.settings)
        lisbon = mail.Reader(
            email=LISBON,
            timezone="Europe/Lisbon",
            manage_url=READER.manage_url,
            unsubscribe_url=READER.unsubscribe_url,
            calendar_url=READER.calendar_url,
        )
        msg = parse(
            mail.session_email(block, talks, block.series, lisbon, ENVELOPE, urls=urls, ics=ics)
        )
    check_snapshot("email-session.txt", text_part(msg))
    check_snapshot("email-session.html", html_part(msg))
    assert msg["List-Id"] == "Joint Seminar of Machine Learning <bj.events.example.org>"


def test_cli_announce_of_a_session_talk_previews_and_queues_the_session_email(
    room: Room, smtp: SmtpServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    room.load(session_doc([TALK_A, TALK_B], auto_announce=False))
    env = {**cli_env, "EVENTFEED_SMTP_URL": smtp.url}

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert "wrote 1 .eml" in run("announce", "bj-wang", "--preview", str(tmp_path / "eml"))
    [eml] = (tmp_path / "eml").glob("*.eml")
    assert b"Deep learning for PDEs" in eml.read_bytes()
    assert "queued 1" in run("announce", "bj-wang")
    assert "queued 0" in run("announce", "bj-2027-01-09")  # the same email
    run("send")
    [msg] = smtp.inbox.to(LISBON)
    assert "2 talks" in msg["Subject"]


def test_session_emails_from_one_template_equal_the_slow_path_for_every_reader(
    room: Room,
) -> None:
    from tests.feeds.test_email_fast import reader, with_boundaries_of

    room.load(session_doc([TALK_A, TALK_B], auto_announce=False))
    emails = mail.EventEmails()
    with room.sessions() as session:
        block = store.get_event(session, "bj-2027-01-09")
        talks = blocks.talks_of(block)
        key, build = sender._session_builder(block, talks, [], room.settings, {})
        readers = [
            reader(n, zone, n % 2 == 0)
            for n, zone in enumerate(["Europe/Lisbon", "Asia/Shanghai"] * 3)
        ]
        for who in readers:
            envelope = mail.Envelope.new("EventFeed <noreply@events.example.org>", "example.org")
            fast, subject = emails.render_built(key, build, who, envelope)
            slow = build(who, envelope)
            assert subject == str(slow["Subject"])
            assert fast == with_boundaries_of(slow, fast), who
    assert (emails.fast, emails.slow) == (len(readers), 0)


@pytest.mark.parametrize("locale", ["pt_PT", "zh_Hans"])
def test_session_email_in_the_readers_language(room: Room, locale: str) -> None:
    """The announcement and an update (one talk added), in Portuguese and Chinese."""
    room.load(session_doc([TALK_A, TALK_B]))
    with room.sessions() as session:
        block = store.get_event(session, "bj-2027-01-09")
        talks = blocks.talks_of(block)
        urls = {e.id: f"https://events.example.org/events/{e.id}" for e in (block, *talks)}
        reader = mail.Reader(
            email=LISBON,
            timezone="Europe/Lisbon",
            manage_url=READER.manage_url,
            unsubscribe_url=READER.unsubscribe_url,
            language=locale,
        )
        first = parse(
            mail.session_email(block, talks, block.series, reader, ENVELOPE, urls=urls, ics=None)
        )
        update = parse(
            mail.session_email(
                block,
                talks,
                block.series,
                reader,
                ENVELOPE,
                urls=urls,
                ics=None,
                added=[talks[-1].id],
            )
        )
    for name, msg in (("session", first), ("session-update", update)):
        check_snapshot(
            f"email-{locale}-{name}.txt", f"Subject: {msg['Subject']}\n\n{text_part(msg)}"
        )
    expected = {
        "pt_PT": ("2 palestras", "foi acrescentada uma palestra", "(nova)"),
        "zh_Hans": ("2 场报告", "新增一场报告", "（新增）"),
    }[locale]
    assert expected[0] in str(first["Subject"])
    assert expected[1] in text_part(update) and expected[2] in text_part(update)
