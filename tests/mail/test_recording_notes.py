"""'Recording available' notes through a real SMTP server on loopback, and their spam score."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import importer, store
from events.clock import FrozenClock
from events.models import Outbox, Subscriber
from feeds import email as mail
from mail import blocks, sender, subscribers
from tests.feeds.test_email_snapshots import ENVELOPE, READER
from tests.mail import test_session_announcements as announcements
from tests.mail.test_session_announcements import TALK_A, TALK_B, session_doc
from tests.support import spamscore
from tests.support.mailtools import SmtpServer, csrf, html_part, text_part

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
WriteFile = Callable[[str, "str | bytes"], Path]
READER_ADDRESS = "leitor@example.pt"
VIDEO = "https://video.example.org/costa"
SLIDES = "https://example.org/costa.pdf"


def talk(tid: str, start: str, **extra: Any) -> dict[str, Any]:
    """Return a one-hour Lisbon talk."""
    found = {"id": tid, "title": f"Talk {tid}", "speakers": ["Rita Costa"], "start": start}
    return found | {"end": start[:11] + "18:00"} | extra


def doc(*talks: dict[str, Any]) -> dict[str, Any]:
    """Return the Lisbon series with these talks."""
    return {
        "series": [
            {
                "slug": "lisbon",
                "name": "Lisbon Seminar",
                "timezone": "Europe/Lisbon",
                "events": list(talks),
            }
        ]
    }


class Room(announcements.Room):
    """Import as organisers do, then deliver to the SMTP server."""

    prefix = "doc"

    def outbox_keys(self) -> list[str]:
        with self.sessions() as session:
            return sorted(session.scalars(select(Outbox.dedupe_key)))


PAST = "2026-11-27 17:00"  # before NOW: the talk is over
AHEAD = "2026-12-11 17:00"


@pytest.fixture
def room(sessions: sessionmaker[Session], write_file: WriteFile, smtp: SmtpServer) -> Room:
    """The Lisbon series with a past and an upcoming talk, no links, and one reader."""
    found = Room(sessions, write_file, smtp.url)
    found.load(doc(talk("past", PAST), talk("ahead", AHEAD)))
    with sessions() as session, session.begin():
        subscribers.add_confirmed(session, READER_ADDRESS, ["lisbon"], "Asia/Shanghai", NOW)
    return found


def test_a_video_added_after_the_talk_is_one_short_note_and_slides_another(
    room: Room, smtp: SmtpServer
) -> None:
    room.load(doc(talk("past", PAST, recording=VIDEO), talk("ahead", AHEAD)))
    room.load(doc(talk("past", PAST, recording=VIDEO), talk("ahead", AHEAD)))  # same again
    room.drain()
    [note] = smtp.inbox.to(READER_ADDRESS)
    assert note["Subject"] == "Video available: [Lisbon Seminar] Talk past"
    text, html = text_part(note), html_part(note)
    for body in (text, html):
        assert VIDEO in body and "Rita Costa" in body
        # The zone rule: the talk's zone leads, the reader's follows.
        assert (
            "Fri 27 Nov 2026, 17:00–18:00 Lisbon time (Sat 28 Nov 2026, 01:00–02:00 Beijing time)"
            in body
        )
        assert "https://events.example.org/events/past" in body
    assert spamscore.words(text) - spamscore.words(html) <= {"https"}
    assert not [p for p in note.walk() if p.get_content_type() == "text/calendar"]
    # Another link kind is another note; a changed video link is no news.
    other = "https://video.example.org/costa-v2"
    room.load(doc(talk("past", PAST, recording=other, slides=SLIDES), talk("ahead", AHEAD)))
    room.drain()
    _, slides = smtp.inbox.to(READER_ADDRESS)
    assert slides["Subject"] == "Slides available: [Lisbon Seminar] Talk past"
    assert SLIDES in text_part(slides)
    found = [k.rsplit(":", 2)[1:] for k in room.outbox_keys()]
    assert found == [["past", "recording"], ["past", "slides"]]


def test_no_note_for_links_before_the_talk_cancelled_talks_or_readers_who_opted_out(
    room: Room, smtp: SmtpServer
) -> None:
    # Before the talk: the announcement and reminder carry the link; no note, now or later.
    room.load(doc(talk("past", PAST), talk("ahead", AHEAD, slides=SLIDES)))
    # Created after the talk with its video: the link was there from the start.
    room.load(
        doc(
            talk("past", PAST),
            talk("ahead", AHEAD, slides=SLIDES),
            talk("new", PAST) | {"id": "late", "recording": VIDEO},
        )
    )
    # Cancelled, then a video added.
    room.load(doc(talk("past", PAST, status="cancelled"), talk("ahead", AHEAD, slides=SLIDES)))
    room.load(doc(talk("past", PAST, status="cancelled", recording=VIDEO), talk("ahead", AHEAD)))
    assert [k for k in room.outbox_keys() if k.startswith("recording:")] == []
    # A reader who turned the notes off hears nothing; one who keeps them, once.
    with room.sessions() as session, session.begin():
        session.scalars(select(Subscriber)).one().recording_notes = False
        subscribers.add_confirmed(session, "other@example.org", ["lisbon"], "UTC", NOW)
    room.load(doc(talk("past", PAST, recording=VIDEO), talk("ahead", AHEAD)))
    room.load(doc(talk("past", PAST, recording=VIDEO, slides=SLIDES), talk("ahead", AHEAD)))
    room.drain()
    assert smtp.inbox.to(READER_ADDRESS) == []
    assert len(smtp.inbox.to("other@example.org")) == 1  # only the slides: the video came
    # while the talk was cancelled (the note would have been about a cancelled talk).


def test_removed_before_sending_is_not_sent(room: Room, smtp: SmtpServer) -> None:
    room.load(doc(talk("past", PAST, recording=VIDEO), talk("ahead", AHEAD)))
    room.load(doc(talk("past", PAST, status="cancelled", recording=VIDEO), talk("ahead", AHEAD)))
    room.drain()
    assert smtp.inbox.messages == []


def test_the_manage_page_has_the_checkbox_and_saves_it(
    app: Flask, sessions: sessionmaker[Session], write_file: WriteFile, smtp: SmtpServer
) -> None:
    Room(sessions, write_file, smtp.url).load(doc(talk("past", PAST)))
    with sessions() as session, session.begin():
        reader = subscribers.add_confirmed(session, READER_ADDRESS, ["lisbon"], "UTC", NOW)
        token = reader.token
    client = app.test_client()
    page = client.get(f"/manage/{token}").get_data(as_text=True)
    assert 'name="recording_notes" checked' in page
    assert "Tell me when a talk's video or slides are added after it" in page
    form = {
        "csrf_token": csrf(client, f"/manage/{token}"),
        "action": "save",
        "series": "lisbon",
        "timezone": "UTC",
        "announcements": "on",
        "reminder_hours": "0",
    }
    assert client.post(f"/manage/{token}", data=form).status_code == 200
    with sessions() as session:
        assert session.scalars(select(Subscriber)).one().recording_notes is False
    form["recording_notes"] = "on"
    page = client.post(f"/manage/{token}", data=form).get_data(as_text=True)
    assert 'name="recording_notes" checked' in page


@pytest.mark.skipif(spamscore.SPAMASSASSIN is None, reason="spamassassin is not installed")
def test_recording_note_and_session_announcement_score_below_two(
    sessions: sessionmaker[Session], write_file: WriteFile, smtp: SmtpServer
) -> None:
    room = Room(sessions, write_file, smtp.url)
    room.load(doc(talk("past", PAST, recording=VIDEO)))
    path = write_file("bj.json", json.dumps(session_doc([TALK_A, TALK_B])))
    importer.import_files(sessions, [path], clock=FrozenClock(NOW))
    with sessions() as session:
        event = store.get_event(session, "past")
        url = "https://events.example.org/events/past"
        found: dict[str, EmailMessage] = {
            "recording": mail.recording_email(
                event, event.series, READER, ENVELOPE, link="recording", url=VIDEO, event_url=url
            )
        }
        block = store.get_event(session, "bj-2027-01-09")
        talks = blocks.talks_of(block)
        urls = {e.id: f"https://events.example.org/events/{e.id}" for e in (block, *talks)}
        ics = sender.talks_calendar(talks, block.series, room.settings)
        found["session"] = mail.session_email(
            block, talks, block.series, READER, ENVELOPE, urls=urls, ics=ics
        )
    spamscore.assert_clean(found)
