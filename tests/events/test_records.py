"""Event records: instants derived from wall times, validation per field, SEQUENCE rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.clock import SYSTEM_CLOCK
from events.errors import InvalidRecord
from events.models import Event, Series
from events.schemas import validate_event, validate_series
from tests.support.zones import ALL_CASES, ZoneCase


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_stored_instants_equal_the_wall_time_in_the_zone(
    case: ZoneCase, make_event: Callable[..., Event], sessions: sessionmaker[Session]
) -> None:
    made = make_event(id=case.name, start=case.start, end=case.end, timezone=case.timezone)
    with sessions() as session:
        stored = session.get(Event, made.id)
        assert stored is not None
        assert (stored.start_utc, stored.end_utc) == (case.start_utc, case.end_utc)
        assert stored.start_utc.utcoffset() is not None
        assert stored.timezone == case.timezone


def test_event_zone_defaults_to_the_series_zone(make_event: Callable[..., Event]) -> None:
    event = make_event(series="beijing", start="2021-11-27 09:30", end="11:30")
    assert event.timezone == "Europe/Lisbon"  # the default series fixture zone
    shanghai = validate_series({"slug": "bj", "name": "BJ", "timezone": "Beijing time"})
    record = validate_event(
        {"id": "x", "title": "t", "start": "2021-11-27 09:30", "end": "11:30"}, shanghai
    )
    assert record.timezone == "Asia/Shanghai"
    assert record.start_utc.isoformat() == "2021-11-27T01:30:00+00:00"
    assert record.end_utc.isoformat() == "2021-11-27T03:30:00+00:00"


SERIES = validate_series({"slug": "s", "name": "S", "timezone": "Europe/Lisbon"})
GOOD: dict[str, Any] = {
    "id": "t1",
    "title": "T",
    "start": "2026-01-15 12:00",
    "end": "2026-01-15 13:00",
}


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown timezone"),
        ({"start": "2026-03-29 01:30", "end": "2026-03-29 03:00"}, "start", "does not exist"),
        ({"end": "2026-01-15 11:00"}, "end", "must be after the start"),
        ({"end": "2026-01-15 12:00"}, "end", "must be after the start"),
        ({"livestream": "javascript:alert(1)"}, "livestream", "http"),
        ({"status": "maybe"}, "status", "confirmed"),
        ({"id": "has space"}, "id", "pattern"),
        ({"colour": "red"}, "colour", "Extra inputs"),
        ({"meeting": {"access": "everyone"}}, "meeting.access", "public"),
        ({"speakers": [{"affiliation": "IST"}]}, "speakers.0.name", "required"),
        ({"title": "x" * 501}, "title", "String should have at most 500 characters"),
        ({"tags": ["t" * 65]}, "tags.0", "String should have at most 64 characters"),
    ],
)
def test_bad_fields_are_named(overrides: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidRecord) as info:
        validate_event({**GOOD, **overrides}, SERIES)
    assert any(f == field and message in m for f, m in info.value.errors), info.value.errors
    assert f"field '{field}'" in str(info.value)


def test_single_line_fields_cannot_carry_line_breaks() -> None:
    record = validate_event(
        {**GOOD, "title": "Talk\r\nX-Injected: yes", "meeting": {"passcode": "12\n34"}}, SERIES
    )
    assert record.title == "Talk X-Injected: yes"
    assert record.meeting == {"passcode": "12 34", "access": "subscribers"}


def test_location_strings() -> None:
    def location(text: str) -> dict[str, Any]:
        return validate_event({**GOOD, "location": text}, SERIES).location

    assert location("Online") == {"online": True}
    assert location("Amphitheatre Fa2, IST — Online") == {
        "room": "Amphitheatre Fa2, IST",
        "online": True,
    }
    assert location("Room 3.10") == {"room": "Room 3.10"}


def test_event_meeting_overrides_parts_of_the_series_meeting() -> None:
    series = validate_series(
        {
            "slug": "s",
            "name": "S",
            "timezone": "UTC",
            "meeting": {"platform": "Zoom", "url": "https://zoom.example/j/1", "passcode": "1"},
        }
    )
    record = validate_event({**GOOD, "meeting": {"passcode": "2", "access": "public"}}, series)
    assert record.meeting == {
        "platform": "Zoom",
        "url": "https://zoom.example/j/1",
        "passcode": "2",
        "access": "public",
    }


def _update(sessions: sessionmaker[Session], event_id: str, **changes: Any) -> Event:
    with sessions() as session, session.begin():
        event = store.get_event(session, event_id)
        series: Series = event.series
        data = {
            "id": event.id,
            "title": event.title,
            "start": event.start_local,
            "end": event.end_local,
            "abstract": event.abstract,
            "status": event.status,
            "speakers": event.speakers,
            "tags": event.tags,
            **changes,
        }
        record = validate_event(data, store.series_record(series))
        updated, _ = store.upsert_event(session, series, record, SYSTEM_CLOCK.now())
        return updated


@pytest.mark.parametrize(
    ("changes", "raised"),
    [
        ({"title": "A new title"}, False),
        ({"abstract": "Another abstract"}, False),
        ({"tags": ["other"]}, False),
        ({"start": "2026-01-15 12:30"}, True),
        ({"end": "2026-01-15 14:00"}, True),
        ({"status": "cancelled"}, True),
        ({"location": "Room 2"}, True),
        ({"meeting": {"url": "https://meet.example/x"}}, True),
        ({"timezone": "Europe/London"}, True),
    ],
)
def test_sequence_rises_only_on_material_changes(
    changes: dict[str, Any],
    raised: bool,
    make_event: Callable[..., Event],
    sessions: sessionmaker[Session],
) -> None:
    event = make_event(id="seq")
    updated = _update(sessions, "seq", **changes)
    assert updated.sequence == (1 if raised else 0)
    assert updated.updated_at > event.updated_at


def test_unchanged_update_writes_nothing(
    make_event: Callable[..., Event], sessions: sessionmaker[Session]
) -> None:
    event = make_event(id="same")
    again = _update(sessions, "same")
    assert (again.sequence, again.updated_at) == (0, event.updated_at)
