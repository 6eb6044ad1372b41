"""The search index: one row per talk of a public series, its text folded for matching.

Rows are written by the store (`events.search.index_event`) in the writer's transaction,
never rebuilt per query. SQLite mirrors `body` into the FTS5 table `search_fts` (trigram
tokenizer) by triggers; PostgreSQL indexes `body` with a pg_trgm GIN index (migration
0011_discovery).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from events.db import Base, UTCDateTime
from events.models.records import Event


class SearchDoc(Base):
    """A talk's searchable text, folded (case, accents, width) by `events.search.fold`."""

    __tablename__ = "search_doc"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(
        String(100), ForeignKey("event.id", ondelete="CASCADE"), unique=True
    )
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    start_utc: Mapped[datetime] = mapped_column(UTCDateTime())
    end_utc: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Ranking fields (a term found here weighs more) and the whole text, which is indexed.
    title: Mapped[str] = mapped_column(Text, default="")
    people: Mapped[str] = mapped_column(Text, default="")
    series_text: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")

    event: Mapped[Event] = relationship(Event)
