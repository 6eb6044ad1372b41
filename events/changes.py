"""Which series and talks a committed transaction changed (issue 21, "after an edit").

Session event listeners, registered on every `Session` when this module is imported:

- `after_flush` notes the series ids (and talk ids) of new, changed and deleted `Event`
  and `Series` objects (a talk moved to another series: both series) in `session.info`;
- the bulk path `events.store.create_events` notes its series and talks through the
  `talks_created` signal (it writes with Core INSERTs, which flush nothing);
- `after_commit` hands what is pending to the collector of the current context (`watch`,
  `watching()`), if any;
- `after_rollback` (and a rolled-back savepoint's objects are simply kept: warming too
  much is harmless) drops what is pending.

Not covered: Core UPDATE or DELETE statements on `event` or `series` other than
`create_events` (none is used by the web's writers today), topic taxonomy edits, and edits
made in other processes (the worker's import jobs and mirrors, `eventfeed import`): the
web's refresher finds those by polling the series' stamps (web.warm). What neither finds,
its readers rebuild on their first request, as before; they never read stale data,
because stored documents are served only under versions taken from the database stamps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import InstanceState, Session, UOWTransaction

from events import signals
from events.models import Event, Series

PENDING = "eventfeed.changes.pending"


@dataclass
class Changes:
    """Series ids and talk ids some writes changed (`series_rows`: series whose own row was
    written, not only their talks)."""

    series_ids: set[int] = field(default_factory=set)
    talk_ids: set[str] = field(default_factory=set)
    series_rows: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        """Return whether anything changed."""
        return bool(self.series_ids or self.talk_ids)

    def add(self, other: Changes) -> None:
        """Add another set of changes to this one."""
        self.series_ids |= other.series_ids
        self.talk_ids |= other.talk_ids
        self.series_rows |= other.series_rows


_watcher: ContextVar[Changes | None] = ContextVar("eventfeed_changes", default=None)


def watch() -> tuple[Changes, Token[Changes | None]]:
    """Start collecting the changes every session commits in this context; `unwatch` ends."""
    found = Changes()
    return found, _watcher.set(found)


def unwatch(token: Token[Changes | None]) -> None:
    """Stop the collecting `watch` started."""
    _watcher.reset(token)


@contextmanager
def watching() -> Iterator[Changes]:
    """Collect the changes every session commits in this context (thread) meanwhile."""
    found, token = watch()
    try:
        yield found
    finally:
        unwatch(token)


def _pending(session: Session) -> Changes:
    found: Changes = session.info.setdefault(PENDING, Changes())
    return found


def note(session: Session, series_ids: list[int], talk_ids: list[str]) -> None:
    """Note series and talks changed in the session's current transaction."""
    pending = _pending(session)
    pending.series_ids.update(series_ids)
    pending.talk_ids.update(talk_ids)


def _ident(state: InstanceState[Any]) -> Any:
    """Return a flushed object's primary key from its loaded values or its identity."""
    return state.dict.get("id") or (state.identity or (None,))[0]


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    pending: Changes | None = None
    for group in (session.new, session.dirty, session.deleted):
        for obj in group:
            # Read loaded values only (state.dict): a deleted row is not to be loaded again.
            state = inspect(obj)
            if isinstance(obj, Event):
                pending = pending or _pending(session)
                talk = _ident(state)
                if talk is not None:
                    pending.talk_ids.add(talk)
                history = state.attrs.series_id.history
                found = [*history.unchanged, *history.added, *history.deleted]
                if not any(found) and obj not in session.deleted:
                    found = [obj.series_id]  # unloaded: the row is there to read
                pending.series_ids.update(ident for ident in found if ident is not None)
            elif isinstance(obj, Series):
                ident = _ident(state)
                if ident is not None:
                    pending = pending or _pending(session)
                    pending.series_ids.add(ident)
                    pending.series_rows.add(ident)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    watcher = _watcher.get()
    if pending and watcher is not None:
        watcher.add(pending)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)


@signals.talks_created.connect
def _talks_created(session: Session, *, series: Series, event_ids: list[str], **_: Any) -> None:
    note(session, [series.id], list(event_ids))
