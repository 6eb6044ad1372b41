"""Time rules: zone names, local wall times, instants, offsets. The one place that builds
`ZoneInfo`, resolves DST gaps and overlaps, converts instants and formats offsets and RFC 3339.

Organisers write zones as IANA names ("Asia/Shanghai") or as labels ("Beijing time").
Labels are mapped explicitly in `ZONE_LABELS`; anything else unknown is an error that
suggests close matches. Local times follow RFC 5545 §3.3.5 with one stricter rule:
a time skipped by a DST change is rejected rather than shifted. An ambiguous time
(clocks going back) is read as its first occurrence unless the record gives a UTC offset.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import pytz

from events.errors import NonexistentLocalTime, TimeError, UnknownTimezone

ZONE_LABELS: dict[str, str] = {
    "beijing time": "Asia/Shanghai",
    "china standard time": "Asia/Shanghai",
    "china time": "Asia/Shanghai",
    "shanghai time": "Asia/Shanghai",
    "hong kong time": "Asia/Hong_Kong",
    "taipei time": "Asia/Taipei",
    "tokyo time": "Asia/Tokyo",
    "japan time": "Asia/Tokyo",
    "seoul time": "Asia/Seoul",
    "singapore time": "Asia/Singapore",
    "india time": "Asia/Kolkata",
    "indian standard time": "Asia/Kolkata",
    "lisbon time": "Europe/Lisbon",
    "portugal time": "Europe/Lisbon",
    "london time": "Europe/London",
    "uk time": "Europe/London",
    "paris time": "Europe/Paris",
    "berlin time": "Europe/Berlin",
    "central european time": "Europe/Berlin",
    "moscow time": "Europe/Moscow",
    "new york time": "America/New_York",
    "eastern time": "America/New_York",
    "us eastern time": "America/New_York",
    "chicago time": "America/Chicago",
    "central time": "America/Chicago",
    "denver time": "America/Denver",
    "mountain time": "America/Denver",
    "pacific time": "America/Los_Angeles",
    "los angeles time": "America/Los_Angeles",
    "sydney time": "Australia/Sydney",
    "utc": "UTC",
    "gmt": "UTC",
    "z": "UTC",
}


class Timed(Protocol):
    """Anything with a start, an end (aware UTC instants) and its own IANA zone: a talk."""

    @property
    def start_utc(self) -> datetime:
        """Return the start instant."""

    @property
    def end_utc(self) -> datetime:
        """Return the end instant."""

    @property
    def timezone(self) -> str:
        """Return the IANA zone name."""


# The years a talk may start or end in (local wall time), at every entrance (API, CLI, every
# import format): far enough back for archives, far enough ahead for any real plan, and
# short of the ends of Python's datetime (year 1..9999), where conversions overflow.
MIN_YEAR = 1900
MAX_YEAR = 2200

UTC_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "Etc/Zulu", "Zulu", "UCT", "Universal"})

_LOCAL_TIME = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})[T ]+(?P<h>\d{1,2}):(?P<mi>\d{2})"
    r"(?::(?P<s>\d{2}))?\s*(?P<off>Z|[+-]\d{2}:?\d{2})?$"
)
_CLOCK_TIME = re.compile(r"^(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?$")


@cache
def _iana_names() -> frozenset[str]:
    return frozenset(available_timezones())


@cache
def _lower_names() -> dict[str, str]:
    return {name.lower(): name for name in _iana_names()}


SUGGESTED_AREAS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)


@cache
def zone_suggestions() -> tuple[str, ...]:
    """Return the zone names a form suggests: UTC and the common Area/City IANA names."""
    return ("UTC", *sorted(n for n in pytz.common_timezones if n.startswith(SUGGESTED_AREAS)))


def _normalise(label: str) -> str:
    return " ".join(label.replace("_", " ").split()).lower()


def resolve_zone(name: str) -> str:
    """Return the IANA name for an IANA name or a known label; raise UnknownTimezone."""
    text = name.strip()
    if text in _iana_names():
        return text
    if text.lower() in _lower_names():
        return _lower_names()[text.lower()]
    label = _normalise(text)
    if label in ZONE_LABELS:
        return ZONE_LABELS[label]
    raise UnknownTimezone(f"unknown timezone {name!r}{_suggestion(text)}")


def _suggestion(text: str) -> str:
    candidates = list(pytz.common_timezones) + list(ZONE_LABELS)
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(text.lower(), list(lowered), n=3, cutoff=0.6)
    if not close:
        city = _normalise(text).removesuffix(" time").replace(" ", "_")
        close = [c for c in lowered if c.endswith("/" + city)][:3]
    if not close:
        return " (use an IANA name such as 'Europe/Lisbon' or a label such as 'Beijing time')"
    return " (did you mean " + ", ".join(repr(lowered[c]) for c in close) + "?)"


@lru_cache(maxsize=4096)
def zone(name: str) -> ZoneInfo:
    """Return the ZoneInfo for an IANA name or a known label."""
    return _zone_info(resolve_zone(name))


@cache
def _zone_info(iana: str) -> ZoneInfo:
    try:
        return ZoneInfo(iana)
    except ZoneInfoNotFoundError as exc:  # pragma: no cover - tzdata always has resolved names
        raise UnknownTimezone(f"unknown timezone {iana!r}") from exc


@dataclass(frozen=True)
class LocalTime:
    """A wall-clock reading as written by an organiser, with an optional explicit UTC offset."""

    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int = 0
    offset: timedelta | None = None

    def text(self) -> str:
        """Return the reading as 'YYYY-MM-DD HH:MM' (seconds only when non-zero)."""
        base = f"{self.year:04d}-{self.month:02d}-{self.day:02d} {self.hour:02d}:{self.minute:02d}"
        return base + (f":{self.second:02d}" if self.second else "")


def parse_local_time(text: str) -> LocalTime:
    """Parse '2021-11-27 09:30' (optionally 'T', seconds, and a '+01:00' or 'Z' offset)."""
    match = _LOCAL_TIME.match(text.strip())
    if not match:
        raise TimeError(f"cannot read {text!r} as a date and time; write 'YYYY-MM-DD HH:MM'")
    offset = _parse_offset(match["off"]) if match["off"] else None
    return LocalTime(
        int(match["y"]),
        int(match["mo"]),
        int(match["d"]),
        int(match["h"]),
        int(match["mi"]),
        int(match["s"] or 0),
        offset,
    )


def parse_clock_time(text: str, day: LocalTime) -> LocalTime:
    """Parse 'HH:MM' as a time on the same date as `day`."""
    match = _CLOCK_TIME.match(text.strip())
    if not match:
        return parse_local_time(text)
    return LocalTime(
        day.year, day.month, day.day, int(match["h"]), int(match["mi"]), int(match["s"] or 0)
    )


def _parse_offset(text: str) -> timedelta:
    if text == "Z":
        return timedelta(0)
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))


def to_instant(local: LocalTime, zone_name: str) -> datetime:
    """Return the UTC instant of a local wall time in a zone, applying the DST rules."""
    return _resolve(local, zone_name)[0]


def read_wall_time(local: LocalTime, zone_name: str) -> tuple[datetime, str]:
    """Return the instant of a local wall time (as `to_instant`) and its `wall_time_text`."""
    instant, plain = _resolve(local, zone_name)
    # A wall time that happens once reads back as written, seconds included, no offset.
    return instant, local.text() if plain else wall_time_text(instant, zone_name)


def _resolve(local: LocalTime, zone_name: str) -> tuple[datetime, bool]:
    """Return the instant of a wall time, and whether the wall time happens exactly once."""
    if not MIN_YEAR <= local.year <= MAX_YEAR:
        check_year(local.year, local.text())
    tz = zone(zone_name)
    try:
        first = datetime(
            local.year,
            local.month,
            local.day,
            local.hour,
            local.minute,
            local.second,
            tzinfo=tz,
        )
    except ValueError as exc:
        raise TimeError(f"{local.text()!r} is not a valid date: {exc}") from exc
    second = first.replace(fold=1)
    offset = first.utcoffset()
    if offset is not None and offset == second.utcoffset():
        # Neither skipped nor repeated (both folds agree): the common case, no round trip.
        if local.offset is None or local.offset == offset:
            return first.replace(tzinfo=UTC) - offset, True
        raise TimeError(
            f"{local.text()} in {tz.key} never has the UTC offset {format_offset(local.offset)}"
        )
    try:
        first.astimezone(UTC)
    except OverflowError:
        raise TimeError(f"{local.text()!r} in {tz.key} is out of the supported range") from None
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != first.replace(tzinfo=None):
        raise NonexistentLocalTime(
            f"{local.text()} does not exist in {tz.key}: the clocks jump forward over it "
            "(daylight saving time starts); choose a time outside the gap"
        )
    if local.offset is None:
        return first.astimezone(UTC), False
    for candidate in (first, second):
        if candidate.utcoffset() == local.offset:
            return candidate.astimezone(UTC), False
    raise TimeError(
        f"{local.text()} in {tz.key} never has the UTC offset {format_offset(local.offset)}"
    )


def check_year(year: int, text: str) -> None:
    """Raise TimeError unless `year` is within MIN_YEAR..MAX_YEAR (`text`: what was read)."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise TimeError(
            f"{text!r}: year {year} is outside the supported range {MIN_YEAR}–{MAX_YEAR}"
        )


def is_ambiguous(instant: datetime, zone_name: str) -> bool:
    """Return True when the wall time of `instant` in the zone happens twice."""
    local = instant.astimezone(zone(zone_name))
    return local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()


def wall_time_text(instant: datetime, zone_name: str) -> str:
    """Return the wall time of an instant in a zone, with its offset when ambiguous."""
    local = instant.astimezone(zone(zone_name))
    text = f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"
    if local.second:
        text += f":{local.second:02d}"
    offset = local.utcoffset()
    if offset != local.replace(fold=1 - local.fold).utcoffset():  # the wall time happens twice
        text += format_offset(offset)
    return text


def format_offset(offset: timedelta | None, *, compact: bool = False) -> str:
    """Return an offset as '+01:00' (or '+0100' with `compact`, the iCalendar form)."""
    minutes = int((offset or timedelta(0)).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    separator = "" if compact else ":"
    return f"{sign}{abs(minutes) // 60:02d}{separator}{abs(minutes) % 60:02d}"


def local(instant: datetime, zone_name: str) -> datetime:
    """Return an instant as an aware datetime in the zone."""
    return instant.astimezone(zone(zone_name))


def utc(instant: datetime) -> datetime:
    """Return an aware instant in UTC."""
    return instant.astimezone(UTC)


def utc_offset_label(instant: datetime, zone_name: str) -> str:
    """Return the zone's offset at that instant as 'UTC+08:00'."""
    return "UTC" + format_offset(local(instant, zone_name).utcoffset())


def rfc3339(instant: datetime) -> str:
    """Return an instant as '2021-11-27T01:30:00Z' (RFC 3339, UTC, whole seconds)."""
    return utc(instant).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_local(instant: datetime, zone_name: str) -> str:
    """Return an instant as wall time with its offset: '2021-11-27T09:30:00+08:00'."""
    return local(instant, zone_name).isoformat(timespec="seconds")


def basic_utc(instant: datetime) -> str:
    """Return an instant as '20211127T013000Z' (iCalendar and calendar-link form)."""
    return utc(instant).strftime("%Y%m%dT%H%M%SZ")


def parse_rfc3339(text: str) -> datetime:
    """Return the aware UTC instant of an ISO 8601 date-time with an offset; raise TimeError."""
    try:
        instant = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise TimeError(f"cannot read {text!r} as a date and time with an offset") from None
    if instant.tzinfo is None:
        raise TimeError(f"{text!r} has no UTC offset")
    try:
        return utc(instant)
    except OverflowError:
        raise TimeError(f"{text!r} is out of the supported range") from None


def unambiguous_or_utc(instant: datetime, zone_name: str) -> datetime:
    """Return the instant in its zone, or in UTC when the zone's wall time happens twice.

    RFC 5545 reads an ambiguous wall time as its first occurrence and ical.js as the second;
    only UTC says it the same way to every client.
    """
    if zone_name in UTC_ZONES:
        return utc(instant)
    moment = local(instant, zone_name)
    if moment.replace(fold=0).utcoffset() != moment.replace(fold=1).utcoffset():
        return utc(instant)
    return moment


def local_midnight(day: date, zone_name: str) -> datetime:
    """Return 00:00 of a calendar day in the zone (the first such instant), aware."""
    return datetime(day.year, day.month, day.day, tzinfo=zone(zone_name))


def week_start(now: datetime, zone_name: str) -> datetime:
    """Return Monday 00:00 of the current week in the zone, as an aware datetime."""
    today = local(now, zone_name).date()
    return local_midnight(today - timedelta(days=today.weekday()), zone_name)


def utc_day_start(instant: datetime) -> datetime:
    """Return 00:00 UTC of the instant's UTC day."""
    return utc_midnight(utc(instant).date())


def utc_midnight(day: date) -> datetime:
    """Return 00:00 UTC of a calendar day."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def offset_transitions(zone_name: str, start: datetime, stop: datetime) -> list[datetime]:
    """Return the instants in [start, stop) at which the zone's UTC offset changes."""
    tz = zone(zone_name)
    found = []
    moment = start
    step = timedelta(days=1)
    while moment < stop:
        following = moment + step
        if moment.astimezone(tz).utcoffset() != following.astimezone(tz).utcoffset():
            low, high = moment, following
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if low.astimezone(tz).utcoffset() == middle.astimezone(tz).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(second=0, microsecond=0))
        moment = following
    return found


def add_minutes(local: LocalTime, minutes: int) -> LocalTime:
    """Return the wall-clock reading `minutes` later on the clock face (no zone involved)."""
    face = datetime(local.year, local.month, local.day, local.hour, local.minute, tzinfo=UTC)
    later = face + timedelta(minutes=minutes)
    return LocalTime(later.year, later.month, later.day, later.hour, later.minute)


def local_time_of(day: date, clock: time) -> LocalTime:
    """Return the wall-clock reading of a clock time on a calendar day."""
    return LocalTime(day.year, day.month, day.day, clock.hour, clock.minute, clock.second)


def local_date(instant: datetime, zone_name: str) -> date:
    """Return the calendar day of an instant in a zone."""
    return local(instant, zone_name).date()


def wall_suggestions(local: LocalTime, zone_name: str) -> list[str]:
    """Return the valid wall times ('HH:MM') nearest to one a DST gap skips, in time order:
    the reading shifted back by the gap, the moment the clocks jump to, and shifted forward.
    """
    tz = zone(zone_name)
    wall = datetime(local.year, local.month, local.day, local.hour, local.minute, tzinfo=tz)
    ends = sorted(wall.replace(fold=fold).astimezone(UTC) for fold in (0, 1))
    before = ends[0].astimezone(tz).utcoffset()
    jump = ends[0]
    while jump < ends[1] and jump.astimezone(tz).utcoffset() == before:
        jump += timedelta(minutes=1)
    walls = [instant.astimezone(tz) for instant in (ends[0], jump, ends[1])]
    return list(dict.fromkeys(f"{w:%H:%M}" for w in walls))


def ambiguous_offsets(local: LocalTime, zone_name: str) -> tuple[timedelta, timedelta] | None:
    """Return (earlier, later) UTC offsets of a wall time that happens twice, else None."""
    tz = zone(zone_name)
    try:
        wall = datetime(local.year, local.month, local.day, local.hour, local.minute, tzinfo=tz)
    except ValueError:
        return None
    first, second = wall.utcoffset(), wall.replace(fold=1).utcoffset()
    if first is None or second is None or first == second:
        return None
    # The first occurrence has the larger offset (summer time), so it is the earlier instant.
    return first, second


@cache
def zone_choices() -> tuple[tuple[str, str], ...]:
    """Return (IANA name, friendly label) pairs for zone pickers, friendliest first.

    Labels: the known ones of `ZONE_LABELS` ("Beijing time"), else "City, Country" from
    pytz's country lists; zones of `zone_suggestions` without a country keep their name.
    """
    friendly: dict[str, str] = {}
    for label, name in ZONE_LABELS.items():
        if name != "UTC" and name not in friendly and label.endswith(" time"):
            friendly[name] = label[:1].upper() + label[1:]
    for code, names in pytz.country_timezones.items():
        country = pytz.country_names.get(code, code)
        for name in names:
            city = name.rsplit("/", 1)[-1].replace("_", " ")
            friendly.setdefault(name, f"{city}, {country}")
    labelled = [(name, friendly[name]) for name in zone_suggestions() if name in friendly]
    rest = [(name, name) for name in zone_suggestions() if name not in friendly]
    return (("UTC", "UTC"), *sorted(labelled, key=lambda p: p[1]), *rest[1:])
