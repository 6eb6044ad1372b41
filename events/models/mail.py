"""Tables of the mail room: subscribers, their per-series subscriptions, the email outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from events.db import Base, UTCDateTime
from events.models.fields import OutboxPayload
from events.models.records import Event, Series

OUTBOX_KINDS = (
    "confirmation",
    "announcement",
    "change",
    "cancellation",
    "reminder",
    "digest",
    "signin",
    "notice",  # to a series' organisers (mail.organisers)
)
OUTBOX_STATUSES = ("queued", "sending", "sent", "failed", "bounced", "skipped")


class Subscriber(Base):
    """A person who receives emails and has one secret personal-feed token."""

    __tablename__ = "subscriber"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    announcements: Mapped[bool] = mapped_column(Boolean, default=True)
    digest: Mapped[bool] = mapped_column(Boolean, default=True)
    reminder_hours: Mapped[int] = mapped_column(Integer, default=24)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bounce_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def active(self) -> bool:
        """Return whether this subscriber confirmed and did not unsubscribe."""
        return self.confirmed_at is not None and self.unsubscribed_at is None

    @property
    def mailable(self) -> bool:
        """Return whether emails may go to this subscriber (active, address not bounced)."""
        return self.active and self.bounced_at is None

    @property
    def state(self) -> str:
        """Return 'bounced', 'unsubscribed', 'confirmed' or 'pending'."""
        if self.bounced_at is not None:
            return "bounced"
        if self.unsubscribed_at is not None:
            return "unsubscribed"
        return "confirmed" if self.confirmed_at is not None else "pending"


class Subscription(Base):
    """One subscriber following one series; mail flows only once it is confirmed."""

    __tablename__ = "subscription"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True
    )
    series_id: Mapped[int] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")
    series: Mapped[Series] = relationship()


class Outbox(Base):
    """One email to send: queued with the change that causes it, delivered by `eventfeed send`."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriber.id", ondelete="SET NULL"), index=True
    )
    event_id: Mapped[str | None] = mapped_column(ForeignKey("event.id", ondelete="SET NULL"))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(998))
    payload: Mapped[OutboxPayload] = mapped_column(JSON, default=dict)
    message: Mapped[bytes | None] = mapped_column(LargeBinary)
    message_id: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    subscriber: Mapped[Subscriber | None] = relationship()
    event: Mapped[Event | None] = relationship()
