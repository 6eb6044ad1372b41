"""email, per series: how often, reminders and cancellations per subscription; pause all;
the talks each subscriber's digests carried

Revision ID: 0014_subscription_prefs
Revises: 0013_workspace2
Create Date: 2026-12-01 06:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import events.db

revision = "0014_subscription_prefs"
down_revision = "0013_workspace2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("subscription") as batch:
        batch.add_column(
            sa.Column(
                "frequency", sa.String(length=16), nullable=False, server_default="announcement"
            )
        )
        batch.add_column(
            sa.Column("reminder_hours", sa.Integer(), nullable=False, server_default="24")
        )
        batch.add_column(
            sa.Column("cancellations", sa.Boolean(), nullable=False, server_default=sa.true())
        )
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
    # The subscriber-wide choices become each subscription's.
    op.execute(
        "UPDATE subscription SET "
        "frequency = (SELECT CASE WHEN s.announcements THEN 'announcement' "
        "WHEN s.digest THEN 'weekly' ELSE 'none' END "
        "FROM subscriber s WHERE s.id = subscription.subscriber_id), "
        "reminder_hours = (SELECT s.reminder_hours FROM subscriber s "
        "WHERE s.id = subscription.subscriber_id)"
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_digested_talk_event_id", table_name="digested_talk")
    op.drop_table("digested_talk")
    with op.batch_alter_table("subscriber") as batch:
        batch.drop_column("paused_at")
    with op.batch_alter_table("subscription") as batch:
        batch.drop_column("cancellations")
        batch.drop_column("reminder_hours")
        batch.drop_column("frequency")
