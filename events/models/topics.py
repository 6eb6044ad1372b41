"""The site's topic taxonomy (nested one level) and the links of series and talks to it."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from events.db import Base
from events.models.records import Event, Series


class Topic(Base):
    """A topic of the site taxonomy: 'Mathematics', or 'Analysis of PDEs' under it."""

    __tablename__ = "topic"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("topic.id", ondelete="CASCADE"), index=True
    )


class TopicLink(Base):
    """One topic of a series or of a talk (exactly one of series_id, event_id is set).

    Derived from the records' `topics` field by the store (events.topics.link_*), never
    written by hand: a record's topics that name no taxonomy topic stay free keywords.
    """

    __tablename__ = "topic_link"
    __table_args__ = (
        Index("ix_topic_link_topic_series", "topic_id", "series_id"),
        Index("ix_topic_link_topic_event", "topic_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"))
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str | None] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), index=True
    )

    topic: Mapped[Topic] = relationship(Topic)
    series: Mapped[Series | None] = relationship(Series)
    event: Mapped[Event | None] = relationship(Event)
