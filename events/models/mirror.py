"""The mirror of a series: the external iCalendar URL it follows and its last fetch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from events.db import Base, UTCDateTime

MIRROR_RESULTS = ("ok", "not modified", "error")


class SeriesMirror(Base):
    """One series' upstream calendar, its validators and the outcome of the last fetch."""

    __tablename__ = "series_mirror"

    series_id: Mapped[int] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), primary_key=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    # When the last fetch ended, what it gave ('ok', 'not modified', 'error') and its text.
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[str | None] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The last fetch whose data was applied or confirmed unchanged (the data shown now).
    good_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_fetch_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
