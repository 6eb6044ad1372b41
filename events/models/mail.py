"""Tables of the mail room: subscribers, their per-series subscriptions, the email outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from events.db import Base, UTCDateTime
from events.models.fields import OutboxPayload
from events.models.records import Event, Series
from events.models.topics import Topic

OUTBOX_KINDS = (
    "confirmation",
    "announcement",
    "change",
    "cancellation",
    "reminder",
    "digest",
    "signin",
    "session",
    "session-update",
    "recording",
    "notice",  # to a series' organisers (mail.organisers)
)
# How often a subscription brings news of its talks (migration 0014_subscription_prefs).
FREQUENCIES = ("announcement", "daily", "weekly", "none")
DIGEST_FREQUENCIES = ("daily", "weekly")
# A followed topic's key among series slugs (which cannot hold a colon): 'topic:<slug>'.
TOPIC_KEY = "topic:"
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
    # A short note when a talk's video or slides appear after it started (migration 0015).
    recording_notes: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The language of their emails, a Babel locale of feeds.i18n.LOCALES (migration 0021): the
    # page's language when they subscribed, changed on the management page.
    language: Mapped[str] = mapped_column(String(16), default="en", server_default="en")
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bounce_reason: Mapped[str | None] = mapped_column(Text)
    # "Pause all" on the management page: nothing but confirmations is sent meanwhile.
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
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
    def paused(self) -> bool:
        """Return whether the subscriber paused all emails."""
        return self.paused_at is not None

    @property
    def state(self) -> str:
        """Return 'bounced', 'unsubscribed', 'confirmed' or 'pending'."""
        if self.bounced_at is not None:
            return "bounced"
        if self.unsubscribed_at is not None:
            return "unsubscribed"
        return "confirmed" if self.confirmed_at is not None else "pending"


class Subscription(Base):
    """One subscriber following one series or one topic (exactly one of series_id, topic_id);
    mail flows only once it is confirmed.

    Its choices: `frequency` (FREQUENCIES: an email per new talk, a daily or weekly digest,
    or none), `reminder_hours` before each talk (0: none) and whether cancellations are sent.
    """

    __tablename__ = "subscription"
    __table_args__ = (
        CheckConstraint(
            "(series_id IS NULL) <> (topic_id IS NULL)", name="ck_subscription_one_target"
        ),
        UniqueConstraint("subscriber_id", "series_id", name="uq_subscription_series"),
        UniqueConstraint("subscriber_id", "topic_id", name="uq_subscription_topic"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE", name="fk_subscription_subscriber")
    )
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE", name="fk_subscription_series"), index=True
    )
    topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("topic.id", ondelete="CASCADE", name="fk_subscription_topic"), index=True
    )
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    frequency: Mapped[str] = mapped_column(
        String(16), default="announcement", server_default="announcement"
    )
    reminder_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    cancellations: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")
    series: Mapped[Series | None] = relationship()
    topic: Mapped[Topic | None] = relationship()

    @property
    def key(self) -> str:
        """Return the management form's key: the series slug, or 'topic:<slug>'."""
        if self.series is not None:
            return self.series.slug
        return f"{TOPIC_KEY}{self.topic.slug}" if self.topic is not None else ""

    @property
    def name(self) -> str:
        """Return what is followed, for people: the series' or the topic's name."""
        if self.series is not None:
            return self.series.name
        return f"Topic: {self.topic.name}" if self.topic is not None else ""


class DigestedTalk(Base):
    """A talk, at one SEQUENCE, that went into a subscriber's digest (never twice unchanged)."""

    __tablename__ = "digested_talk"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[str] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    sequence: Mapped[int] = mapped_column(Integer)
    digested_at: Mapped[datetime] = mapped_column(UTCDateTime())


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
