"""announce: a series' default lead for scheduling the announcement of a new talk

Revision ID: 0020_announce_lead
Revises: 0019_announce_schedule
Create Date: 2026-12-01 07:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_announce_lead"
down_revision = "0019_announce_schedule"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    # Plain ADD COLUMN (a batch copy on SQLite would drop the 0005 feed triggers).
    op.add_column("series", sa.Column("announce_lead", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert this migration."""
    op.drop_column("series", "announce_lead")
