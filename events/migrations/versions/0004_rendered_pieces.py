"""rendered_piece: per-talk rendered feed pieces shared by all workers

Revision ID: 0004_rendered_pieces
Revises: 0003_subscriptions
Create Date: 2026-11-23 13:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_rendered_pieces"
down_revision = "0003_subscriptions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "rendered_piece",
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", "kind", "audience"),
    )
    op.create_index(
        "ix_event_series_feed",
        "event",
        ["series_id", "start_utc", "status", "updated_at"],
        unique=False,
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_event_series_feed", table_name="event")
    op.drop_table("rendered_piece")
