"""A series' schedule: a recurrence rule at a local wall time, with skips and moves.

The occurrences it yields become rows of `event` (TBA slots until a talk fills them); the
rule logic lives in `events.schedules`.
"""

from __future__ import annotations

from datetime import datetime
from typing import NotRequired, TypedDict

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from events.db import Base, UTCDateTime

# Kinds of `event` rows. A container holds items (`event.parent_id`); a TBA row is a slot
# of a schedule that no talk fills yet.
CONTAINER_KINDS = ("session", "workshop", "conference-day")
TALK_KINDS = ("talk", "invited-talk", "contributed-talk", "poster-spotlights")
BREAK_KINDS = ("break", "lunch")
OTHER_ITEM_KINDS = ("opening", "poster-session", "discussion", "closing")
EVENT_KINDS = ("talk", "tba", *CONTAINER_KINDS, *TALK_KINDS[1:], *BREAK_KINDS, *OTHER_ITEM_KINDS)


class Skip(TypedDict):
    """A date the rule yields but no seminar takes place, with an optional public reason."""

    date: str
    reason: NotRequired[str]


class Move(TypedDict):
    """An occurrence moved from the date the rule yields to another local start."""

    date: str
    to: str


class Schedule(Base):
    """The recurrence of one series: RFC 5545 rule and/or dates, local start and duration."""

    __tablename__ = "schedule"

    series_id: Mapped[int] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), primary_key=True
    )
    # RFC 5545 RRULE value without DTSTART ("FREQ=WEEKLY;INTERVAL=2;BYDAY=SA"), or "".
    rule: Mapped[str] = mapped_column(String(500), default="")
    # Explicit dates (RDATE), 'YYYY-MM-DD'.
    dates: Mapped[list[str]] = mapped_column(JSON, default=list)
    start_date: Mapped[str] = mapped_column(String(10))
    start_time: Mapped[str] = mapped_column(String(8))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    skips: Mapped[list[Skip]] = mapped_column(JSON, default=list)
    moves: Mapped[list[Move]] = mapped_column(JSON, default=list)
    # Series setting: TBA slots appear in calendar feeds ("<series> — speaker TBA").
    tba_in_feeds: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
