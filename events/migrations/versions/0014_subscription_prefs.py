"""email per series or topic: how often, reminders and cancellations per subscription; pause
all; the talks each subscriber's digests carried

Revision ID: 0014_subscription_prefs
Revises: 0013_workspace2
Create Date: 2026-12-01 06:15:00

`subscription` is rebuilt (same on SQLite and PostgreSQL: new table, copy, drop, rename): an
`id` key instead of (subscriber_id, series_id), a nullable `series_id` and a `topic_id`
(exactly one set), and each subscription's choices, copied from the subscriber-wide ones.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import events.db

revision = "0014_subscription_prefs"
down_revision = "0015_recording_notes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "subscription_new",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("topic_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", events.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "frequency", sa.String(length=16), nullable=False, server_default="announcement"
        ),
        sa.Column("reminder_hours", sa.Integer(), nullable=False, server_default="24"),
        sa.Column("cancellations", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.CheckConstraint(
            "(series_id IS NULL) <> (topic_id IS NULL)", name="ck_subscription_one_target"
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            ondelete="CASCADE",
            name="fk_subscription_subscriber",
        ),
        sa.ForeignKeyConstraint(
            ["series_id"], ["series.id"], ondelete="CASCADE", name="fk_subscription_series"
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topic.id"], ondelete="CASCADE", name="fk_subscription_topic"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_subscription"),
        sa.UniqueConstraint("subscriber_id", "series_id", name="uq_subscription_series"),
        sa.UniqueConstraint("subscriber_id", "topic_id", name="uq_subscription_topic"),
    )
    # The subscriber-wide choices become each subscription's.
    op.execute(
        "INSERT INTO subscription_new (subscriber_id, series_id, confirmed_at, created_at,"
        " frequency, reminder_hours, cancellations)"
        " SELECT o.subscriber_id, o.series_id, o.confirmed_at, o.created_at,"
        " CASE WHEN s.announcements THEN 'announcement' WHEN s.digest THEN 'weekly'"
        " ELSE 'none' END, s.reminder_hours, TRUE"
        " FROM subscription o JOIN subscriber s ON s.id = o.subscriber_id"
        " ORDER BY o.subscriber_id, o.series_id"
    )
    op.drop_index("ix_subscription_series_id", table_name="subscription")
    op.drop_table("subscription")
    op.rename_table("subscription_new", "subscription")
    op.create_index("ix_subscription_series_id", "subscription", ["series_id"])
    op.create_index("ix_subscription_topic_id", "subscription", ["topic_id"])
    with op.batch_alter_table("subscriber") as batch:
        batch.add_column(
            sa.Column("paused_at", events.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "digested_talk",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("digested_at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("subscriber_id", "event_id"),
    )
    op.create_index("ix_digested_talk_event_id", "digested_talk", ["event_id"])


def downgrade() -> None:
    """Revert this migration (topic subscriptions and per-series choices are dropped)."""
    op.drop_index("ix_digested_talk_event_id", table_name="digested_talk")
    op.drop_table("digested_talk")
    with op.batch_alter_table("subscriber") as batch:
        batch.drop_column("paused_at")
    op.create_table(
        "subscription_old",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", events.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["series_id"], ["series.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("subscriber_id", "series_id"),
    )
    op.execute(
        "INSERT INTO subscription_old (subscriber_id, series_id, confirmed_at, created_at)"
        " SELECT subscriber_id, series_id, confirmed_at, created_at FROM subscription"
        " WHERE series_id IS NOT NULL"
    )
    op.drop_index("ix_subscription_topic_id", table_name="subscription")
    op.drop_index("ix_subscription_series_id", table_name="subscription")
    op.drop_table("subscription")
    op.rename_table("subscription_old", "subscription")
    op.create_index("ix_subscription_series_id", "subscription", ["series_id"])
