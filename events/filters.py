"""The home page's filters of upcoming talks: topic, date range, online or in person, language.

Each filter is a condition on a talk (`conditions`), added to the upcoming-window query of
events.listings. Dates are calendar days in the viewer's zone (UTC when unknown): a talk
is in the range when it starts on one of those days. "Online" means a talk whose location
says online; "in person" one with a room or an address (a hybrid talk is both).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import Session

from events import times
from events.models import Event, Series, Topic
from events.topics import about, children

MODES = ("online", "in-person")


@dataclass(frozen=True)
class TalkFilter:
    """What the viewer asked for; None: no filter on that."""

    topic: str | None = None
    start: date | None = None
    end: date | None = None
    mode: str | None = None
    language: str | None = None

    @property
    def active(self) -> bool:
        """Return whether any filter is set."""
        return any(
            v is not None for v in (self.topic, self.start, self.end, self.mode, self.language)
        )


def conditions(session: Session, wanted: TalkFilter, zone: str) -> list[ColumnElement[bool]]:
    """Return the conditions a talk must meet (an unknown topic matches nothing)."""
    found: list[ColumnElement[bool]] = []
    if wanted.topic is not None:
        topic = session.scalar(select(Topic).where(Topic.slug == wanted.topic))
        ids = [topic.id, *(c.id for c in children(session, topic))] if topic else []
        found.append(about(ids))
    if wanted.start is not None:
        found.append(Event.start_utc >= times.local_midnight(wanted.start, zone))
    if wanted.end is not None:
        found.append(Event.start_utc < times.local_midnight(wanted.end + timedelta(days=1), zone))
    if wanted.mode == "online":
        found.append(Event.location["online"].as_boolean().is_(True))
    elif wanted.mode == "in-person":
        found.append(
            or_(
                Event.location["room"].as_string().is_not(None),
                Event.location["address"].as_string().is_not(None),
            )
        )
    if wanted.language is not None:
        found.append(
            exists().where(Series.id == Event.series_id, Series.language == wanted.language)
        )
    return found


def languages(session: Session) -> list[str]:
    """Return the languages of the public series, for the filter's choices."""
    query = select(Series.language).where(Series.visibility == "public").distinct()
    return sorted(session.scalars(query))
