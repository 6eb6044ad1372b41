"""The CPython 3.11 crash under load (issue 14, 3a): every ORM state owns its __dict__ early.

CPython 3.11 can run the garbage collector inside the allocation that turns an object's
inline attribute values into a real __dict__; when that collection frees the talk of the
very InstanceState being written (Session.close()), SQLAlchemy's weakref callback writes to
the same state and 3.11 frees the values twice (heap corruption, SIGSEGV in workers).
`events.db` gives each state its __dict__ when its object is created or loaded, so no later
write takes that path. The soak under gunicorn is in benchmarks/ (see README, Performance).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, sessionmaker

from events.models import Event, Series

pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="3.12 runs the GC only between bytecodes"
)


def _owns_dict(obj: object) -> bool:
    """Return whether the object's __dict__ already exists (inline values are no referent)."""
    referents = gc.get_referents(obj)
    return any(r is vars(obj) for r in referents)


def test_loaded_and_new_states_own_their_dict(
    sessions: sessionmaker[Session], make_event: Callable[..., Event]
) -> None:
    make_event(id="one")
    make_event(id="two")
    with sessions() as session:
        loaded = list(session.scalars(select(Event))) + list(session.scalars(select(Series)))
        now = datetime(2026, 1, 1, 10, tzinfo=UTC)
        new = Event(
            id="new",
            series_id=loaded[0].series_id,
            title="t",
            timezone="UTC",
            start_local="2026-01-01 10:00",
            end_local="2026-01-01 11:00",
            start_utc=now,
            end_utc=now,
            created_at=now,
            updated_at=now,
        )
        states = [inspect(obj) for obj in [*loaded, new]]
        assert len(states) == 4
        assert all(_owns_dict(state) for state in states)
