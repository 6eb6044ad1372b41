"""announce_schedule: talks' announcements scheduled for the worker to queue

Revision ID: 0019_announce_schedule
Revises: 0018_history
Create Date: 2026-12-01 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import events.db

revision = "0019_announce_schedule"
down_revision = "0019_import_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "scheduled_announcement",
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("due_at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", events.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(
        op.f("ix_scheduled_announcement_due_at"), "scheduled_announcement", ["due_at"]
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index(op.f("ix_scheduled_announcement_due_at"), table_name="scheduled_announcement")
    op.drop_table("scheduled_announcement")
