"""The change log of series and talks: who changed what, when, through which path.

Every ORM write of a series or a talk is logged by a session listener (`after_flush`), in
the same transaction as the write, whichever front door made it: the store's upserts and
deletes, the importer, the workspace forms, the API. A talk created in bulk by an import
(`events.store.create_events`, Core INSERTs) gets one compact `created` row per talk, written
with the talks by one multi-row INSERT per batch (`log_created`).

Who and which path: the front door says so, for the whole request or command, with
`acting(Actor(...))` (or `set_actor`); a session may carry its own in `session.info`.
Unattributed writes (the demo loader, tests) are logged as `system`.

Several flushes of one entity in one transaction (an autoflush between two field changes)
make one row. An earlier version is rebuilt from the current values by undoing the later
rows' changes (`version_after`); restoring it is an ordinary, logged edit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, event, insert, inspect, select, update
from sqlalchemy.orm import InstanceState, Session, SessionTransaction, UOWTransaction

from events.db import insert_rows
from events.models import Change, Event, Series
from events.schemas import SERIES_FIELDS

# The logged fields: what an import or a form can set (derived and bookkeeping columns,
# such as the UTC instants, SEQUENCE, version and stamps, are left out).
TALK_FIELDS = (
    "title",
    "speakers",
    "abstract",
    "timezone",
    "start_local",
    "end_local",
    "location",
    "meeting",
    "livestream",
    "recording",
    "slides",
    "homepage",
    "status",
    "tags",
    "kind",
    "parent_id",
    "posters",
    "topics",
    "translations",
)
# Logged field → the input field of an import mapping (what validate_event reads).
INPUT_NAMES = {"start_local": "start", "end_local": "end", "parent_id": "parent"}
CHANGE_TABLE = cast(Table, Change.__table__)
ACTOR_KEY = "history_actor"
_PENDING_KEY = "history_pending"
LOG_BATCH = 5_000


@dataclass(frozen=True)
class Actor:
    """Who writes (an organiser's address, a token, 'import via CLI') and through which path."""

    who: str
    path: str  # events.models.CHANGE_PATHS


SYSTEM = Actor("system", "system")
_current: ContextVar[Actor | None] = ContextVar("eventfeed_actor", default=None)


def set_actor(actor: Actor | None) -> None:
    """Say who writes from now on in this context (a web request sets and clears it)."""
    _current.set(actor)


@contextmanager
def acting(actor: Actor) -> Iterator[None]:
    """Attribute every write inside the block to `actor`."""
    token = _current.set(actor)
    try:
        yield
    finally:
        _current.reset(token)


def actor_of(session: Session) -> Actor:
    """Return who the session's writes are attributed to."""
    found = session.info.get(ACTOR_KEY) or _current.get()
    return found if isinstance(found, Actor) else SYSTEM


def to_json(value: Any) -> Any:
    """Return a column value as JSON (instants as ISO 8601 text, mappings copied)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def _names(target: Series | Event) -> Sequence[str]:
    return TALK_FIELDS if isinstance(target, Event) else SERIES_FIELDS


def _key(target: Series | Event) -> tuple[str, str]:
    if isinstance(target, Event):
        return "talk", target.id
    return "series", str(target.id)


def values_of(target: Series | Event) -> dict[str, Any]:
    """Return the logged fields' current values of a series or a talk, as JSON."""
    return {name: to_json(getattr(target, name)) for name in _names(target)}


def _diff(target: Series | Event) -> dict[str, list[Any]]:
    state: InstanceState[Any] = inspect(target)
    changed: dict[str, list[Any]] = {}
    names = _names(target)
    # Only the attributes set since the last flush have a committed (old) value kept.
    for name in [n for n in state.committed_state if n in names]:
        seen = state.attrs[name].history
        if not seen.added and not seen.deleted:
            continue
        before = to_json(seen.deleted[0]) if seen.deleted else None
        after = to_json(seen.added[0]) if seen.added else None
        if before != after:
            changed[name] = [before, after]
    return changed


def _series_id(target: Series | Event) -> int:
    return target.series_id if isinstance(target, Event) else target.id


def _when(target: Series | Event) -> datetime:
    stamp = getattr(target, "updated_at", None)
    return stamp if isinstance(stamp, datetime) else datetime.now(UTC)


def _logged(target: object) -> bool:
    # A schedule's TBA slots are kept by the schedule, not edited: they are not logged.
    return isinstance(target, Series) or (isinstance(target, Event) and target.kind != "tba")


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    """Log what this flush wrote (the attributes' history still holds the old values)."""
    rows: list[dict[str, Any]] = []
    actor = actor_of(session)
    pending: dict[tuple[str, str], tuple[int, dict[str, list[Any]]]] = session.info.setdefault(
        _PENDING_KEY, {}
    )
    for target in session.new:
        if _logged(target):
            rows.append(_row(cast(Series | Event, target), "created", actor, {}))
    for target in session.dirty:
        if not _logged(target):
            continue
        typed = cast(Series | Event, target)
        changed = _diff(typed)
        if not changed:
            continue
        known = pending.get(_key(typed))
        if known is not None:
            _merge(session, known, changed)
            continue
        rows.append(_row(typed, "updated", actor, changed))
    for target in session.deleted:
        if _logged(target):
            typed = cast(Series | Event, target)
            gone = {name: [value, None] for name, value in values_of(typed).items()}
            rows.append({**_row(typed, "deleted", actor, gone), "at": datetime.now(UTC)})
    if not rows:
        return
    statement = insert(CHANGE_TABLE).returning(CHANGE_TABLE.c.id, sort_by_parameter_order=True)
    ids = session.connection().execute(statement, rows).scalars().all()
    for row_id, row in zip(ids, rows, strict=True):
        if row["action"] != "deleted":
            pending[(row["entity"], row["entity_id"])] = (row_id, row["fields"])


def _row(
    target: Series | Event, action: str, actor: Actor, changed: dict[str, list[Any]]
) -> dict[str, Any]:
    entity, entity_id = _key(target)
    return {
        "series_id": _series_id(target),
        "entity": entity,
        "entity_id": entity_id,
        "action": action,
        "who": actor.who[:320],
        "path": actor.path,
        "at": _when(target),
        "fields": changed,
        "note": "",
    }


def _merge(
    session: Session,
    known: tuple[int, dict[str, list[Any]]],
    changed: dict[str, list[Any]],
) -> None:
    row_id, fields = known
    for name, (before, after) in changed.items():
        first = fields[name][0] if name in fields else before
        if first == after:
            fields.pop(name, None)
        else:
            fields[name] = [first, after]
    session.connection().execute(
        update(CHANGE_TABLE).where(CHANGE_TABLE.c.id == row_id).values(fields=dict(fields))
    )


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    # A flush's own subtransaction ends with every flush: only a real (or SAVEPOINT) end counts.
    if transaction.parent is None or transaction.nested:
        session.info.pop(_PENDING_KEY, None)


def log_created(session: Session, series: Series, event_ids: Iterable[str], now: datetime) -> None:
    """Log talks created in bulk: one compact row each, by multi-row INSERTs."""
    actor = actor_of(session)
    base = {
        "series_id": series.id,
        "entity": "talk",
        "action": "created",
        "who": actor.who[:320],
        "path": actor.path,
        "at": now,
        "fields": {},
        "note": "",
    }
    rows = [{**base, "entity_id": talk_id} for talk_id in event_ids]
    if session.get_bind().dialect.name == "sqlite":
        # sqlite3's own executemany: SQLAlchemy's per-row parameter handling cost more.
        insert_rows(session, CHANGE_TABLE, rows)
        return
    for start in range(0, len(rows), LOG_BATCH):
        session.execute(insert(CHANGE_TABLE), rows[start : start + LOG_BATCH])


def note(session: Session, target: Series | Event, action: str, text: str) -> None:
    """Mark this transaction's row of `target` (e.g. 'restored', with what it restored)."""
    session.flush()
    known = session.info.get(_PENDING_KEY, {}).get(_key(target))
    if known is None:
        return
    session.execute(
        update(CHANGE_TABLE).where(CHANGE_TABLE.c.id == known[0]).values(action=action, note=text)
    )


def log_event(session: Session, series: Series, action: str, text: str, now: datetime) -> Change:
    """Log something done to a series that changes no field (an export of its email list)."""
    actor = actor_of(session)
    row = Change(
        series_id=series.id,
        entity="series",
        entity_id=str(series.id),
        action=action,
        who=actor.who[:320],
        path=actor.path,
        at=now,
        fields={},
        note=text,
    )
    session.add(row)
    session.flush()
    return row


def changes_of(session: Session, target: Series | Event, limit: int = 200) -> list[Change]:
    """Return the log of one series or talk, newest first."""
    entity, entity_id = _key(target)
    query = (
        select(Change)
        .where(Change.entity == entity, Change.entity_id == entity_id)
        .order_by(Change.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def version_after(session: Session, target: Series | Event, change_id: int) -> dict[str, Any]:
    """Return the logged fields as they were right after change `change_id`.

    The current values with every later change undone, newest first.
    """
    entity, entity_id = _key(target)
    state = values_of(target)
    later = session.scalars(
        select(Change)
        .where(Change.entity == entity, Change.entity_id == entity_id, Change.id > change_id)
        .order_by(Change.id.desc())
    )
    for change in later:
        for name, pair in change.fields.items():
            if name in state:
                state[name] = pair[0]
    return state


def talk_input(talk_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """Return logged talk values as an import mapping (what validate_event reads)."""
    data = {INPUT_NAMES.get(name, name): value for name, value in values.items()}
    return {"id": talk_id, **data}
