"""Tables of access control: editors' API tokens and shared rate-limit counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from events.db import Base, UTCDateTime

TOKEN_PREFIX_LENGTH = 12


class ApiToken(Base):
    """An editor's API token: its hash, its series (or admin) and its life cycle."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(TOKEN_PREFIX_LENGTH), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    series: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A read-only token reads what its scope allows and may not write (migration 0017_mirror).
    read_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The organiser who made it in the workspace (None: made with `eventfeed token create`).
    organiser_id: Mapped[int | None] = mapped_column(
        ForeignKey("organiser.id", ondelete="SET NULL"), index=True
    )


class RateWindow(Base):
    """How many hits one key had in one fixed window."""

    __tablename__ = "rate_window"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
