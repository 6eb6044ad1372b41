"""Time rules: zone names and labels, DST gaps and overlaps, explicit offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events import times
from events.errors import NonexistentLocalTime, TimeError, UnknownTimezone
from tests.support.zones import ALL_CASES, ZoneCase


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Beijing time", "Asia/Shanghai"),
        ("beijing  TIME", "Asia/Shanghai"),
        ("Lisbon time", "Europe/Lisbon"),
        ("Europe/Lisbon", "Europe/Lisbon"),
        ("europe/lisbon", "Europe/Lisbon"),
        ("UTC", "UTC"),
        ("America/New_York", "America/New_York"),
    ],
)
def test_resolve_zone_accepts_iana_names_and_labels(label: str, expected: str) -> None:
    assert times.resolve_zone(label) == expected


def test_unknown_zone_suggests_close_matches() -> None:
    with pytest.raises(UnknownTimezone) as info:
        times.resolve_zone("Europe/Lisbn")
    assert "Europe/Lisbon" in str(info.value)


def test_unknown_city_label_suggests_the_iana_zone() -> None:
    with pytest.raises(UnknownTimezone) as info:
        times.resolve_zone("Paris tim")
    assert "did you mean" in str(info.value)


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_named_cases_give_their_instants(case: ZoneCase) -> None:
    start = times.to_instant(times.parse_local_time(case.start), case.timezone)
    end = times.to_instant(times.parse_local_time(case.end), case.timezone)
    assert (start, end) == (case.start_utc, case.end_utc)


def test_nonexistent_local_time_is_rejected_with_a_clear_message() -> None:
    with pytest.raises(NonexistentLocalTime) as info:
        times.to_instant(times.parse_local_time("2026-03-29 01:30"), "Europe/Lisbon")
    message = str(info.value)
    assert "2026-03-29 01:30 does not exist in Europe/Lisbon" in message
    assert "jump forward" in message


def test_offset_that_the_zone_never_has_is_rejected() -> None:
    with pytest.raises(TimeError, match=r"never has the UTC offset \+05:00"):
        times.to_instant(times.parse_local_time("2026-10-25 01:30+05:00"), "Europe/Lisbon")


@pytest.mark.parametrize("text", ["2021-9-25 9:30", "2021-09-25T09:30", "2021-09-25 09:30:00"])
def test_organiser_formats_are_read(text: str) -> None:
    parsed = times.parse_local_time(text)
    assert (parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute) == (
        2021,
        9,
        25,
        9,
        30,
    )


@pytest.mark.parametrize("text", ["next friday", "2021-13-45", "09:30", "2021/09/25 09:30"])
def test_unreadable_times_are_errors(text: str) -> None:
    with pytest.raises(TimeError):
        times.to_instant(times.parse_local_time(text), "UTC")


def test_wall_time_text_marks_the_second_occurrence_with_its_offset() -> None:
    first = times.to_instant(times.parse_local_time("2026-10-25 01:30"), "Europe/Lisbon")
    second = times.to_instant(times.parse_local_time("2026-10-25 01:30+00:00"), "Europe/Lisbon")
    assert times.wall_time_text(first, "Europe/Lisbon") == "2026-10-25 01:30+01:00"
    assert times.wall_time_text(second, "Europe/Lisbon") == "2026-10-25 01:30+00:00"
    summer = times.to_instant(times.parse_local_time("2026-07-01 10:00"), "Europe/Lisbon")
    assert times.wall_time_text(summer, "Europe/Lisbon") == "2026-07-01 10:00"


def _reference_instant(local: times.LocalTime, zone_name: str) -> datetime:
    """The rules spelled out slowly: a round trip finds gaps, the fold picks an occurrence."""
    tz = times.zone(zone_name)
    wall = datetime(local.year, local.month, local.day, local.hour, local.minute, tzinfo=tz)
    if wall.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall.replace(tzinfo=None):
        raise NonexistentLocalTime("in a gap")
    for candidate in (wall, wall.replace(fold=1)):
        if local.offset is None or candidate.utcoffset() == local.offset:
            return candidate.astimezone(UTC)
    raise TimeError("never has that offset")


@pytest.mark.parametrize(
    "zone_name",
    [
        "Europe/Lisbon",
        "America/New_York",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "America/Santiago",
    ],
)
def test_wall_times_near_every_change_read_as_the_slow_rules_say(zone_name: str) -> None:
    # `to_instant` skips the round trip when both folds agree; around each change of 2026
    # and 2150 (the zone's yearly rule), every quarter hour must still read as the rules say,
    # and `read_wall_time` must give the text `wall_time_text` gives.
    tz = times.zone(zone_name)
    changes = [
        change
        for year in (2026, 2150)
        for change in times.offset_transitions(
            zone_name, datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
        )
    ]
    assert len(changes) == 4
    for change in changes:
        for minutes in range(-150, 151, 15):
            wall = (change + timedelta(minutes=minutes)).astimezone(tz)
            for offset in (None, wall.utcoffset(), timedelta(hours=-3)):
                local = times.LocalTime(
                    wall.year, wall.month, wall.day, wall.hour, wall.minute, 0, offset
                )
                try:
                    expected: object = _reference_instant(local, zone_name)
                except TimeError as exc:
                    expected = type(exc)
                try:
                    instant, text = times.read_wall_time(local, zone_name)
                except TimeError as exc:
                    assert type(exc) is expected, (local, zone_name)
                    continue
                assert instant == expected, (local, zone_name)
                assert instant == times.to_instant(local, zone_name)
                assert text == times.wall_time_text(instant, zone_name)
