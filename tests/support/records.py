"""Records changed the way the API, imports and organiser pages change them: a talk edited
through the validation path, a confirmed reader with a known personal-feed token."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.clock import SYSTEM_CLOCK
from events.models import Subscriber
from events.schemas import validate_event


def edit_talk(
    sessions: sessionmaker[Session], event_id: str, keep: Iterable[str] = (), **changes: object
) -> None:
    """Save a talk again with `changes`: its title, zone and times kept, and the fields `keep`."""
    with sessions() as session, session.begin():
        event = store.get_event(session, event_id)
        data = {
            "id": event.id,
            "title": event.title,
            "timezone": event.timezone,
            "start": event.start_local,
            "end": event.end_local,
            **{name: getattr(event, name) for name in keep},
            **changes,
        }
        record = validate_event(data, store.series_record(event.series))
        store.upsert_event(session, event.series, record, SYSTEM_CLOCK.now())


def add_reader(
    session: Session, email: str, timezone: str, token: str, now: datetime
) -> Subscriber:
    """Add a confirmed subscriber (no subscriptions yet) whose personal feeds use `token`."""
    stamps = {"confirmed_at": now, "created_at": now, "updated_at": now}
    reader = Subscriber(email=email, timezone=timezone, token=token, **stamps)
    session.add(reader)
    session.flush()
    return reader
