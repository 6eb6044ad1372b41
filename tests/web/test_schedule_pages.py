"""Schedule pages over HTTP: TBA slots, sessions, next talk, the recordings archive."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from events import importer, signals
from events.clock import FrozenClock
from tests.support.parsers import all_parsers

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
WriteFile = Callable[[str, "str | bytes"], Path]


def talk(day: int, name: str, recording: bool = False) -> dict[str, Any]:
    """Return a March 2027 Wednesday talk at 09:30."""
    found: dict[str, Any] = {
        "id": f"t-{day:02d}",
        "title": f"Talk by {name}",
        "speakers": [name],
        "start": f"2027-{day // 100 or 3:02d}-{day % 100:02d} 09:30",
        "end": "10:30",
    }
    if recording:
        found["recording"] = f"https://video.example/{day}"
    return found


def load(sessions: sessionmaker[Session], write_file: WriteFile, events: list[Any]) -> None:
    """Import the Lisbon series with a weekly Wednesday schedule and these events."""
    doc = {
        "series": [
            {
                "slug": "lisbon",
                "name": "Lisbon Seminar",
                "timezone": "Europe/Lisbon",
                "schedule": {
                    "every": "week",
                    "on": "wednesday",
                    "start": "09:30",
                    "duration": 60,
                    "from": "2027-01-06",
                    "until": "2027-03-31",
                    "skip": [{"date": "2027-03-17", "reason": "Easter break"}],
                },
                "events": events,
            }
        ]
    }
    path = write_file("lisbon.json", json.dumps(doc))
    importer.import_files(sessions, [path], clock=FrozenClock(NOW))


def test_series_page_shows_tba_slots_and_the_skipped_date(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    load(sessions, write_file, [talk(10, "Ana")])
    page = make_app(clock=FrozenClock(NOW)).test_client().get("/series/lisbon").get_data(True)
    assert page.count("Speaker to be announced") == 3  # 3, 24 and 31 March (10th: a talk)
    assert "No seminar: Easter break" in page
    assert "Talk by Ana" in page


def test_next_goes_to_the_next_talk_or_says_none(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    load(sessions, write_file, [talk(10, "Ana"), talk(24, "Bo")])
    client = make_app(clock=FrozenClock(NOW)).test_client()
    answer = client.get("/series/lisbon/next")
    assert answer.status_code == 303 and answer.location.endswith("/events/t-10")
    body = client.get("/series/lisbon/next.ics").get_data()
    for parser, events in all_parsers(body).items():
        assert [e.summary for e in events] == ["Talk by Ana — Ana"], parser
    late = make_app(clock=FrozenClock(datetime(2027, 3, 30, tzinfo=UTC))).test_client()
    none = late.get("/series/lisbon/next")
    assert none.status_code == 404
    assert "No talk of Lisbon Seminar is scheduled yet" in none.get_data(True)
    assert "speaker still to be announced" in none.get_data(True)
    assert late.get("/series/lisbon/next.ics").status_code == 404


def test_past_archive_pages_and_recordings_filter(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    old = [talk(100 + day, f"S{day}", recording=day % 2 == 0) for day in (6, 13, 20, 27)]
    old += [talk(200 + day, f"F{day}", recording=day % 2 == 0) for day in (3, 10, 17, 24)]
    load(sessions, write_file, old)
    client = make_app(clock=FrozenClock(NOW)).test_client()
    recorded = client.get("/series/lisbon?recorded=1").get_data(True)
    assert "with recordings" in recorded
    names = [f"Talk by {p}" for p in ("S6", "S20", "F10", "F24")]
    assert all(n in recorded for n in names)
    assert "Talk by S13" not in recorded and "Talk by F3" not in recorded
    assert client.get("/series/lisbon?recorded=1&past=2").status_code == 404


def test_breaks_and_slots_are_never_announced(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    heard: list[str] = []

    def listen(_: object, **kw: Any) -> None:
        heard.append(kw["event"].id)

    signals.talk_saved.connect(listen)
    try:
        workshop = {
            "id": "ws",
            "kind": "workshop",
            "title": "Workshop",
            "start": "2027-03-10 09:30",
            "end": "10:30",
            "items": [
                {"id": "ws-t", "kind": "invited talk", "title": "Keynote", "duration": 30},
                {"id": "ws-b", "kind": "break", "title": "Coffee", "duration": 30},
            ],
        }
        load(sessions, write_file, [workshop])
    finally:
        signals.talk_saved.disconnect(listen)
    assert heard == ["ws-t"]
