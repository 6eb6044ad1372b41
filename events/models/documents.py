"""Stored bodies of feeds that span several series: site-wide and personal feeds (issue 21)."""

from __future__ import annotations

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from events.db import Base


class RenderedDocument(Base):
    """A feed as last built, in one content encoding, under the version it shows.

    `key` names the feed (`site/ics`, `personal/<subscriber id>/rss`, ...); one row per key
    and encoding, replaced when a newer version is built, so the table stays as small as
    the set of feeds (unfiltered site-wide feeds and one per subscriber and format).
    """

    __tablename__ = "rendered_document"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    encoding: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[str] = mapped_column(String(100))
    body: Mapped[bytes] = mapped_column(LargeBinary)
