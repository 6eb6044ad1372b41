"""Series schedules: RFC 5545 recurrence at a local wall time, skips, moves and TBA slots.

A schedule is read from its friendly form (`every: 2 weeks`, `on: saturday`, `start: "09:30"`,
`duration: 120`, `from`, `until`/`count`, `dates`, `skip`, `move`) or from an `rrule` string,
and stored as one canonical RRULE value (`FREQ=WEEKLY;INTERVAL=2;BYDAY=SA;UNTIL=...`) plus
explicit dates. Occurrences are expanded by `dateutil.rrule` in local wall time (so 09:30
Lisbon stays 09:30 Lisbon on both sides of a DST change) and only then turned into instants
by `events.times`.

`sync_slots` keeps the `event` rows of a schedule: every occurrence not yet over and not
filled by a talk is a TBA row (kind `tba`, id `<slug>-<YYYYMMDD>`); a skipped occurrence's
row is cancelled; when a talk (or session) is stored on an occurrence's day it fills the
slot: it takes over the slot row's calendar UID with a higher SEQUENCE, and the slot row
goes, so a calendar shows one entry per slot throughout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import Any

from dateutil.rrule import rrulestr
from sqlalchemy import select
from sqlalchemy.orm import Session

from events import times
from events.errors import InvalidRecord, TimeError
from events.models import Event, Move, Schedule, Series, Skip

MAX_OCCURRENCES = 1000
# An open-ended rule (no `until`, no `count`) is expanded this far ahead of today.
HORIZON = timedelta(days=365)
WEEKDAYS = {
    "monday": "MO",
    "tuesday": "TU",
    "wednesday": "WE",
    "thursday": "TH",
    "friday": "FR",
    "saturday": "SA",
    "sunday": "SU",
}
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3}
ORDINALS |= {"fourth": 4, "4th": 4, "last": -1, "fifth": 5, "5th": 5}
FRIENDLY_KEYS = {"every", "on"}
ALL_KEYS = FRIENDLY_KEYS | {
    "rrule",
    "dates",
    "start",
    "duration",
    "end",
    "from",
    "until",
    "count",
    "skip",
    "move",
    "tba_in_feeds",
}
_EVERY = re.compile(r"^(?:(?P<n>\d+)\s+)?(?P<unit>day|week|month)s?$")


@dataclass(frozen=True)
class Spec:
    """A validated schedule: the stored columns of `Schedule`."""

    rule: str
    dates: list[str]
    start_date: str
    start_time: str
    duration_minutes: int
    skips: list[Skip]
    moves: list[Move]
    tba_in_feeds: bool = True


@dataclass(frozen=True)
class Occurrence:
    """One occurrence: the date the rule yields (`key`), its instants, skip and move."""

    key: str
    start_utc: datetime
    end_utc: datetime
    skipped: Skip | None = None
    moved: bool = False


class ScheduleError(InvalidRecord):
    """A schedule that cannot be used; names the field of the `schedule` block."""


def _date(value: Any, field: str, where: str) -> date:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ScheduleError(where, [(field, f"{value!r} is not a date (YYYY-MM-DD)")]) from None


def _clock(value: Any, field: str, where: str) -> time:
    text = str(value).strip()
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ScheduleError(where, [(field, f"{value!r} is not a clock time (HH:MM)")])
    return time(int(match[1]), int(match[2]))


def _duration(data: dict[str, Any], start: time, where: str) -> int:
    if "duration" in data:
        value = data["duration"]
        text = str(value).strip().lower()
        match = re.fullmatch(r"(?:(\d+)\s*h)?\s*(?:(\d+)\s*(?:min|m)?)?", text)
        if isinstance(value, int) and not isinstance(value, bool):
            minutes = value
        elif match and (match[1] or match[2]):
            minutes = int(match[1] or 0) * 60 + int(match[2] or 0)
        else:
            raise ScheduleError(where, [("duration", f"{value!r}: give minutes or '2h'")])
    elif "end" in data:
        end = _clock(data["end"], "end", where)
        minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    else:
        raise ScheduleError(where, [("duration", "missing: give a duration or an end time")])
    if not 0 < minutes <= 24 * 60:
        raise ScheduleError(where, [("duration", "must be between 1 minute and 24 hours")])
    return minutes


def _friendly_rule(data: dict[str, Any], where: str) -> str:
    every = str(data.get("every", "week")).strip().lower()
    match = _EVERY.match(every)
    if not match:
        raise ScheduleError(
            where, [("every", f"{every!r}: write 'week', '2 weeks', 'month' or 'day'")]
        )
    interval = int(match["n"] or 1)
    unit = match["unit"]
    parts = [f"FREQ={ {'day': 'DAILY', 'week': 'WEEKLY', 'month': 'MONTHLY'}[unit] }"]
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    days = data.get("on")
    if days:
        names = days if isinstance(days, list) else [d for d in str(days).split(",")]
        codes = []
        for name in names:
            words = str(name).strip().lower().split()
            if not words or words[-1] not in WEEKDAYS:
                raise ScheduleError(where, [("on", f"{name!r}: write a weekday ('tuesday')")])
            code = WEEKDAYS[words[-1]]
            if len(words) == 2:
                if unit != "month" or words[0] not in ORDINALS:
                    raise ScheduleError(
                        where, [("on", f"{name!r}: 'second tuesday' needs 'every: month'")]
                    )
                code = f"{ORDINALS[words[0]]}{code}"
            elif len(words) > 2:
                raise ScheduleError(where, [("on", f"{name!r}: write 'second tuesday'")])
            codes.append(code)
        parts.append("BYDAY=" + ",".join(codes))
    return ";".join(parts)


def _bounded(rule: str, data: dict[str, Any], where: str) -> str:
    """Add the `until` (last day, inclusive) or `count` of the friendly form to a rule."""
    if "until" in data and "count" in data:
        raise ScheduleError(where, [("until", "give an end date or a count, not both")])
    if "until" in data:
        last = _date(data["until"], "until", where)
        return f"{rule};UNTIL={last:%Y%m%d}T235959"
    if "count" in data:
        count = data["count"]
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ScheduleError(where, [("count", "must be a positive whole number")])
        return f"{rule};COUNT={count}"
    return rule


def _skips(value: Any, where: str) -> list[Skip]:
    found: list[Skip] = []
    for item in value or []:
        if isinstance(item, dict):
            skip = Skip(date=_date(item.get("date"), "skip", where).isoformat())
            reason = " ".join(str(item.get("reason") or "").split())
            if reason:
                skip["reason"] = reason[:200]
        else:
            skip = Skip(date=_date(item, "skip", where).isoformat())
        found.append(skip)
    return found


def _moves(value: Any, where: str) -> list[Move]:
    found: list[Move] = []
    for item in value or []:
        if not isinstance(item, dict) or "date" not in item or "to" not in item:
            raise ScheduleError(where, [("move", "each move needs 'date' and 'to'")])
        try:
            target = times.parse_local_time(str(item["to"]))
        except TimeError as exc:
            raise ScheduleError(where, [("move", str(exc))]) from None
        day = _date(item["date"], "move", where).isoformat()
        found.append(Move(date=day, to=target.text()))
    return found


def parse(data: Any, zone_name: str, *, where: str, today: date) -> Spec:
    """Validate a `schedule` block (friendly form or `rrule`) and check its occurrences."""
    if not isinstance(data, dict):
        raise ScheduleError(where, [("schedule", "must be a mapping")])
    unknown = set(data) - ALL_KEYS
    if unknown:
        raise ScheduleError(where, [(k, "unknown schedule field") for k in sorted(unknown)])
    if "rrule" in data and FRIENDLY_KEYS & set(data):
        raise ScheduleError(where, [("rrule", "give an rrule or every/on, not both")])
    if "start" not in data:
        raise ScheduleError(where, [("start", "missing: the local start time, e.g. '09:30'")])
    start = _clock(data["start"], "start", where)
    dates = sorted({_date(d, "dates", where).isoformat() for d in data.get("dates") or []})
    if "rrule" in data:
        rule = str(data["rrule"]).strip().removeprefix("RRULE:")
        if "until" in data or "count" in data:
            rule = _bounded(rule, data, where)
    elif FRIENDLY_KEYS & set(data) or not dates:
        rule = _bounded(_friendly_rule(data, where), data, where)
    else:
        rule = ""
    if "from" in data:
        first = _date(data["from"], "from", where)
    elif dates:
        first = date.fromisoformat(dates[0])
    else:
        raise ScheduleError(where, [("from", "missing: the date the schedule starts")])
    spec = Spec(
        rule=rule,
        dates=dates,
        start_date=first.isoformat(),
        start_time=f"{start:%H:%M}",
        duration_minutes=_duration(data, start, where),
        skips=_skips(data.get("skip"), where),
        moves=_moves(data.get("move"), where),
        tba_in_feeds=bool(data.get("tba_in_feeds", True)),
    )
    occurrences(spec, zone_name, today=today, where=where)
    return spec


def _rule_dates(spec: Spec | Schedule, today: date, where: str) -> list[date]:
    first = date.fromisoformat(spec.start_date)
    clock = time.fromisoformat(spec.start_time)
    days: set[date] = set()
    if spec.rule:
        start = datetime.combine(first, clock)  # noqa: DTZ001  (wall time: rrule works on the face)
        try:
            rule = rrulestr(spec.rule, dtstart=start)
        except (ValueError, TypeError) as exc:
            raise ScheduleError(where, [("rrule", f"not an RFC 5545 rule: {exc}")]) from None
        horizon = max(today, first) + HORIZON
        for moment in islice(iter(rule), MAX_OCCURRENCES + 2):
            if "UNTIL=" not in spec.rule and "COUNT=" not in spec.rule and moment.date() > horizon:
                break
            days.add(moment.date())
    days |= {date.fromisoformat(d) for d in spec.dates}
    return sorted(days)


def occurrences(
    spec: Spec | Schedule, zone_name: str, *, today: date, where: str = "schedule"
) -> list[Occurrence]:
    """Return the schedule's occurrences, or raise ScheduleError for a rule that cannot be used.

    Errors: no date at all, more than MAX_OCCURRENCES in the window (from the first date to
    `until`, the count, or a year ahead of today), a skip or move of a date the rule never
    yields, a start time that a DST change skips on some date.
    """
    days = _rule_dates(spec, today, where)
    if not days:
        raise ScheduleError(where, [("rrule", "the rule yields no date")])
    if len(days) > MAX_OCCURRENCES:
        raise ScheduleError(
            where,
            [("rrule", f"more than {MAX_OCCURRENCES:,} occurrences; give an end date or count")],
        )
    keys = {d.isoformat() for d in days}
    for field, listed in (("skip", spec.skips), ("move", spec.moves)):
        for item in listed:
            if item["date"] not in keys:
                message = f"{item['date']} is not a date of this schedule"
                raise ScheduleError(where, [(field, message)])
    skips = {s["date"]: s for s in spec.skips}
    moves = {m["date"]: m["to"] for m in spec.moves}
    clock = time.fromisoformat(spec.start_time)
    found = []
    for day in days:
        key = day.isoformat()
        moved = key in moves
        local = times.parse_local_time(moves[key]) if moved else times.local_time_of(day, clock)
        try:
            start = times.to_instant(local, zone_name)
        except TimeError as exc:
            raise ScheduleError(where, [("move" if moved else "start", str(exc))]) from None
        end = start + timedelta(minutes=spec.duration_minutes)
        found.append(Occurrence(key, start, end, skips.get(key), moved))
    return found


def document(schedule: Schedule) -> dict[str, Any]:
    """Return a stored schedule as the `schedule` block of an import file (rrule form)."""
    block: dict[str, Any] = {}
    if schedule.rule:
        block["rrule"] = schedule.rule
    if schedule.dates:
        block["dates"] = list(schedule.dates)
    block["from"] = schedule.start_date
    block["start"] = schedule.start_time
    block["duration"] = schedule.duration_minutes
    if schedule.skips:
        block["skip"] = [dict(s) for s in schedule.skips]
    if schedule.moves:
        block["move"] = [dict(m) for m in schedule.moves]
    if not schedule.tba_in_feeds:
        block["tba_in_feeds"] = False
    return block


def _new_feed_version(series: Series, now: datetime) -> None:
    """Feeds depend on the schedule (TBA slots shown or not): give the series a new version."""
    series.updated_at = now
    series.feed_revision += 1


def store(session: Session, series: Series, spec: Spec, now: datetime) -> Schedule:
    """Create or replace the schedule of a series."""
    row = session.get(Schedule, series.id)
    values = {
        "rule": spec.rule,
        "dates": spec.dates,
        "start_date": spec.start_date,
        "start_time": spec.start_time,
        "duration_minutes": spec.duration_minutes,
        "skips": spec.skips,
        "moves": spec.moves,
        "tba_in_feeds": spec.tba_in_feeds,
    }
    if row is None:
        row = Schedule(series_id=series.id, updated_at=now, **values)
        session.add(row)
        _new_feed_version(series, now)
    elif any(getattr(row, k) != v for k, v in values.items()):
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = now
        _new_feed_version(series, now)
    session.flush()
    return row


def slot_title(skipped: Skip | None) -> str:
    """Return the title of a slot row: 'Speaker TBA', or 'No seminar' with its reason."""
    if skipped is None:
        return "Speaker TBA"
    reason = skipped.get("reason")
    return f"No seminar: {reason}" if reason else "No seminar"


def _slot_id(session: Session, series: Series, key: str) -> str:
    base = f"{series.slug}-{key.replace('-', '')}"
    taken = session.get(Event, base)
    if taken is None or (taken.series_id == series.id and taken.kind == "tba"):
        return base
    return f"{base}-slot"


def sync_slots(session: Session, series: Series, now: datetime) -> None:
    """Bring a series' TBA rows in line with its schedule (see the module docstring)."""
    schedule = session.get(Schedule, series.id)
    if schedule is None:
        return
    where = f"series {series.slug!r}: schedule"
    zone_name = series.timezone
    found = occurrences(schedule, zone_name, today=now.date(), where=where)
    rows = session.scalars(
        select(Event).where(Event.series_id == series.id, Event.parent_id.is_(None))
    ).all()
    slots = {e.slot: e for e in rows if e.kind == "tba" and e.slot}
    entries = [e for e in rows if e.kind != "tba"]
    by_day: dict[str, list[Event]] = {}
    for entry in entries:
        by_day.setdefault(times.local_date(entry.start_utc, zone_name).isoformat(), []).append(
            entry
        )
    for occurrence in found:
        day = times.local_date(occurrence.start_utc, zone_name).isoformat()
        fillers = [e for e in entries if e.slot == occurrence.key] or by_day.get(day, [])
        slot = slots.pop(occurrence.key, None)
        if fillers:
            live = [e for e in fillers if e.status != "cancelled"]
            if occurrence.skipped is not None and live:
                message = f"{occurrence.key} is skipped, but {live[0].id!r} is on that day"
                raise ScheduleError(where, [("skip", message)])
            _fill(session, fillers[0], occurrence.key, slot, now)
            continue
        if occurrence.end_utc <= now:
            if slot is not None:
                session.delete(slot)
            continue
        _keep_slot(session, series, occurrence, slot, now)
    for leftover in slots.values():
        session.delete(leftover)
    session.flush()


def _fill(session: Session, talk: Event, key: str, slot: Event | None, now: datetime) -> None:
    """Let a talk (or session) stand for a slot: the slot's UID, a higher SEQUENCE."""
    if talk.slot != key:
        talk.slot = key
    if slot is None:
        return
    talk.calendar_id = slot.uid_key
    talk.sequence = max(talk.sequence, slot.sequence + 1)
    talk.updated_at = now
    session.delete(slot)
    session.flush()


def _keep_slot(
    session: Session, series: Series, occurrence: Occurrence, slot: Event | None, now: datetime
) -> None:
    status = "cancelled" if occurrence.skipped is not None else "confirmed"
    values = {
        "title": slot_title(occurrence.skipped),
        "timezone": series.timezone,
        "start_utc": occurrence.start_utc,
        "end_utc": occurrence.end_utc,
        "start_local": times.wall_time_text(occurrence.start_utc, series.timezone),
        "end_local": times.wall_time_text(occurrence.end_utc, series.timezone),
        "status": status,
        "location": dict(series.location or {}),
        "meeting": dict(series.meeting) if series.meeting else None,
    }
    if slot is None:
        session.add(
            Event(
                id=_slot_id(session, series, occurrence.key),
                series_id=series.id,
                kind="tba",
                slot=occurrence.key,
                sequence=0,
                created_at=now,
                updated_at=now,
                **values,
            )
        )
        session.flush()
        return
    changed = [k for k, v in values.items() if getattr(slot, k) != v]
    if not changed:
        return
    for name in changed:
        setattr(slot, name, values[name])
    if {"start_utc", "end_utc", "status", "location", "meeting"} & set(changed):
        slot.sequence += 1
    slot.updated_at = now
