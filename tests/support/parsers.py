"""Real calendar parsers for the tests: Mozilla's ical.js (node), the strict `ical` package
and icalendar. Each returns the events as `Parsed` so tests compare what clients see."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import icalendar
from flask import request
from ical.calendar_stream import IcsCalendarStream

JS_DIR = Path(__file__).parents[1] / "js"


@dataclass(frozen=True)
class Parsed:
    """One event as a parser understood it."""

    uid: str
    status: str | None
    sequence: int
    summary: str
    description: str
    location: str | None
    start: datetime
    end: datetime
    start_zone: str


def _aware(value: datetime | date) -> datetime:
    assert isinstance(value, datetime), f"expected a date-time, got {value!r}"
    assert value.tzinfo is not None, f"floating time {value!r}"
    return value.astimezone(UTC)


def icaljs(ics: bytes) -> tuple[dict[str, Any], list[Parsed]]:
    """Parse with ical.js; return the calendar properties and the events."""
    node = shutil.which("node")
    assert node, "node is required (scripts/test installs tests/js)"
    assert (JS_DIR / "node_modules" / "ical.js").is_dir(), "run: npm ci --prefix tests/js"
    done = subprocess.run(
        [node, str(JS_DIR / "parse.mjs")], input=ics, capture_output=True, check=True, timeout=60
    )
    data = json.loads(done.stdout)
    events = [
        Parsed(
            uid=e["uid"],
            status=e["status"],
            sequence=int(e["sequence"] or 0),
            summary=e["summary"],
            description=e["description"],
            location=e["location"],
            start=datetime.fromisoformat(e["start"].replace("Z", "+00:00")),
            end=datetime.fromisoformat(e["end"].replace("Z", "+00:00")),
            start_zone=e["startZone"],
        )
        for e in data["events"]
    ]
    assert all(e["endZone"] != "floating" for e in data["events"])
    return data["calendar"], events


def strict_ical(ics: bytes) -> list[Parsed]:
    """Parse with the strict `ical` package (Home Assistant's)."""
    calendar = IcsCalendarStream.calendar_from_ics(ics.decode("utf-8"))
    found = []
    for e in calendar.events:
        assert isinstance(e.dtstart, datetime) and e.dtstart.tzinfo is not None
        zone = getattr(e.dtstart.tzinfo, "key", None) or str(e.dtstart.tzinfo)
        found.append(
            Parsed(
                uid=str(e.uid),
                status=str(e.status.value) if e.status else None,
                sequence=int(e.sequence or 0),
                summary=str(e.summary),
                description=str(e.description or ""),
                location=e.location,
                start=_aware(e.dtstart),
                end=_aware(e.dtend),  # type: ignore[arg-type]
                start_zone=zone,
            )
        )
    return found


def icalendar_events(ics: bytes) -> list[Parsed]:
    """Parse with icalendar; fail on any recorded parse error."""
    calendar = icalendar.Calendar.from_ical(ics)
    found = []
    for e in calendar.walk("VEVENT"):
        assert not e.errors, e.errors
        start = e.decoded("dtstart")
        found.append(
            Parsed(
                uid=str(e["uid"]),
                status=str(e.get("status")) if e.get("status") else None,
                sequence=int(e.get("sequence", 0)),
                summary=str(e["summary"]),
                description=str(e.get("description", "")),
                location=str(e["location"]) if e.get("location") else None,
                start=_aware(start),
                end=_aware(e.decoded("dtend")),
                start_zone=str(e["dtstart"].params.get("TZID", "UTC")),
            )
        )
    return found


def all_parsers(ics: bytes) -> dict[str, list[Parsed]]:
    """Parse with the three parsers; ical.js must see no floating zone."""
    _, js_events = icaljs(ics)
    for e in js_events:
        assert e.start_zone != "floating", f"ical.js sees {e.uid} as floating"
    return {"ical.js": js_events, "ical": strict_ical(ics), "icalendar": icalendar_events(ics)}


class CalendarChecker:
    """Collect every calendar a test app serves; check each with all parsers afterwards."""

    def __init__(self) -> None:
        self.bodies: dict[bytes, str] = {}

    def collect(self, response: Any) -> Any:
        """Flask after_request hook: keep each distinct calendar body."""
        if response.mimetype == "text/calendar" and response.status_code == 200:
            body = response.get_data()
            if response.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            self.bodies.setdefault(body, request.path)
        return response

    def check(self, stored: dict[str, tuple[int, datetime, datetime]]) -> int:
        """Parse each collected calendar; every UTC instant must equal the stored one.

        `stored` maps event ids to (sequence, start, end); a calendar served before a
        material edit (lower SEQUENCE) is checked for parsing only.
        """
        for body, path in self.bodies.items():
            for parser, events in all_parsers(body).items():
                for e in events:
                    sequence, start, end = stored[e.uid.split("@")[0]]
                    if e.sequence == sequence:
                        assert (e.start, e.end) == (start, end), (path, parser, e.uid)
        return len(self.bodies)
