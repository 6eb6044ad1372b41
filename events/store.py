"""Writing validated records to the database: idempotent upserts with SEQUENCE rules."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from events import history, search, signals, times, topics
from events.db import UTCDateTime, insert_rows, sqlite_triggers_aside
from events.errors import Conflict, InvalidRecord, NotFound, StaleRecord
from events.models import CONTAINER_KINDS, TALK_KINDS, Event, Meeting, Series
from events.schemas import SERIES_FIELDS, EventRecord, SeriesRecord

T = TypeVar("T")

# A change to any of these raises the event's SEQUENCE (RFC 5545 §3.8.7.4).
MATERIAL_FIELDS = ("start_utc", "end_utc", "timezone", "location", "status", "meeting")
# Links whose first appearance on a talk already under way is news (mail.recordings).
LINK_FIELDS = ("recording", "slides")
# A change to any of these rewrites the search index rows of the series' talks.
SEARCHED_SERIES_FIELDS = frozenset({"name", "description", "visibility", "topics"})


@dataclass
class Outcome:
    """What an upsert did: 'created', 'updated' or 'unchanged'; `previous`: old material values."""

    action: str
    material: bool = False
    previous: dict[str, object] = field(default_factory=dict)
    # Links of LINK_FIELDS an update gave a talk that had none ('recording', 'slides').
    added_links: list[str] = field(default_factory=list)


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


def _mark_reveals(series: Series, meetings: Iterable[Meeting | None]) -> None:
    """Note (once, for good) that a series has a meeting revealed shortly before its start."""
    if not series.reveals and any(m and m.get("access") == "revealed" for m in meetings):
        series.reveals = True


def upsert_series(session: Session, record: SeriesRecord, now: datetime) -> tuple[Series, Outcome]:
    """Create the series or update it in place; unchanged input writes nothing."""
    values = asdict(record)
    series = session.scalar(select(Series).where(Series.slug == record.slug))
    if series is None:
        series = Series(**values, created_at=now, updated_at=now)
        _mark_reveals(series, [record.meeting])
        session.add(series)
        session.flush()
        if series.topics:
            topics.link_series(session, series)
        return series, Outcome("created")
    changed = _apply(series, values)
    _mark_reveals(series, [record.meeting])
    if changed:
        series.updated_at = now
        if "topics" in changed:
            topics.link_series(session, series)
        if SEARCHED_SERIES_FIELDS.intersection(changed):
            search.index_series(session, series)
        return series, Outcome("updated")
    return series, Outcome("unchanged")


_LOOK_UP: Any = object()
EVENT_COLUMNS = tuple(f.name for f in fields(EventRecord))
LOOKUP_BATCH = 500
EVENT_TABLE = cast(Table, Event.__table__)
FEED_STAMP = text(
    "UPDATE series SET feed_revision = feed_revision + 1, "
    "talks_changed_at = max(coalesce(talks_changed_at, :changed), :changed) WHERE id = :id"
).bindparams(bindparam("changed", type_=UTCDateTime()))


def _values(record: EventRecord) -> dict[str, Any]:
    # A shallow copy (asdict deep-copies every speaker and tag: a third of a large import).
    return {name: getattr(record, name) for name in EVENT_COLUMNS}


def existing_events(session: Session, ids: Iterable[str]) -> dict[str, Event]:
    """Return the stored talks among `ids`, read in batches (one SELECT per 500 ids)."""
    wanted = sorted(set(ids))
    found: dict[str, Event] = {}
    with session.no_autoflush:
        for start in range(0, len(wanted), LOOKUP_BATCH):
            chunk = wanted[start : start + LOOKUP_BATCH]
            found.update(
                (e.id, e) for e in session.scalars(select(Event).where(Event.id.in_(chunk)))
            )
    return found


def upsert_event(
    session: Session,
    series: Series,
    record: EventRecord,
    now: datetime,
    *,
    existing: Event | None = _LOOK_UP,
) -> tuple[Event, Outcome]:
    """Create the event or update it in place, raising SEQUENCE only on material changes.

    `existing`: the stored talk with the record's id, or None, when the caller has already
    looked it up (a large import reads them in batches); by default it is looked up here.
    """
    values = _values(record)
    event = session.get(Event, record.id) if existing is _LOOK_UP else existing
    _check_block(session, series, record, event)
    _mark_reveals(series, [record.meeting])
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
    before = {name: getattr(event, name) for name in (*MATERIAL_FIELDS, *LINK_FIELDS)}
    changed = _apply(event, values)
    if not changed:
        return event, Outcome("unchanged")
    material = any(name in MATERIAL_FIELDS for name in changed)
    if material:
        event.sequence += 1
    event.updated_at = now
    _touch_parent(session, event, now)
    previous = {name: before[name] for name in changed if name in MATERIAL_FIELDS}
    added = [name for name in LINK_FIELDS if getattr(event, name) and not before[name]]
    outcome = Outcome("updated", material, previous, added)
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


def create_events(
    session: Session, series: Series, records: list[EventRecord], now: datetime
) -> None:
    """Insert new talks in bulk (batched INSERTs, no ORM objects): a large import's path.

    The ids must be new (the caller has looked them up). Sends one `talks_created` signal
    instead of a `talk_saved` per talk.
    """
    if not records:
        return
    _mark_reveals(series, [record.meeting for record in records])
    rows = [
        {
            **_values(record),
            "series_id": series.id,
            "sequence": 0,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for record in records
    ]
    with sqlite_triggers_aside(session, ("event_feed_insert",)) as aside:
        insert_rows(session, EVENT_TABLE, rows)
        if aside:  # what the trigger does per row (migration 0005), once for the batch
            session.execute(FEED_STAMP, {"id": series.id, "changed": now})
    # Links and index rows come straight from the records: the new talks are not read back.
    topics.link_new_events(session, ((record.id, record.topics) for record in records))
    search.index_new_events(session, series, records)
    ids = [record.id for record in records]
    history.log_created(session, series, ids, now)
    signals.talks_created.send(session, series=series, event_ids=ids, now=now)


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


# --- writes checked against the version a client saw -----------------------------------
#
# Front doors that let a client edit what it read (the API's If-Match, a browser form)
# pass the `version` they showed. The check and the write are one step: the ORM's UPDATE or
# DELETE says `WHERE version = :seen` (the models' `version_id_col`), so of two writers that
# saw the same version exactly one writes; the other gets StaleRecord, on SQLite and on
# PostgreSQL alike (there the second UPDATE waits for the first's row lock, then matches
# no row).


def _kind(target: Series | Event) -> str:
    return "talk" if isinstance(target, Event) else "series"


def _check(target: Series | Event, seen: int) -> None:
    if target.version != seen:
        raise StaleRecord(f"the {_kind(target)} changed since version {seen}")


@contextmanager
def _guarded(target: Series | Event) -> Iterator[None]:
    """Turn a lost version race, at any flush inside (autoflush too), into StaleRecord."""
    try:
        yield
    except StaleDataError:
        raise StaleRecord(f"the {_kind(target)} was changed by someone else meanwhile") from None


def _flush(session: Session, target: Series | Event) -> None:
    with _guarded(target):
        session.flush()


def update_event(
    session: Session, event: Event, record: EventRecord, now: datetime, *, seen: int
) -> Outcome:
    """Write `record` over `event` only if the talk is still at version `seen`.

    Raise StaleRecord (nothing written) when another writer changed the talk since `seen`.
    """
    _check(event, seen)
    with _guarded(event):
        _, outcome = upsert_event(session, event.series, record, now)
    _flush(session, event)
    return outcome


def delete_event(session: Session, event: Event, *, seen: int) -> None:
    """Delete the talk only if it is still at version `seen`; raise StaleRecord otherwise."""
    _check(event, seen)
    session.delete(event)
    _flush(session, event)


def update_series(
    session: Session, series: Series, record: SeriesRecord, now: datetime, *, seen: int
) -> Outcome:
    """Write `record` over `series` only if it is still at version `seen` (else StaleRecord).

    The series row is written (its version raised) even when its own fields are unchanged,
    so the check also covers the talks the caller rewrites with it.
    """
    _check(series, seen)
    with _guarded(series):
        _, outcome = upsert_series(session, record, now)
    flag_modified(series, "updated_at")
    _flush(session, series)
    return outcome


def delete_series(session: Session, series: Series, *, seen: int) -> None:
    """Delete the series (and its talks) only if still at version `seen`; else StaleRecord."""
    _check(series, seen)
    session.delete(series)
    _flush(session, series)


# --- concurrent writers of one series ----------------------------------------------------
#
# Every writer of a series (an import, an API edit) first takes that series' lock, held
# until its transaction ends, so writers of one series take turns: two imports of the same
# new series no longer race to insert it, and an import and an edit no longer lock a talk
# and the series row in opposite orders (a deadlock). On PostgreSQL the lock is a
# transaction-scoped advisory lock on the slug (it works before the series exists); SQLite
# lets one writer at a time into the whole database anyway. What still collides (a talk id
# taken meanwhile by another series, a serialization failure) is retried a few times by
# `write_retrying`, then reported as a Conflict: one clear line, nothing written.

# PostgreSQL SQLSTATEs of a transaction that lost to a concurrent one: safe to run again.
RETRYABLE_STATES = frozenset({"40001", "40P01", "55P03"})  # serialization, deadlock, lock
WRITE_ATTEMPTS = 4


def _lock_key(slug: str) -> int:
    digest = hashlib.blake2b(f"eventfeed-series:{slug}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_series(session: Session, slugs: Iterable[str]) -> None:
    """Hold the write lock of each series (by slug, sorted: no deadlock) until commit."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for slug in sorted(set(slugs)):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(slug)})


def collision(exc: DBAPIError) -> str | None:
    """Return why a failed write lost to a concurrent one (None: a different failure)."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    if isinstance(exc, IntegrityError):
        return reason
    if getattr(exc.orig, "sqlstate", None) in RETRYABLE_STATES:
        return reason
    if "database is locked" in reason:  # SQLite: another writer held the database too long
        return reason
    return None


def write_retrying(
    factory: sessionmaker[Session], work: Callable[[Session], T], what: str = "the change"
) -> T:
    """Run `work` in a transaction, again when it collided with a concurrent writer.

    Raise Conflict (nothing written) when it still collides after WRITE_ATTEMPTS tries.
    """
    reason = ""
    for _ in range(WRITE_ATTEMPTS):
        try:
            with factory() as session, session.begin():
                return work(session)
        except DBAPIError as exc:
            found = collision(exc)
            if found is None:
                raise
            reason = found
        except StaleDataError as exc:  # a record read in this transaction changed meanwhile
            reason = str(exc)
    raise Conflict(
        f"{what} collided with concurrent changes to the same series and was not written "
        f"({reason}); try again"
    )
