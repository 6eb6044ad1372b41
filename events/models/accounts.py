"""Tables of the organiser workspace: organisers, their roles per series, sign-in links,
talk drafts and who last saved a talk in the browser."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from events.db import Base, UTCDateTime
from events.models.records import Series

ROLES = ("owner", "editor")


class Organiser(Base):
    """A person who signs in to the workspace (passwordless) and organises series."""

    __tablename__ = "organiser"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Raised by "sign out everywhere": sessions carry the epoch they started in.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_signin_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The language of their emails (a locale of feeds.i18n.LOCALES, migration 0022c): the
    # workspace page's when they last signed in or chose one with the switcher.
    language: Mapped[str] = mapped_column(String(16), default="en", server_default="en")

    roles: Mapped[list[SeriesRole]] = relationship(
        back_populates="organiser", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def display(self) -> str:
        """Return the name, or the address when there is none."""
        return self.name or self.email


class SeriesRole(Base):
    """One organiser's role in one series: owner (everything) or editor (talks)."""

    __tablename__ = "series_role"

    series_id: Mapped[int] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), primary_key=True
    )
    organiser_id: Mapped[int] = mapped_column(
        ForeignKey("organiser.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    organiser: Mapped[Organiser] = relationship(back_populates="roles")
    series: Mapped[Series] = relationship()


class SignInToken(Base):
    """A one-time sign-in link: its hash, its address, its browser and its life cycle."""

    __tablename__ = "signin_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    # SHA-256 of a nonce kept in the asking browser's session (None: any browser confirms).
    browser_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TalkDraft(Base):
    """A talk not published yet: its form input, validated like any talk, in no public output.

    Drafts live in their own table, so no page, feed, email or API read can show one by
    mistake; publishing stores the talk through the same upsert as the API and importer.
    """

    __tablename__ = "talk_draft"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    start_utc: Mapped[datetime] = mapped_column(UTCDateTime())
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    series: Mapped[Series] = relationship()


class TalkEdit(Base):
    """Who last saved a published talk in the workspace, and the talk's `updated_at` then."""

    __tablename__ = "talk_edit"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    organiser_email: Mapped[str] = mapped_column(String(320))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())
