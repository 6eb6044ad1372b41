"""Schedules in calendar and reader feeds, read by ical.js, icalendar and the strict `ical`.

- A TBA slot is a calendar entry ("<series> — speaker TBA"); the talk that fills it is the
  same entry (same UID, higher SEQUENCE), never a second one; a skipped slot is cancelled.
- Weekly 09:30 Lisbon across both DST changes: every parser sees 09:30 Lisbon.
- Sessions: one entry per talk by default, one per session with `?group=session`.
- Breaks are in calendars only with `?breaks=1`; reader feeds list talks only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from events import importer
from events.clock import FrozenClock
from tests.support.parsers import all_parsers

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
WriteFile = Callable[[str, "str | bytes"], Path]
WEEKLY = {"every": "week", "on": "wednesday", "start": "09:30", "duration": 60}


def load(sessions: sessionmaker[Session], write_file: WriteFile, doc: dict[str, Any]) -> None:
    """Import a document at NOW."""
    path = write_file(f"doc-{id(doc)}.json", json.dumps(doc))
    importer.import_files(sessions, [path], clock=FrozenClock(NOW))


def lisbon(schedule: dict[str, Any], events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return a Lisbon series document with a schedule."""
    head = {"slug": "lisbon", "name": "Lisbon Seminar", "timezone": "Europe/Lisbon"}
    return {"series": [{**head, "schedule": schedule, "events": events or []}]}


def fetch(app: Flask, url: str) -> bytes:
    """GET a feed and return its body."""
    response = app.test_client().get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data()


def test_tba_then_filled_keeps_one_entry_per_slot(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    app = make_app(clock=FrozenClock(NOW))
    schedule = {
        **WEEKLY,
        "from": "2027-03-03",
        "count": 3,
        "skip": [{"date": "2027-03-17", "reason": "Easter break"}],
    }
    load(sessions, write_file, lisbon(schedule))
    before = all_parsers(fetch(app, "/series/lisbon.ics"))
    talk = {
        "id": "costa-2027",
        "title": "Deep nets",
        "speakers": ["Maria Costa"],
        "start": "2027-03-10 09:30",
        "end": "2027-03-10 10:30",
    }
    load(sessions, write_file, lisbon(schedule, [talk]))
    after = all_parsers(fetch(app, "/series/lisbon.ics"))
    for parser in before:
        old = {e.uid.split("@")[0]: e for e in before[parser]}
        new = {e.uid.split("@")[0]: e for e in after[parser]}
        assert set(old) == set(new), parser  # the same three entries
        uid = "lisbon-20270310"
        assert old[uid].summary == "Lisbon Seminar — speaker TBA", parser
        assert new[uid].summary == "Deep nets — Maria Costa", parser
        assert new[uid].sequence > old[uid].sequence, parser
        skipped = new["lisbon-20270317"]
        assert skipped.status == "CANCELLED", parser
        assert "Easter break" in skipped.summary, parser


def test_tba_slots_stay_out_of_feeds_when_the_series_says_so(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    app = make_app(clock=FrozenClock(NOW))
    load(sessions, write_file, lisbon({**WEEKLY, "from": "2027-03-03", "count": 2}))
    assert fetch(app, "/series/lisbon.ics").count(b"BEGIN:VEVENT") == 2
    quiet = {**WEEKLY, "from": "2027-03-03", "count": 2, "tba_in_feeds": False}
    load(sessions, write_file, lisbon(quiet))
    assert fetch(app, "/series/lisbon.ics").count(b"BEGIN:VEVENT") == 0
    assert b"TBA" not in fetch(app, "/series/lisbon.rss")


def test_weekly_0930_lisbon_across_both_dst_changes_in_every_parser(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    app = make_app(clock=FrozenClock(datetime(2027, 3, 1, tzinfo=UTC)))
    schedule = {**WEEKLY, "from": "2027-03-17", "until": "2027-11-10"}
    path = write_file("dst.json", json.dumps(lisbon(schedule)))
    importer.import_files(sessions, [path], clock=FrozenClock(datetime(2027, 3, 1, tzinfo=UTC)))
    zone = ZoneInfo("Europe/Lisbon")
    for parser, events in all_parsers(fetch(app, "/series/lisbon.ics")).items():
        assert len(events) == 35, parser
        for event in events:
            local = event.start.astimezone(zone)
            assert (local.hour, local.minute) == (9, 30), (parser, event.start)
        offsets = {e.start.astimezone(zone).utcoffset() for e in events}
        assert len(offsets) == 2, parser  # WET and WEST both seen


SESSION = {
    "id": "bj-0313",
    "kind": "session",
    "title": "Joint Seminar session",
    "start": "2027-03-13 09:30",
    "end": "11:30",
    "talks": [
        {"id": "bj-a", "title": "Talk A", "speakers": ["Ann"], "duration": 60},
        {"id": "bj-b", "title": "Talk B", "speakers": ["Bo"], "duration": 60},
    ],
}
WORKSHOP = {
    "id": "ws",
    "kind": "workshop",
    "title": "Workshop",
    "start": "2027-03-20 09:00",
    "end": "12:00",
    "items": [
        {"kind": "opening", "title": "Opening remarks", "duration": 10},
        {"kind": "invited talk", "title": "Keynote", "speakers": ["Cy"], "duration": 50},
        {"kind": "break", "title": "Coffee break", "duration": 30},
        {"kind": "contributed talk", "title": "Short talk", "speakers": ["Di"], "duration": 30},
        {"kind": "lunch", "title": "Lunch", "duration": 60},
    ],
}


def test_sessions_per_talk_or_per_session_and_breaks_optional(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    app = make_app(clock=FrozenClock(NOW))
    doc = {
        "series": [
            {
                "slug": "bj",
                "name": "Joint ML",
                "timezone": "Beijing time",
                "events": [SESSION, WORKSHOP],
            }
        ]
    }
    load(sessions, write_file, doc)
    per_talk = all_parsers(fetch(app, "/series/bj.ics"))
    per_session = all_parsers(fetch(app, "/series/bj.ics?group=session"))
    with_breaks = all_parsers(fetch(app, "/series/bj.ics?breaks=1"))
    for parser in per_talk:
        assert sorted(e.summary for e in per_talk[parser]) == [
            "Keynote — Cy",
            "Opening remarks",
            "Short talk — Di",
            "Talk A — Ann",
            "Talk B — Bo",
        ], parser
        grouped = {e.uid.split("@")[0]: e for e in per_session[parser]}
        assert set(grouped) == {"bj-0313", "ws"}, parser
        assert grouped["bj-0313"].summary == "Joint Seminar session — Ann, Bo", parser
        assert "10:30–11:30 Talk B — Bo" in grouped["bj-0313"].description, parser
        assert len(with_breaks[parser]) == 7, parser
    titles = [e.title for e in feedparser.parse(fetch(app, "/series/bj.rss")).entries]
    assert sorted(t.split(" — ")[0] for t in titles) == [
        "Ann: Talk A",
        "Bo: Talk B",
        "Cy: Keynote",
        "Di: Short talk",
    ]
