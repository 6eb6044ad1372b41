"""organiser workspace: a series' default duration for new talks; whether it reveals
meeting details shortly before the start (issue 17)

Revision ID: 0014_workspace_defaults
Revises: 0013_workspace2
Create Date: 2026-12-01 06:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_workspace_defaults"
down_revision = "0016_embed_allowlist"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration (plain ADD COLUMN: SQLite keeps the table and its triggers)."""
    op.add_column("series", sa.Column("duration", sa.Integer(), nullable=True))
    op.add_column(
        "series", sa.Column("reveals", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_column("series", "reveals")
    op.drop_column("series", "duration")
