"""Typed SQLAlchemy models of seminar series and their talks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from events.db import Base, UTCDateTime
from events.models.fields import (
    Location,
    Meeting,
    SeriesTranslation,
    Speaker,
    TalkTranslation,
)

VISIBILITIES = ("public", "unlisted")
STATUSES = ("confirmed", "tentative", "cancelled")
ACCESS_POLICIES = ("public", "subscribers", "revealed", "hidden")


class Series(Base):
    """A seminar series: the unit people subscribe to."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64))
    homepage: Mapped[str | None] = mapped_column(String(2000))
    organisers: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(35), default="en")
    # Name and description in other languages, by BCP 47 tag (migration 0021).
    translations: Mapped[dict[str, SeriesTranslation]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    # Indexed (migration 0022b): the public series' summary reads only their rows, not
    # the dead row versions the feed triggers leave behind on PostgreSQL.
    visibility: Mapped[str] = mapped_column(String(16), default="public", index=True)
    location: Mapped[Location | None] = mapped_column(JSON)
    meeting: Mapped[Meeting | None] = mapped_column(JSON)
    auto_announce: Mapped[bool] = mapped_column(Boolean, default=False)
    # Minutes a new talk lasts when it names no end (migration 0014_workspace_defaults).
    duration: Mapped[int | None] = mapped_column(Integer)
    # Days before the start a new talk's announcement is scheduled (1 or 7; None: by hand).
    announce_lead: Mapped[int | None] = mapped_column(Integer)
    # Set (for good) once the series or one of its talks has a `revealed` meeting: only
    # then does a personal feed look for reveal moments (events.queries.revealed_meetings).
    reveals: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Taxonomy topics (by slug, name or 'Parent › Child') and free keywords, as imported;
    # events.topics links the known ones (migration 0011_discovery).
    topics: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # Origins allowed to frame its embed (events.origins; migration 0016): empty = any site.
    embed_origins: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Kept by database triggers (migration 0005) on every insert, update or delete of a
    # talk, so a feed's validators come from this one row (events.queries.series_stamp).
    feed_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    talks_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Optimistic locking (migration 0007): every ORM UPDATE or DELETE says
    # `WHERE version = <the version read>` and raises the version, so two writers that read
    # the same version cannot both write (events.store.update_event and friends).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy's mapping)

    events: Mapped[list[Event]] = relationship(
        back_populates="series", order_by="Event.start_utc", passive_deletes=True
    )


class Event(Base):
    """One talk or session slot, with its wall time, zone and derived UTC instants."""

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_series_start", "series_id", "start_utc"),
        # Serves the talk stamps of a new series feed version (one series, retention by
        # status and start, latest starts first); created by migration 0004_rendered_pieces.
        Index("ix_event_series_feed", "series_id", "start_utc", "status", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    speakers: Mapped[list[Speaker]] = mapped_column(JSON, default=list)
    abstract: Mapped[str] = mapped_column(Text, default="")
    # Title and abstract in languages other than the series', by BCP 47 tag (migration 0021).
    translations: Mapped[dict[str, TalkTranslation]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    timezone: Mapped[str] = mapped_column(String(64))
    start_local: Mapped[str] = mapped_column(String(32))
    end_local: Mapped[str] = mapped_column(String(32))
    start_utc: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Pages read the upcoming window (end_utc >= now) through this index (migration 0006b).
    end_utc: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    location: Mapped[Location] = mapped_column(JSON, default=dict)
    meeting: Mapped[Meeting | None] = mapped_column(JSON)
    livestream: Mapped[str | None] = mapped_column(String(2000))
    recording: Mapped[str | None] = mapped_column(String(2000))
    slides: Mapped[str | None] = mapped_column(String(2000))
    homepage: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # Schedules (migration 0010): what the row is (events.models.schedules.EVENT_KINDS), the
    # session or workshop holding it, the schedule date it stands for, the id its calendar
    # UID is made from (a talk that filled a TBA slot keeps the slot's UID) and, for poster
    # spotlights, the posters.
    kind: Mapped[str] = mapped_column(String(24), default="talk", server_default="talk")
    # No database foreign key (SQLite cannot add one without copying the table and losing
    # its triggers): the store checks the parent, and deleting a block deletes its items
    # through `items`.
    parent_id: Mapped[str | None] = mapped_column(String(100), index=True)
    slot: Mapped[str | None] = mapped_column(String(10))
    calendar_id: Mapped[str | None] = mapped_column(String(100))
    posters: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Optimistic locking, as for Series (migration 0007).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy's mapping)

    series: Mapped[Series] = relationship(back_populates="events")
    items: Mapped[list[Event]] = relationship(
        primaryjoin="Event.id == foreign(Event.parent_id)",
        remote_side="Event.parent_id",
        order_by="Event.start_utc",
        cascade="save-update, merge, delete",
    )

    @property
    def uid_key(self) -> str:
        """Return the id the calendar UID is made from (kept when a talk fills a slot)."""
        return self.calendar_id or self.id
