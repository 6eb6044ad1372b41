"""history: the change log of series and talks, speakers' secret links

Revision ID: 0018_history
Revises: 0013_workspace2
Create Date: 2026-12-01 06:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import events.db

revision = "0018_history"
down_revision = "0017_mirror"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=8), nullable=False),
        sa.Column("entity_id", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("who", sa.String(length=320), nullable=False),
        sa.Column("path", sa.String(length=16), nullable=False),
        sa.Column("at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_change_entity", "change", ["entity", "entity_id", "id"])
    op.create_index("ix_change_series", "change", ["series_id", "id"])
    op.create_table(
        "speaker_link",
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", events.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id"),
        sa.UniqueConstraint("secret_hash"),
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("speaker_link")
    op.drop_index("ix_change_series", table_name="change")
    op.drop_index("ix_change_entity", table_name="change")
    op.drop_table("change")
