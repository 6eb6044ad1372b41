"""Tables of the change log (every write to a series or talk) and speakers' secret links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from events.db import Base, UTCDateTime

CHANGE_ACTIONS = ("created", "updated", "deleted", "restored", "exported")
CHANGE_PATHS = ("browser", "api", "import", "mirror", "speaker", "system")


class Change(Base):
    """One logged change of a series or a talk: who, when, through which path, what fields.

    `fields` maps each changed field to `[before, after]` (JSON values); a talk created in
    bulk by an import has one compact row with no fields (its values are the talk's first
    version). No foreign keys: the log outlives what it describes.
    """

    __tablename__ = "change"
    __table_args__ = (
        Index("ix_change_entity", "entity", "entity_id", "id"),
        Index("ix_change_series", "series_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_id: Mapped[int] = mapped_column(Integer)
    entity: Mapped[str] = mapped_column(String(8))  # 'series' | 'talk'
    entity_id: Mapped[str] = mapped_column(String(100))  # a talk's id, a series' numeric id
    action: Mapped[str] = mapped_column(String(16))
    who: Mapped[str] = mapped_column(String(320))
    path: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")


class SpeakerLink(Base):
    """A talk's secret link for its speaker (only its SHA-256 hash is kept); one per talk."""

    __tablename__ = "speaker_link"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ScheduledAnnouncement(Base):
    """A talk's announcement for the worker to queue at `due_at`; one per talk."""

    __tablename__ = "scheduled_announcement"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    lead_days: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
