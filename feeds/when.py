"""Human-readable times: 'Sat 27 Nov 2021, 09:30–11:30 Beijing time (01:30–03:30 Lisbon time)'.

Every function takes aware UTC instants and an IANA zone and converts with zoneinfo, so what
is shown always equals the stored instant, across DST changes.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from events.times import format_offset

# How organisers and readers name a zone; otherwise the zone's city ("Lisbon time").
ZONE_NAMES = {
    "Asia/Shanghai": "Beijing time",
    "UTC": "UTC",
    "Etc/UTC": "UTC",
}


def zone_label(zone_name: str) -> str:
    """Return a reader's name for a zone: 'Beijing time', 'Lisbon time', 'New York time'."""
    if zone_name in ZONE_NAMES:
        return ZONE_NAMES[zone_name]
    city = zone_name.rsplit("/", 1)[-1].replace("_", " ")
    return f"{city} time"


def local(instant: datetime, zone_name: str) -> datetime:
    """Return the instant as an aware datetime in the zone."""
    return instant.astimezone(ZoneInfo(zone_name))


def utc_offset(instant: datetime, zone_name: str) -> str:
    """Return the zone's offset at that instant as 'UTC+08:00'."""
    return "UTC" + format_offset(local(instant, zone_name).utcoffset())


def day(instant: datetime, zone_name: str) -> str:
    """Return the date as 'Sat 27 Nov 2021'."""
    return local(instant, zone_name).strftime("%a %d %b %Y")


def clock(instant: datetime, zone_name: str) -> str:
    """Return the time of day as '09:30'."""
    return local(instant, zone_name).strftime("%H:%M")


def span(start: datetime, end: datetime, zone_name: str, *, with_date: bool = True) -> str:
    """Return 'Sat 27 Nov 2021, 09:30–11:30 Beijing time' (both dates when they differ)."""
    same_day = day(start, zone_name) == day(end, zone_name)
    first = (
        f"{day(start, zone_name)}, {clock(start, zone_name)}"
        if with_date
        else clock(start, zone_name)
    )
    if same_day:
        text = f"{first}–{clock(end, zone_name)}"
    else:
        text = f"{first} – {day(end, zone_name)}, {clock(end, zone_name)}"
    return f"{text} {zone_label(zone_name)}"


def dual_span(start: datetime, end: datetime, zone_name: str, reader_zone: str | None) -> str:
    """Return the span in the series' zone, then in the reader's zone in parentheses."""
    main = span(start, end, zone_name)
    if not reader_zone or reader_zone == zone_name:
        return main
    same_date = day(start, zone_name) == day(start, reader_zone)
    return f"{main} ({span(start, end, reader_zone, with_date=not same_date)})"
