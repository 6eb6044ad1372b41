"""Tables of the rendered-feed cache (filled by `feeds.cache`): per-talk pieces, whole feeds."""

from __future__ import annotations

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from events.db import Base


class RenderedPiece(Base):
    """One talk's rendered piece of a feed (e.g. its VEVENT) and the version it renders."""

    __tablename__ = "rendered_piece"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    audience: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[str] = mapped_column(String(200))
    body: Mapped[bytes] = mapped_column(LargeBinary)


class RenderedFeed(Base):
    """A series feed as last assembled, in one content encoding, and the version it shows."""

    __tablename__ = "rendered_feed"

    series_id: Mapped[int] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), primary_key=True
    )
    format: Mapped[str] = mapped_column(String(16), primary_key=True)
    encoding: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[str] = mapped_column(String(300))
    body: Mapped[bytes] = mapped_column(LargeBinary)
