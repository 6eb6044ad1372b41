"""Writing validated records to the database: idempotent upserts with SEQUENCE rules."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from events import search, signals, times, topics
from events.errors import InvalidRecord, NotFound
from events.models import CONTAINER_KINDS, TALK_KINDS, Event, Series
from events.schemas import SERIES_FIELDS, EventRecord, SeriesRecord

# A change to any of these raises the event's SEQUENCE (RFC 5545 §3.8.7.4).
MATERIAL_FIELDS = ("start_utc", "end_utc", "timezone", "location", "status", "meeting")
# A change to any of these rewrites the search index rows of the series' talks.
SEARCHED_SERIES_FIELDS = frozenset({"name", "description", "visibility", "topics"})


@dataclass
class Outcome:
    """What an upsert did: 'created', 'updated' or 'unchanged'; `previous`: old material values."""

    action: str
    material: bool = False
    previous: dict[str, object] = field(default_factory=dict)


def get_series(session: Session, slug: str) -> Series:
    """Return the series with this slug or raise NotFound."""
    series = session.scalar(select(Series).where(Series.slug == slug))
    if series is None:
        raise NotFound(f"no series with slug {slug!r}")
    return series


def get_event(session: Session, event_id: str) -> Event:
    """Return the event with this id or raise NotFound."""
    found = session.get(Event, event_id)
    if found is None:
        raise NotFound(f"no event with id {event_id!r}")
    return found


def series_record(series: Series) -> SeriesRecord:
    """Return the stored series as a record (for validating its events)."""
    return SeriesRecord(**{name: getattr(series, name) for name in SERIES_FIELDS})


def _apply(target: Series | Event, values: dict[str, Any]) -> list[str]:
    changed = [name for name, value in values.items() if getattr(target, name) != value]
    for name in changed:
        setattr(target, name, values[name])
    return changed


def upsert_series(session: Session, record: SeriesRecord, now: datetime) -> tuple[Series, Outcome]:
    """Create the series or update it in place; unchanged input writes nothing."""
    values = asdict(record)
    series = session.scalar(select(Series).where(Series.slug == record.slug))
    if series is None:
        series = Series(**values, created_at=now, updated_at=now)
        session.add(series)
        session.flush()
        if series.topics:
            topics.link_series(session, series)
        return series, Outcome("created")
    changed = _apply(series, values)
    if changed:
        series.updated_at = now
        if "topics" in changed:
            topics.link_series(session, series)
        if SEARCHED_SERIES_FIELDS.intersection(changed):
            search.index_series(session, series)
        return series, Outcome("updated")
    return series, Outcome("unchanged")


def upsert_event(
    session: Session, series: Series, record: EventRecord, now: datetime
) -> tuple[Event, Outcome]:
    """Create the event or update it in place, raising SEQUENCE only on material changes."""
    values = asdict(record)
    event = session.get(Event, record.id)
    _check_block(session, series, record, event)
    if event is None:
        event = Event(**values, series=series, sequence=0, created_at=now, updated_at=now)
        session.add(event)
        outcome = Outcome("created")
        _touch_parent(session, event, now)
        topics.link_event(session, event, new=True)
        search.index_event(session, series, event)
        _notify(session, series, event, outcome, now)
        return event, outcome
    if event.series_id != series.id:
        raise InvalidRecord(
            f"event {record.id!r}",
            [("id", f"already belongs to series {event.series.slug!r}; event ids are global")],
        )
    before = {name: getattr(event, name) for name in MATERIAL_FIELDS}
    changed = _apply(event, values)
    if not changed:
        return event, Outcome("unchanged")
    material = any(name in MATERIAL_FIELDS for name in changed)
    if material:
        event.sequence += 1
    event.updated_at = now
    _touch_parent(session, event, now)
    previous = {name: before[name] for name in changed if name in MATERIAL_FIELDS}
    outcome = Outcome("updated", material, previous)
    if "topics" in changed:
        topics.link_event(session, event)
    search.index_event(session, series, event)
    _notify(session, series, event, outcome, now)
    return event, outcome


def _touch_parent(session: Session, event: Event, now: datetime) -> None:
    """A session's calendar entry lists its talks: an item's change is the block's change."""
    if event.parent_id is not None:
        parent = session.get(Event, event.parent_id)
        if parent is not None and parent.updated_at != now:
            parent.updated_at = now


def _span(start: datetime, end: datetime, zone_name: str) -> str:
    return f"{times.wall_time_text(start, zone_name)}–{times.wall_time_text(end, zone_name)[-5:]}"


def _check_block(
    session: Session, series: Series, record: EventRecord, event: Event | None
) -> None:
    """Keep every item inside its session's (or workshop's) block, and blocks around items."""
    label = f"event {record.id!r}"
    if event is not None and event.kind == "tba" and record.kind != "tba":
        raise InvalidRecord(
            label, [("id", "is a TBA slot of the schedule; give the talk its own id")]
        )
    if record.parent_id is not None:
        if record.kind in CONTAINER_KINDS:
            raise InvalidRecord(label, [("parent", f"a {record.kind} cannot sit inside another")])
        parent = session.get(Event, record.parent_id)
        if parent is None or parent.series_id != series.id:
            message = f"no session or workshop {record.parent_id!r} in this series"
            raise InvalidRecord(label, [("parent", message)])
        if parent.kind not in CONTAINER_KINDS:
            raise InvalidRecord(
                label, [("parent", f"{parent.id!r} is a {parent.kind}, not a session")]
            )
        if record.start_utc < parent.start_utc or record.end_utc > parent.end_utc:
            block = _span(parent.start_utc, parent.end_utc, parent.timezone)
            talk = _span(record.start_utc, record.end_utc, record.timezone)
            message = f"{talk} is outside its {parent.kind}'s block {block}"
            raise InvalidRecord(label, [("start", message)])
    if event is not None and record.kind in CONTAINER_KINDS:
        for item in session.scalars(select(Event).where(Event.parent_id == event.id)):
            if item.start_utc < record.start_utc or item.end_utc > record.end_utc:
                span = _span(item.start_utc, item.end_utc, item.timezone)
                message = f"{item.id!r} ({span}) would fall outside the block"
                raise InvalidRecord(label, [("end", message)])


def _notify(
    session: Session, series: Series, event: Event, outcome: Outcome, now: datetime
) -> None:
    """Announce a stored change to the signal's receivers, inside the same transaction.

    Only talks are announced: sessions, workshops and their breaks, lunches and other
    non-talk items are shown but never announced (their talks are, one by one).
    """
    if event.kind not in TALK_KINDS:
        return
    signals.talk_saved.send(session, series=series, event=event, outcome=outcome, now=now)
    if event.status == "cancelled" and "status" in outcome.previous:
        signals.talk_cancelled.send(session, series=series, event=event, outcome=outcome, now=now)
