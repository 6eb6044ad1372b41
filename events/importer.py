"""Import series and talks from YAML, JSON, CSV and iCalendar files, all or nothing.

Every file is read and parsed first; then one transaction validates and writes every
record. The first bad record aborts the whole import with a message naming the file, the
record and the field, and the database is left as it was.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import yaml
from dateutil.rrule import rruleset, rrulestr
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from events import schedules, store, times
from events.clock import SYSTEM_CLOCK, Clock
from events.errors import EventFeedError, ImportFailed, InvalidRecord, TimeError
from events.models import Event, Series
from events.schemas import (
    EVENT_ID_PATTERN,
    EventRecord,
    SeriesRecord,
    validate_event,
    validate_series,
)

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_RECORDS = 100_000
# Occurrences one recurring .ics event may expand to.
MAX_OCCURRENCES = 1000
# Limits enforced before a file is parsed in full, so refusing any upload stays far below
# 100 MB of memory (README "Limits and hardening"): CSV rows are counted by a streaming pass
# first; JSON objects are counted outside strings first (a talk holds a few: itself, its
# speakers, its place); YAML (PyYAML holds ~50 bytes of nodes per byte of file) is limited
# by size: use CSV or JSON for imports beyond a few thousand talks.
MAX_JSON_OBJECTS = 4 * MAX_RECORDS
MAX_YAML_BYTES = 1_500_000
FORMATS = ("yaml", "json", "csv", "ics")
PROGRESS_EVERY = 200  # talks between two `on_progress` calls of `apply`


@dataclass
class EventInput:
    """One event's raw fields, where they came from and the series it belongs to."""

    where: str
    series: str | None
    data: dict[str, object]


@dataclass
class Parsed:
    """The raw records of one or more files, before validation."""

    series: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    events: list[EventInput] = field(default_factory=list)
    # (where, series slug, raw `schedule` block) of series that carry one
    schedules: list[tuple[str, str, object]] = field(default_factory=list)


@dataclass
class ImportReport:
    """Counts of what an import did."""

    series: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0}
    )
    events: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0}
    )
    event_ids: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Return a one-line human summary."""

        def part(counts: dict[str, int]) -> str:
            return ", ".join(f"{n} {action}" for action, n in counts.items())

        text = f"series: {part(self.series)}; events: {part(self.events)}"
        if self.cancelled:
            text += f"; {len(self.cancelled)} missing talk(s) cancelled"
        return text


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors/aliases (no billion-laughs) and without implicit timestamps."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in yaml's stubs
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


_NoAliasLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def detect_format(path: Path, explicit: str | None = None) -> str:
    """Return the format of a file from --format or its extension."""
    if explicit:
        return explicit
    suffix = path.suffix.lower().lstrip(".")
    fmt = {"yml": "yaml", "ical": "ics", "ifb": "ics"}.get(suffix, suffix)
    if fmt not in FORMATS:
        raise ImportFailed(
            f"{path}: unknown file type {path.suffix!r}; use .yaml, .json, .csv or .ics"
        )
    return fmt


def read_text(name: str, raw: bytes) -> str:
    """Decode UTF-8 (a BOM is allowed) with a clear error."""
    if len(raw) > MAX_FILE_BYTES:
        raise ImportFailed(
            f"{name}: file is {len(raw):,} bytes, above the {MAX_FILE_BYTES:,}-byte limit"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailed(
            f"{name}: not UTF-8 text (bad byte at offset {exc.start}); save the file as UTF-8"
        ) from None


def parse_bytes(
    name: str,
    raw: bytes,
    fmt: str,
    default_series: str | None = None,
    now: datetime | None = None,
) -> Parsed:
    """Parse one file's bytes into raw records; raise ImportFailed on malformed input.

    `now` bounds the expansion of open-ended .ics recurrences (a year ahead of it).
    """
    parsers: dict[str, Callable[[str, bytes, str | None], Parsed]] = {
        "yaml": _parse_yaml,
        "json": _parse_json,
        "csv": _parse_csv,
        "ics": lambda n, r, d: _parse_ics(n, r, d, now),
    }
    try:
        parsed = parsers[fmt](name, raw, default_series)
    except RecursionError:
        raise ImportFailed(f"{name}: nested too deeply to be an import file") from None
    if len(parsed.events) + len(parsed.series) > MAX_RECORDS:
        raise ImportFailed(f"{name}: more than {MAX_RECORDS:,} records in one import")
    if not parsed.events and not parsed.series:
        raise ImportFailed(f"{name}: no talks found")
    return parsed


def _parse_yaml(name: str, raw: bytes, default_series: str | None) -> Parsed:
    if len(raw) > MAX_YAML_BYTES:
        raise ImportFailed(
            f"{name}: YAML file is {len(raw):,} bytes, above the {MAX_YAML_BYTES:,}-byte limit "
            "for YAML (about 5,000 talks); import larger sets as CSV or JSON"
        )
    try:
        doc = yaml.load(read_text(name, raw), Loader=_NoAliasLoader)
    except yaml.YAMLError as exc:
        raise ImportFailed(f"{name}: not valid YAML: {' '.join(str(exc).split())}") from None
    return _parse_document(name, doc, default_series)


MAX_NUMBER_DIGITS = 100


class UnreadableNumber(ValueError):
    """A JSON number no record can hold: too many digits, NaN or Infinity."""


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise UnreadableNumber(f"a number has {len(text):,} digits (at most {MAX_NUMBER_DIGITS})")
    return int(text)


def _json_constant(text: str) -> float:
    raise UnreadableNumber(f"{text} is not a JSON number")


def load_json(text: str) -> Any:
    """Parse JSON text; a huge integer, NaN or Infinity raises UnreadableNumber (ValueError).

    (Python refuses integers above 4,300 digits with a ValueError that is no JSON error.)
    """
    return json.loads(text, parse_int=_json_int, parse_constant=_json_constant)


_JSON_STRING_OR_OBJECT = re.compile(r'"(?:[^"\\]|\\.)*"|\{')


def _count_json_objects(text: str, limit: int) -> int:
    """Count the objects ('{' outside strings) of JSON text, stopping past `limit`."""
    if text.count("{") <= limit:
        return text.count("{")
    found = 0
    for match in _JSON_STRING_OR_OBJECT.finditer(text):
        if match.group() == "{":
            found += 1
            if found > limit:
                break
    return found


def _parse_json(name: str, raw: bytes, default_series: str | None) -> Parsed:
    text = read_text(name, raw)
    if _count_json_objects(text, MAX_JSON_OBJECTS) > MAX_JSON_OBJECTS:
        raise ImportFailed(
            f"{name}: more than {MAX_JSON_OBJECTS:,} JSON objects; at most {MAX_RECORDS:,} "
            "records in one import"
        )
    try:
        doc = load_json(text)
    except json.JSONDecodeError as exc:
        raise ImportFailed(f"{name}: not valid JSON: {exc}") from None
    except UnreadableNumber as exc:
        raise ImportFailed(f"{name}: not valid here: {exc}") from None
    return _parse_document(name, doc, default_series)


def _parse_document(name: str, doc: Any, default_series: str | None) -> Parsed:
    """Collect the series and events of a YAML/JSON import document."""
    if not isinstance(doc, dict) or not ({"series", "events"} & set(doc)):
        raise ImportFailed(
            f"{name}: expected a mapping with a 'series' list (and/or an 'events' list)"
        )
    unknown = set(doc) - {"series", "events"}
    if unknown:
        raise ImportFailed(
            f"{name}: unknown top-level key(s): {', '.join(sorted(map(str, unknown)))}"
        )
    parsed = Parsed()
    for key in ("series", "events"):
        if isinstance(doc.get(key), list) and len(doc[key]) > MAX_RECORDS:
            raise ImportFailed(f"{name}: more than {MAX_RECORDS:,} records in one import")
    for i, item in enumerate(_as_list(name, doc.get("series"), "series")):
        where = f"{name}: series #{i + 1}"
        if not isinstance(item, dict):
            raise ImportFailed(f"{where}: must be a mapping of fields")
        item = dict(item)
        schedule = item.pop("schedule", None)
        parsed.series.append((f"{name}: ", item))
        slug = item.get("slug") if isinstance(item.get("slug"), str) else None
        if schedule is not None and slug is not None:
            parsed.schedules.append((f"{name}: series {slug!r}", slug, schedule))
        for j, ev in enumerate(_as_list(f"{where}", item.get("events"), "events")):
            _flatten(
                f"{name}: series {slug!r} event #{j + 1}",
                slug,
                _mapping(f"{where} event #{j + 1}", ev),
                parsed.events,
            )
    for j, ev in enumerate(_as_list(name, doc.get("events"), "events")):
        data = _mapping(f"{name}: event #{j + 1}", ev)
        slug = data.pop("series", default_series)
        _flatten(
            f"{name}: event #{j + 1}", slug if isinstance(slug, str) else None, data, parsed.events
        )
    return parsed


def _flatten(where: str, slug: str | None, data: dict[str, Any], out: list[EventInput]) -> None:
    """Add an event; a session's `talks` (a workshop's `items`) follow it, each with `parent`.

    An item's `start`/`end` may be clock times ("10:30") on the block's day; an item with a
    `duration` (minutes) and no start follows the previous one (the first starts the block).
    """
    children = data.pop("items", None)
    talks = data.pop("talks", None)
    if children is None:
        children = talks
    out.append(EventInput(where, slug, data))
    if children is None:
        return
    data.setdefault("kind", "session")
    parent_id = data.get("id")
    try:
        cursor = times.parse_local_time(str(data.get("start", "")))
    except EventFeedError:
        raise ImportFailed(f"{where}: field 'start': a block with items needs its start") from None
    for k, raw in enumerate(_as_list(where, children, "items")):
        item = _mapping(f"{where} item #{k + 1}", raw)
        label = f"{where} item #{k + 1}"
        item["parent"] = parent_id
        item.setdefault("id", f"{parent_id}-{k + 1:02d}")
        if "timezone" in data:
            item.setdefault("timezone", data["timezone"])
        duration = item.pop("duration", None)
        try:
            start = times.parse_clock_time(str(item.get("start", cursor.text())), cursor)
            item["start"] = start.text()
            if "end" in item:
                end = times.parse_clock_time(str(item["end"]), start)
            elif isinstance(duration, int) and not isinstance(duration, bool) and duration > 0:
                end = times.add_minutes(start, duration)
            else:
                raise ImportFailed(f"{label}: field 'end' is missing (or give 'duration' minutes)")
        except EventFeedError as exc:
            if isinstance(exc, ImportFailed):
                raise
            raise ImportFailed(f"{label}: {exc}") from None
        item["end"] = end.text()
        cursor = end
        out.append(EventInput(f"{label} (event {item['id']!r})", slug, item))


def _as_list(where: str, value: Any, key: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ImportFailed(f"{where}: '{key}' must be a list")
    return value


def _mapping(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ImportFailed(f"{where}: must be a mapping of fields")
    return dict(value)


CSV_LIST_SEPARATOR = ";"
CSV_MEETING_PREFIX = "meeting_"
# Columns `title@en`, `abstract@en`: a talk's title and abstract in another language.
CSV_TRANSLATION_MARK = "@"


def _parse_csv(name: str, raw: bytes, default_series: str | None) -> Parsed:
    text = read_text(name, raw)
    try:
        # A streaming pass counts the rows first: a million tiny rows are refused without
        # building a million records.
        count = sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - 1
        if count > MAX_RECORDS:
            raise ImportFailed(
                f"{name}: {count:,} rows, more than {MAX_RECORDS:,} records in one import"
            )
        rows = csv.DictReader(io.StringIO(text, newline=""))
        return _csv_records(name, rows, default_series)
    except csv.Error as exc:
        raise ImportFailed(f"{name}: not valid CSV: {exc}") from None


def _csv_records(name: str, rows: Iterable[dict[str, Any]], default_series: str | None) -> Parsed:
    parsed = Parsed()
    for line, row in enumerate(rows, start=2):
        if None in row:
            raise ImportFailed(f"{name}: row {line}: more cells than header columns")
        data = {k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip()}
        slug = data.pop("series", default_series)
        meeting = {
            k.removeprefix(CSV_MEETING_PREFIX): data.pop(k)
            for k in list(data)
            if k.startswith(CSV_MEETING_PREFIX)
        }
        if meeting:
            data["meeting"] = meeting
        if "speakers" in data:
            data["speakers"] = [
                _csv_speaker(s) for s in data["speakers"].split(CSV_LIST_SEPARATOR) if s.strip()
            ]
        translations: dict[str, dict[str, str]] = {}
        for key in [k for k in data if CSV_TRANSLATION_MARK in k]:
            part, tag = key.split(CSV_TRANSLATION_MARK, 1)
            translations.setdefault(tag, {})[part] = data.pop(key)
        if translations:
            data["translations"] = translations
        for listed in ("tags", "posters"):
            if listed in data:
                data[listed] = [
                    t.strip() for t in data[listed].split(CSV_LIST_SEPARATOR) if t.strip()
                ]
        parsed.events.append(
            EventInput(f"{name}: row {line} (event {data.get('id', '?')!r})", slug, data)
        )
    return parsed


_CSV_SPEAKER = re.compile(r"\s*(?P<name>[^()]+?)\s*(?:\((?P<aff>.*)\))?\s*")


def _csv_speaker(text: str) -> dict[str, str]:
    match = _CSV_SPEAKER.fullmatch(text)
    if not match:
        return {"name": text.strip()}
    speaker = {"name": match["name"]}
    if match["aff"]:
        speaker["affiliation"] = match["aff"].strip()
    return speaker


ICS_STATUS = {"CONFIRMED": "confirmed", "TENTATIVE": "tentative", "CANCELLED": "cancelled"}


def _parse_ics(
    name: str, raw: bytes, default_series: str | None, now: datetime | None = None
) -> Parsed:
    read_text(name, raw)
    try:
        calendars = icalendar.Calendar.from_ical(raw, multiple=True)
    except (ValueError, KeyError, IndexError) as exc:
        raise ImportFailed(f"{name}: not a valid iCalendar file: {exc}") from None
    if not calendars:
        raise ImportFailed(f"{name}: no VCALENDAR found")
    parsed = Parsed()
    today = (now or datetime.now(UTC)).date()
    for calendar in calendars:
        calendar_zone = _calendar_zone(calendar)
        by_uid: dict[str, list[tuple[str, Any]]] = {}
        for k, vevent in enumerate(calendar.walk("VEVENT")):
            where = f"{name}: VEVENT #{k + 1}"
            uid = str(vevent.get("UID", "")).strip()
            if not uid:
                raise ImportFailed(f"{where}: field 'UID' is missing")
            by_uid.setdefault(uid, []).append((f"{where} (UID {uid!r})", vevent))
        for uid, components in by_uid.items():
            for where, data in expand_recurrence(uid, components, calendar_zone, today):
                parsed.events.append(EventInput(where, default_series, data))
                if len(parsed.events) > MAX_RECORDS:
                    raise ImportFailed(f"{name}: more than {MAX_RECORDS:,} records in one import")
    if not parsed.events:
        raise ImportFailed(f"{name}: no talks found (no VEVENT)")
    return parsed


def _instants(prop: Any) -> list[datetime]:
    """Return the date-times of an RDATE/EXDATE property (one or several lines)."""
    found: list[datetime] = []
    for line in prop if isinstance(prop, list) else [prop]:
        for value in getattr(line, "dts", []):
            if isinstance(value.dt, datetime) and value.dt.tzinfo is not None:
                found.append(times.utc(value.dt))
    return found


def expand_recurrence(
    uid: str, components: list[tuple[str, Any]], calendar_zone: str | None, today: date
) -> list[tuple[str, dict[str, Any]]]:
    """Return the talks of one UID: its occurrences when it recurs, else the event itself.

    RRULE and RDATE occurrences are expanded by dateutil in the wall time of DTSTART's zone
    (a weekly 09:30 stays 09:30 across DST); EXDATE removes occurrences; a VEVENT with a
    RECURRENCE-ID replaces the occurrence it names (a moved or cancelled session, Indico's
    way). Each occurrence is a talk with id '<id>-<YYYYMMDD>' (with '-HHMM' when a day has
    several). An open-ended rule is expanded until a year ahead of `today`; more than
    MAX_OCCURRENCES occurrences is an error.
    """
    masters = [(w, c) for w, c in components if "RECURRENCE-ID" not in c]
    overrides = [(w, c) for w, c in components if "RECURRENCE-ID" in c]
    if len(masters) > 1:
        raise ImportFailed(f"{masters[1][0]}: UID {uid!r} appears twice")
    if not masters:
        raise ImportFailed(f"{overrides[0][0]}: RECURRENCE-ID without its recurring event")
    where, master = masters[0]
    base = _ics_event(where, uid, master, calendar_zone)
    if "RRULE" not in master and "RDATE" not in master:
        if overrides:
            raise ImportFailed(f"{overrides[0][0]}: RECURRENCE-ID of an event that does not recur")
        return [(where, base)]
    zone_name = str(base["timezone"])
    first = times.to_instant(times.parse_local_time(str(base["start"])), zone_name)
    last = times.to_instant(
        times.parse_clock_time(str(base["end"]), times.parse_local_time(str(base["start"]))),
        zone_name,
    )
    length = last - first
    dtstart = times.local(first, zone_name)
    ruleset = rruleset()
    bounded = True
    rules = master.get("RRULE")
    for rule in rules if isinstance(rules, list) else ([rules] if rules is not None else []):
        text = rule.to_ical().decode()
        bounded = bounded and ("UNTIL=" in text or "COUNT=" in text)
        try:
            ruleset.rrule(rrulestr(text, dtstart=dtstart))  # type: ignore[arg-type]  # str form gives one rrule
        except (ValueError, TypeError) as exc:
            raise ImportFailed(f"{where}: field 'RRULE': {exc}") from None
    rdates = _instants(master.get("RDATE", []))
    for moment in rdates:
        ruleset.rdate(times.local(moment, zone_name))
    excluded = set(_instants(master.get("EXDATE", [])))
    horizon = datetime.combine(
        max(today, dtstart.date()) + timedelta(days=365), datetime.min.time(), UTC
    )
    starts: list[datetime] = []
    for moment in ruleset:
        if not bounded and moment > horizon:
            break
        wall = times.LocalTime(
            moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second
        )
        try:
            instant = times.to_instant(wall, zone_name)
        except EventFeedError as exc:
            raise ImportFailed(f"{where}: field 'RRULE': {exc}") from None
        if instant not in excluded:
            starts.append(instant)
        if len(starts) > MAX_OCCURRENCES:
            raise ImportFailed(f"{where}: field 'RRULE': more than {MAX_OCCURRENCES:,} occurrences")
    days = [times.local_date(t, zone_name) for t in starts]
    several = len(set(days)) < len(days)
    replaced: dict[datetime, tuple[str, Any]] = {}
    for o_where, component in overrides:
        value = component.decoded("RECURRENCE-ID")
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ImportFailed(f"{o_where}: field 'RECURRENCE-ID' must be a date-time with a zone")
        replaced[times.utc(value)] = (o_where, component)
    found: list[tuple[str, dict[str, Any]]] = []
    for instant in sorted(set(starts) | set(replaced)):
        local = times.local(instant, zone_name)
        suffix = f"{local:%Y%m%d}" + (f"-{local:%H%M}" if several else "")
        occurrence_id = f"{base['id']}-{suffix}"[:100]
        if instant in replaced:
            o_where, component = replaced[instant]
            data = _ics_event(o_where, uid, component, calendar_zone)
            found.append((o_where, {**data, "id": occurrence_id}))
            continue
        data = dict(base)
        data["id"] = occurrence_id
        data["start"] = times.wall_time_text(instant, zone_name)
        data["end"] = times.wall_time_text(instant + length, zone_name)
        found.append((f"{where} occurrence {local:%Y-%m-%d}", data))
    return found


def _calendar_zone(calendar: Any) -> str | None:
    label = calendar.get("X-WR-TIMEZONE")
    if not label:
        return None
    try:
        return times.resolve_zone(str(label))
    except EventFeedError:
        return None


def event_id_from_uid(uid: str) -> str:
    """Return a URL-safe event id for an iCalendar UID (its local part when already safe)."""
    local = uid.split("@", 1)[0]
    if re.fullmatch(EVENT_ID_PATTERN, local):
        return local
    return "ics-" + hashlib.sha256(uid.encode()).hexdigest()[:20]


def _ics_zone(prop: Any, value: datetime, calendar_zone: str | None) -> str:
    """Return the IANA zone of an iCalendar date-time: its TZID, else X-WR-TIMEZONE, else UTC."""
    key = getattr(value.tzinfo, "key", None)
    if key and key not in ("UTC", "Etc/UTC"):
        return str(key)
    tzid = str(getattr(prop, "params", {}).get("TZID", "")).strip()
    if tzid:
        mapped = WINDOWS_TO_OLSON.get(tzid, tzid)
        try:
            return times.resolve_zone(mapped)
        except EventFeedError:
            pass
    if key is None and value.utcoffset() != timedelta(0):
        raise ValueError(f"zone {tzid!r} is not a known IANA or Windows zone")
    return calendar_zone or "UTC"


def _ics_time(
    where: str, name: str, prop: Any, value: Any, calendar_zone: str | None
) -> tuple[str, str]:
    if not isinstance(value, datetime):
        if isinstance(value, date):
            raise ImportFailed(
                f"{where}: field '{name}': all-day events are not supported; give a start time"
            )
        raise ImportFailed(f"{where}: field '{name}' is missing or not a date-time")
    tzid = str(getattr(prop, "params", {}).get("TZID", "")).strip()
    if value.tzinfo is None and tzid:
        raise ImportFailed(
            f"{where}: field '{name}': unknown TZID {tzid!r} (neither an IANA or Windows zone "
            "nor a VTIMEZONE of the file)"
        )
    if value.tzinfo is None:
        raise ImportFailed(
            f"{where}: field '{name}': floating time (no TZID); give the time a zone"
        )
    try:
        times.check_year(value.year, value.strftime("%Y-%m-%d %H:%M"))
    except TimeError as exc:
        raise ImportFailed(f"{where}: field '{name}': {exc}") from None
    try:
        zone_name = _ics_zone(prop, value, calendar_zone)
        instant = times.utc(value)
    except (ValueError, OverflowError) as exc:
        raise ImportFailed(f"{where}: field '{name}': {exc}") from None
    if prop is not None and instant.astimezone(value.tzinfo).replace(tzinfo=None) != value.replace(
        tzinfo=None
    ):
        raise ImportFailed(
            f"{where}: field '{name}': {value:%Y-%m-%d %H:%M} does not exist in "
            f"{tzid or zone_name}: the clocks jump forward over it (daylight saving time "
            "starts); give a time outside the gap"
        )
    return zone_name, times.wall_time_text(instant, zone_name)


def _ics_event(where: str, uid: str, vevent: Any, calendar_zone: str | None) -> dict[str, Any]:
    start_value = vevent.decoded("DTSTART", None)
    zone_name, start = _ics_time(
        where, "DTSTART", vevent.get("DTSTART"), start_value, calendar_zone
    )
    if "DTEND" in vevent:
        _, end = _ics_time(where, "DTEND", vevent.get("DTEND"), vevent.decoded("DTEND"), zone_name)
    elif "DURATION" in vevent and isinstance(start_value, datetime):
        length = vevent.decoded("DURATION")
        if not isinstance(length, timedelta):
            raise ImportFailed(f"{where}: field 'DURATION': not a duration: {length!s:.40}")
        try:
            finish = start_value + length
        except OverflowError:
            raise ImportFailed(
                f"{where}: field 'DURATION': {vevent['DURATION'].to_ical().decode():.40} "
                "ends beyond any supported date"
            ) from None
        _, end = _ics_time(where, "DURATION", None, finish, zone_name)
    else:
        raise ImportFailed(f"{where}: field 'DTEND' is missing (and no DURATION)")
    data: dict[str, Any] = {
        "id": event_id_from_uid(uid),
        "title": str(vevent.get("SUMMARY", "")).strip() or "(untitled)",
        "start": start,
        "end": end,
        "abstract": str(vevent.get("DESCRIPTION", "")),
        "status": ICS_STATUS.get(str(vevent.get("STATUS", "CONFIRMED")).upper(), "confirmed"),
    }
    data["timezone"] = zone_name
    if vevent.get("LOCATION"):
        data["location"] = str(vevent["LOCATION"])
    if vevent.get("URL"):
        data["homepage"] = str(vevent["URL"])
    categories = vevent.get("CATEGORIES")
    if categories:
        groups = categories if isinstance(categories, list) else [categories]
        data["tags"] = [str(c) for group in groups for c in group.cats]
    return data


def read_files(
    paths: Iterable[Path],
    fmt: str | None = None,
    default_series: str | None = None,
    now: datetime | None = None,
) -> Parsed:
    """Read and parse every file; raise ImportFailed before anything is written."""
    combined = Parsed()
    for path in paths:
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise ImportFailed(
                    f"{path}: file is {size:,} bytes, above the {MAX_FILE_BYTES:,}-byte limit"
                )
            raw = path.read_bytes()
        except OSError as exc:
            raise ImportFailed(f"{path}: cannot read: {exc.strerror or exc}") from None
        parsed = parse_bytes(str(path), raw, detect_format(path, fmt), default_series, now)
        combined.series.extend(parsed.series)
        combined.events.extend(parsed.events)
        combined.schedules.extend(parsed.schedules)
    return combined


def apply(
    session: Session,
    parsed: Parsed,
    now: datetime,
    progress: bool | None = None,
    *,
    cancel_missing: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Validate and write every record in the caller's transaction; raise on the first error.

    With `cancel_missing`, the upcoming talks of the file's series that the file does not
    list are cancelled (see `missing_talks`). `on_progress(done, total)` is called every
    `PROGRESS_EVERY` talks checked (it must not write in the caller's transaction).
    """
    report = ImportReport()
    slugs = [str(d["slug"]) for _, d in parsed.series if isinstance(d.get("slug"), str)]
    store.lock_series(session, slugs + [e.series for e in parsed.events if e.series])
    known: dict[str, tuple[Series, SeriesRecord]] = {}
    for where, data in parsed.series:
        record = validate_series(data, where=where)
        series, outcome = store.upsert_series(session, record, now)
        report.series[outcome.action] += 1
        known[record.slug] = (series, record)
    for where, slug, block in parsed.schedules:
        series = known[slug][0]
        spec = schedules.parse(block, series.timezone, where=where, today=now.date())
        schedules.store(session, series, spec, now)
    seen: dict[str, str] = {}
    show = sys.stderr.isatty() if progress is None else progress
    # One SELECT per 500 talks (not one per talk), and no flush between talks: the rows go
    # out in batched INSERTs, so the series' feed-stamp triggers run a few times, not per talk.
    stored = store.existing_events(session, _event_ids(parsed))
    with session.no_autoflush:
        _apply_events(session, parsed, now, show, known, stored, seen, report, on_progress)
    session.flush()
    if cancel_missing:
        for talk in missing_talks(session, parsed, known, seen, now):
            cancelled = validate_event(
                {**event_input(talk), "status": "cancelled"}, store.series_record(talk.series)
            )
            store.upsert_event(session, talk.series, cancelled, now)
            report.cancelled.append(talk.id)
        session.flush()
    for series, _ in known.values():
        schedules.sync_slots(session, series, now)
    return report


def _event_ids(parsed: Parsed) -> list[str]:
    ids = [item.data.get("id") for item in parsed.events]
    return [i for i in ids if isinstance(i, str)]


def _apply_events(
    session: Session,
    parsed: Parsed,
    now: datetime,
    show: bool,
    known: dict[str, tuple[Series, SeriesRecord]],
    stored: dict[str, Event],
    seen: dict[str, str],
    report: ImportReport,
    on_progress: Callable[[int, int], None] | None = None,
) -> None:
    new: dict[str, list[EventRecord]] = {}  # talks to create, by series: inserted in bulk
    total = len(parsed.events)
    for done, item in enumerate(
        tqdm(parsed.events, desc="importing", unit="talk", disable=not show, file=sys.stderr)
    ):
        if on_progress is not None and done and done % PROGRESS_EVERY == 0:
            on_progress(done, total)
        series, event_record = _check_event(session, item, known, seen)
        report.event_ids.append(event_record.id)
        existing = stored.get(event_record.id)
        plain = event_record.kind == "talk" and event_record.parent_id is None
        if existing is None and plain:
            new.setdefault(series.slug, []).append(event_record)
            report.events["created"] += 1
            continue
        # Sessions, workshops and their items go one by one: an item is checked against its
        # block, which must be in the session (flushed) before the item arrives.
        _, outcome = store.upsert_event(session, series, event_record, now, existing=existing)
        report.events[outcome.action] += 1
        if not plain:
            session.flush()
    session.flush()
    for slug, records in new.items():
        store.create_events(session, known[slug][0], records, now)


def _check_event(
    session: Session,
    item: EventInput,
    known: dict[str, tuple[Series, SeriesRecord]],
    seen: dict[str, str],
) -> tuple[Series, EventRecord]:
    """Validate one event of an import (its series, fields, uniqueness); raise InvalidRecord."""
    if item.series is None:
        raise InvalidRecord(
            item.where,
            [("series", "missing: say which series the event belongs to (--series SLUG)")],
        )
    if item.series not in known:
        try:
            series = store.get_series(session, item.series)
        except EventFeedError:
            raise InvalidRecord(
                item.where, [("series", f"no series with slug {item.series!r}")]
            ) from None
        known[item.series] = (series, store.series_record(series))
    series, series_rec = known[item.series]
    event_record = validate_event(item.data, series_rec, where=item.where + ": ")
    first = seen.get(event_record.id)
    if first is not None:
        message = f"{event_record.id!r} appears twice in this import (first at {first})"
        raise InvalidRecord(item.where, [("id", message)])
    seen[event_record.id] = item.where
    return series, event_record


def event_input(event: Event) -> dict[str, Any]:
    """Return a stored event as an import mapping (what validate_event reads back)."""
    return {
        "id": event.id,
        "title": event.title,
        "speakers": [dict(s) for s in event.speakers],
        "abstract": event.abstract,
        "timezone": event.timezone,
        "start": event.start_local,
        "end": event.end_local,
        "location": dict(event.location),
        "meeting": dict(event.meeting) if event.meeting else None,
        "livestream": event.livestream,
        "recording": event.recording,
        "slides": event.slides,
        "homepage": event.homepage,
        "status": event.status,
        "tags": list(event.tags),
        "kind": event.kind,
        "parent": event.parent_id,
        "posters": list(event.posters),
        "topics": list(event.topics),
        "translations": {tag: dict(t) for tag, t in event.translations.items()},
    }


def missing_talks(
    session: Session,
    parsed: Parsed,
    known: dict[str, tuple[Series, SeriesRecord]],
    seen: dict[str, str],
    now: datetime,
) -> list[Event]:
    """Upcoming, not cancelled talks of the file's series that the file does not list.

    Only series the file gives talks for count; past talks, TBA slots of a schedule and
    talks already cancelled are never listed (nor cancelled by `cancel_missing`).
    """
    slugs = {item.series for item in parsed.events if item.series in known}
    ids = [known[slug][0].id for slug in sorted(s for s in slugs if s is not None)]
    if not ids:
        return []
    query = (
        select(Event)
        .where(
            Event.series_id.in_(ids),
            Event.end_utc >= now,
            Event.status != "cancelled",
            Event.kind != "tba",
        )
        .order_by(Event.start_utc, Event.id)
    )
    return [talk for talk in session.scalars(query) if talk.id not in seen]


def import_files(
    factory: sessionmaker[Session],
    paths: Iterable[Path],
    *,
    fmt: str | None = None,
    default_series: str | None = None,
    progress: bool | None = None,
    clock: Clock = SYSTEM_CLOCK,
    cancel_missing: bool = False,
) -> ImportReport:
    """Import files in one transaction: everything is written, or nothing."""
    moment = clock.now()
    with _collector_paused():
        read = [read_files(list(paths), fmt, default_series, moment)]
        report = store.write_retrying(
            factory,
            lambda session: apply(
                session, read[0], moment, progress, cancel_missing=cancel_missing
            ),
            "the import",
        )
        # Freed by reference counting now, so the collection at the end has little to scan.
        read.clear()
    return report


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a command-line import.

    A large import allocates a few objects per field of every talk, all kept until the
    commit: the collector then ran again and again over a heap that only grows (about a
    sixth of the CPU of a 20,000-talk import). Reference counting still frees everything
    else; the collector runs once at the end. Not for the web server's threads.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


# --- preview (dry run) ------------------------------------------------------------------------

# Fields of an event as a preview names them (record field → input field).
_PREVIEW_NAMES = {"start_local": "start", "end_local": "end", "parent_id": "parent"}
_HIDDEN_FIELDS = ("start_utc", "end_utc")


@dataclass
class FieldChange:
    """One changed field of a talk: its input name and its value before and after, as text."""

    field: str
    before: str
    after: str


@dataclass
class TalkPreview:
    """What an import would do to one record: new, changed, unchanged or error."""

    action: str
    where: str
    event_id: str | None = None
    series: str | None = None
    title: str = ""
    changes: list[FieldChange] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class MissingTalk:
    """A talk of the series that the file does not list."""

    event_id: str
    series: str
    title: str
    start: str


@dataclass
class Preview:
    """An import's dry run: per record what would happen, and talks the file leaves out."""

    series: list[TalkPreview] = field(default_factory=list)
    talks: list[TalkPreview] = field(default_factory=list)
    missing: list[MissingTalk] = field(default_factory=list)
    # A file that cannot be parsed at all: its message (nothing else is listed then)
    failed: str | None = None

    @property
    def errors(self) -> list[TalkPreview]:
        """Every record with an error."""
        return [r for r in self.series + self.talks if r.action == "error"]

    @property
    def ok(self) -> bool:
        """Whether applying would succeed."""
        return self.failed is None and not self.errors

    def counts(self) -> dict[str, int]:
        """Talks per action, in the order new, changed, unchanged, error."""
        found = {"new": 0, "changed": 0, "unchanged": 0, "error": 0}
        for talk in self.talks:
            found[talk.action] += 1
        return found

    def text(self) -> str:
        """Return the preview as plain text lines (what `eventfeed import --dry-run` prints)."""
        if self.failed is not None:
            return f"error: {self.failed}\n"
        lines = []
        for record in self.series:
            if record.action != "unchanged":
                lines.append(f"series {record.series or '?'}: {record.action}")
                lines.extend(_detail_lines(record))
        for talk in self.talks:
            label = talk.event_id or "?"
            if talk.action == "unchanged":
                continue
            lines.append(f"{talk.action:<9} {label}  {talk.title}".rstrip())
            lines.extend(_detail_lines(talk))
        for gone in self.missing:
            lines.append(f"missing   {gone.event_id}  {gone.title} ({gone.start}) — left alone")
        counts = self.counts()
        summary = ", ".join(f"{n} {action}" for action, n in counts.items())
        lines.append(f"dry run, nothing written: talks: {summary}; {len(self.missing)} missing")
        return "\n".join(lines) + "\n"


def _detail_lines(record: TalkPreview) -> list[str]:
    lines = [f"    {c.field}: {c.before} → {c.after}" for c in record.changes]
    lines += [f"    {record.where}: field '{f}': {m}" for f, m in record.errors]
    return lines


def _show(value: object) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def _changes(event: Event | None, record: EventRecord) -> list[FieldChange]:
    """The fields a record changes on a stored event (the comparison the upsert makes)."""
    found = []
    for name, after in asdict(record).items():
        before = getattr(event, name) if event is not None else None
        if event is not None and before == after:
            continue
        if name in _HIDDEN_FIELDS:
            continue
        found.append(FieldChange(_PREVIEW_NAMES.get(name, name), _show(before), _show(after)))
    return found


def preview(session: Session, parsed: Parsed, now: datetime) -> Preview:
    """Run an import in the caller's transaction, record by record, and report what it did.

    The same validation and the same writes as `apply`, each record in its own savepoint so
    an error is listed and the next record still checked. The caller must roll the
    transaction back (`preview_files` does): a preview never writes anything.
    """
    result = Preview()
    known: dict[str, tuple[Series, SeriesRecord]] = {}
    for where, data in parsed.series:
        slug = data.get("slug") if isinstance(data.get("slug"), str) else None
        entry = TalkPreview("unchanged", where.rstrip(": "), series=str(slug) if slug else None)
        try:
            with session.begin_nested():
                series_rec = validate_series(data, where=where)
                series, outcome = store.upsert_series(session, series_rec, now)
        except InvalidRecord as exc:
            entry.action, entry.errors, entry.where = "error", exc.errors, exc.where
        else:
            entry.action = {"created": "new", "updated": "changed"}.get(outcome.action, "unchanged")
            known[series_rec.slug] = (series, series_rec)
        result.series.append(entry)
    for where, slug, block in parsed.schedules:
        if slug not in known:
            continue
        try:
            with session.begin_nested():
                series = known[slug][0]
                spec = schedules.parse(block, series.timezone, where=where, today=now.date())
                schedules.store(session, series, spec, now)
        except InvalidRecord as exc:
            result.series.append(TalkPreview("error", exc.where, series=slug, errors=exc.errors))
    seen: dict[str, str] = {}
    for item in parsed.events:
        entry = TalkPreview("error", item.where, series=item.series)
        raw_id, raw_title = item.data.get("id"), item.data.get("title")
        entry.event_id = raw_id if isinstance(raw_id, str) else None
        entry.title = raw_title if isinstance(raw_title, str) else ""
        try:
            with session.begin_nested():
                series, record = _check_event(session, item, known, seen)
                stored = session.get(Event, record.id)
                changes = _changes(stored, record)
                _, outcome = store.upsert_event(session, series, record, now)
        except InvalidRecord as exc:
            entry.errors = exc.errors
            entry.where = exc.where or item.where
        else:
            entry.action = {"created": "new", "updated": "changed"}.get(outcome.action, "unchanged")
            entry.changes = changes if outcome.action == "updated" else []
            entry.series = series.slug
            entry.title = record.title
        result.talks.append(entry)
    for talk in missing_talks(session, parsed, known, seen, now):
        start = times.wall_time_text(talk.start_utc, talk.timezone)
        result.missing.append(MissingTalk(talk.id, talk.series.slug, talk.title, start))
    return result


def preview_files(
    factory: sessionmaker[Session],
    paths: Iterable[Path],
    *,
    fmt: str | None = None,
    default_series: str | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Preview:
    """Read files and preview their import (`eventfeed import --dry-run`); nothing is written."""
    moment = clock.now()
    try:
        parsed = read_files(list(paths), fmt, default_series, moment)
    except ImportFailed as exc:
        return Preview(failed=str(exc))
    return preview_parsed(factory, parsed, moment)


def preview_parsed(factory: sessionmaker[Session], parsed: Parsed, now: datetime) -> Preview:
    """Preview parsed records in a transaction that is always rolled back."""
    with factory() as session:
        session.begin()
        try:
            _open_transaction(session)
            return preview(session, parsed, now)
        finally:
            session.rollback()


def _open_transaction(session: Session) -> None:
    """Open the database transaction now, so savepoints nest inside it.

    Python's sqlite3 driver begins a transaction only before its first write; a SAVEPOINT
    before that starts one of its own, which its RELEASE commits. An explicit BEGIN keeps
    every savepoint inside the transaction the preview rolls back.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if raw is not None and not getattr(raw, "in_transaction", True):
            connection.exec_driver_sql("BEGIN")
