"""organiser workspace: a series' default duration for new talks

Revision ID: 0014_workspace_defaults
Revises: 0013_workspace2
Create Date: 2026-12-01 06:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_workspace_defaults"
down_revision = "0013_workspace2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("series") as batch:
        batch.add_column(sa.Column("duration", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("series") as batch:
        batch.drop_column("duration")
