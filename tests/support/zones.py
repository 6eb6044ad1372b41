"""Named timezone cases: each a talk's wall times, zone and the UTC instants they must give."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class ZoneCase:
    """A talk time as an organiser writes it, and the instants it means."""

    name: str
    timezone: str
    start: str
    end: str
    start_utc: datetime
    end_utc: datetime


def utc(*parts: int) -> datetime:
    """Return an aware UTC datetime."""
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


LISBON_WINTER = ZoneCase(
    "lisbon-winter",
    "Europe/Lisbon",
    "2026-01-15 12:00",
    "2026-01-15 13:00",
    utc(2026, 1, 15, 12, 0),
    utc(2026, 1, 15, 13, 0),
)
LISBON_SUMMER = ZoneCase(
    "lisbon-summer",
    "Europe/Lisbon",
    "2026-07-15 12:00",
    "2026-07-15 13:00",
    utc(2026, 7, 15, 11, 0),
    utc(2026, 7, 15, 12, 0),
)
LISBON_SPRING_FORWARD_DAY = ZoneCase(
    "lisbon-spring-forward-day",
    "Europe/Lisbon",
    "2026-03-29 00:30",
    "2026-03-29 03:30",
    utc(2026, 3, 29, 0, 30),
    utc(2026, 3, 29, 2, 30),
)
LISBON_FALL_BACK_AMBIGUOUS = ZoneCase(
    "lisbon-fall-back-ambiguous",
    "Europe/Lisbon",
    "2026-10-25 01:30",
    "2026-10-25 02:30",
    utc(2026, 10, 25, 0, 30),
    utc(2026, 10, 25, 2, 30),
)
LISBON_FALL_BACK_SECOND = ZoneCase(
    "lisbon-fall-back-second",
    "Europe/Lisbon",
    "2026-10-25 01:30+00:00",
    "2026-10-25 02:30",
    utc(2026, 10, 25, 1, 30),
    utc(2026, 10, 25, 2, 30),
)
SHANGHAI = ZoneCase(
    "shanghai",
    "Asia/Shanghai",
    "2021-11-27 09:30",
    "2021-11-27 11:30",
    utc(2021, 11, 27, 1, 30),
    utc(2021, 11, 27, 3, 30),
)
CROSSING_MIDNIGHT_UTC = ZoneCase(
    "new-york-crossing-midnight-utc",
    "America/New_York",
    "2026-06-01 19:00",
    "2026-06-01 21:00",
    utc(2026, 6, 1, 23, 0),
    utc(2026, 6, 2, 1, 0),
)

ALL_CASES = [
    LISBON_WINTER,
    LISBON_SUMMER,
    LISBON_SPRING_FORWARD_DAY,
    LISBON_FALL_BACK_AMBIGUOUS,
    LISBON_FALL_BACK_SECOND,
    SHANGHAI,
    CROSSING_MIDNIGHT_UTC,
]
