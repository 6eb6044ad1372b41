"""Schedules: series recurrence, TBA slots, sessions and timetables

Revision ID: 0010_schedules
Revises: 0006b_hardening_web
Create Date: 2026-12-01 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from events.db import UTCDateTime

revision = "0010_schedules"
down_revision = "0006b_hardening_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "schedule",
        sa.Column(
            "series_id",
            sa.Integer(),
            sa.ForeignKey("series.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("rule", sa.String(500), nullable=False),
        sa.Column("dates", sa.JSON(), nullable=False),
        sa.Column("start_date", sa.String(10), nullable=False),
        sa.Column("start_time", sa.String(8), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("skips", sa.JSON(), nullable=False),
        sa.Column("moves", sa.JSON(), nullable=False),
        sa.Column("tba_in_feeds", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    # Plain ADD COLUMN (no batch copy on SQLite: the event table's triggers stay).
    op.add_column(
        "event", sa.Column("kind", sa.String(24), nullable=False, server_default="talk")
    )
    # No foreign key on parent_id: SQLite cannot add one in place (a batch copy of the table
    # would drop its feed triggers); the store checks parents (events.store._check_block).
    op.add_column("event", sa.Column("parent_id", sa.String(100), nullable=True))
    op.add_column("event", sa.Column("slot", sa.String(10), nullable=True))
    op.add_column("event", sa.Column("calendar_id", sa.String(100), nullable=True))
    op.add_column(
        "event", sa.Column("posters", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
    )
    op.create_index("ix_event_parent_id", "event", ["parent_id"])

def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_event_parent_id", table_name="event")
    # Plain DROP COLUMN (SQLite 3.35+), so the event table's triggers stay.
    for name in ("posters", "calendar_id", "slot", "parent_id", "kind"):
        op.drop_column("event", name)
    op.drop_table("schedule")
