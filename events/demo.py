"""Living demo data: the shipped sample series, re-dated around today (the injectable clock).

The sample file (`events/sample_data/seminars.yaml`) keeps the transcribed talks on the
dates chosen when they were copied (2019, 2021, 2026–27); the test suite reads it as is. The
demo shows them as organisers would plan them now:

- the Beijing Joint Seminar as a biweekly Saturday schedule (09:30–11:30 Beijing time) of
  two-talk sessions: the transcribed sessions, oldest first, three of them already past and
  the rest in the coming months, then a few TBA slots and one skipped date;
- the Lisbon seminars as a weekly Friday 17:00 slot: the talks shifted by whole weeks so a
  third lie in the past, with the slots no talk fills shown as TBA;
- the physics workshop as a one-day timetable (opening, invited and contributed talks,
  poster spotlights, breaks, lunch, poster session; each item's kind from its tags) on a
  Saturday about five weeks ahead, in its own zone.

Event ids that start with the original date get the new one; talks moved ahead of today lose
their recording links.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from events import times

BEIJING = "ml-joint-seminar"
LISBON = "lisbon-ml-seminars"
WORKSHOP = "physics-deep-learning-workshop"
KIND_BY_TAG = {
    "opening": "opening",
    "invited-talk": "invited-talk",
    "contributed-talk": "contributed-talk",
    "spotlight": "poster-spotlights",
    "lunch": "lunch",
    "break": "break",
    "poster": "poster-session",
}


def _day(text: str) -> date:
    return date.fromisoformat(str(text)[:10])


def _redate(event: dict[str, Any], new_day: date) -> dict[str, Any]:
    """Return the event on another day, same wall times; an id led by the old date follows."""
    old = str(event["start"])[:10]
    moved = dict(event)
    for key in ("start", "end"):
        value = str(event[key])
        moved[key] = new_day.isoformat() + value[10:] if value[:10] == old else value
    if str(event["id"]).startswith(old):
        moved["id"] = new_day.isoformat() + str(event["id"])[10:]
    return moved


def _next_weekday(today: date, weekday: int) -> date:
    return today + timedelta(days=(weekday - today.weekday()) % 7 or 7)


def _beijing(series: dict[str, Any], today: date) -> None:
    by_start: dict[str, list[dict[str, Any]]] = {}
    for event in series["events"]:
        by_start.setdefault(str(event["start"]), []).append(event)
    starts = sorted(by_start)
    first = _next_weekday(today, 5) - timedelta(weeks=6)  # three sessions already past
    sessions = []
    for k, start in enumerate(starts):
        day = first + timedelta(weeks=2 * k)
        talks = []
        for talk in by_start[start]:
            item = _redate(talk, day)
            if day >= today:
                item.pop("recording", None)  # a talk ahead has no recording yet
            item.pop("start", None)
            item.pop("end", None)
            item["duration"] = 60
            talks.append(item)
        sessions.append(
            {
                "id": f"{day.isoformat()}-session",
                "kind": "session",
                "title": "Joint Seminar of Machine Learning",
                "start": f"{day.isoformat()} 09:30",
                "end": f"{day.isoformat()} 11:30",
                "talks": talks,
            }
        )
    last = first + timedelta(weeks=2 * (len(starts) + 3))
    series["events"] = sessions
    series["schedule"] = {
        "every": "2 weeks",
        "on": "saturday",
        "start": "09:30",
        "end": "11:30",
        "from": first.isoformat(),
        "until": last.isoformat(),
        "skip": [{"date": last.isoformat(), "reason": "holiday break"}],
    }


def _lisbon(series: dict[str, Any], today: date) -> None:
    events = sorted(series["events"], key=lambda e: str(e["start"]))
    split = _day(events[len(events) // 3]["start"])
    weeks = (today - split).days // 7 + 1
    shifted = [_redate(e, _day(e["start"]) + timedelta(weeks=weeks)) for e in events]
    for event in shifted:
        if _day(event["start"]) >= today:
            event.pop("recording", None)
    # Every fifth Friday ahead is left open: a slot the schedule shows as TBA.
    kept = [
        e
        for k, e in enumerate(shifted)
        if _day(e["start"]) < today or k % 5 != 4 or _day(e["start"]).weekday() != 4
    ]
    series["events"] = kept
    fridays = [_day(e["start"]) for e in kept if _day(e["start"]).weekday() == 4]
    series["schedule"] = {
        "every": "week",
        "on": "friday",
        "start": "17:00",
        "duration": 60,
        "from": min(fridays).isoformat(),
        "until": (max(fridays) + timedelta(weeks=4)).isoformat(),
    }


def _kind(event: dict[str, Any]) -> str:
    tags = list(event.get("tags") or [])
    for tag in ("opening", "invited-talk", "contributed-talk", "spotlight", "lunch", "break"):
        if tag in tags:
            return KIND_BY_TAG[tag]
    return "poster-session" if "poster" in tags else "talk"


def _workshop(series: dict[str, Any], today: date) -> None:
    events = sorted(series["events"], key=lambda e: str(e["start"]))
    day = _next_weekday(today, 5) + timedelta(weeks=5)
    items = []
    for event in events:
        item = _redate(event, day)
        item.pop("recording", None)
        item["kind"] = _kind(event)
        if item["kind"] == "poster-spotlights":
            lines = str(item.get("abstract", "")).splitlines()
            item["posters"] = [line[2:].strip() for line in lines if line.startswith("- ")]
            item["abstract"] = ""
        items.append(item)
    series["events"] = [
        {
            "id": f"{day.isoformat()}-workshop",
            "kind": "workshop",
            "title": series["name"],
            "start": items[0]["start"],
            "end": items[-1]["end"],
            "items": items,
        }
    ]


def document(path: Path, now: datetime) -> dict[str, Any]:
    """Return the sample document re-dated around `now` (see the module docstring)."""
    with path.open(encoding="utf-8") as handle:
        doc = copy.deepcopy(yaml.safe_load(handle))
    today = times.local_date(now, "UTC")
    shapes = {BEIJING: _beijing, LISBON: _lisbon, WORKSHOP: _workshop}
    for series in doc["series"]:
        shape = shapes.get(series["slug"])
        if shape is not None:
            shape(series, today)
    return dict(doc)
