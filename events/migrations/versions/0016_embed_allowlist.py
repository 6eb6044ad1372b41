"""embed allow-list: the origins a series lets frame its embeddable schedule

Revision ID: 0016_embed_allowlist
Revises: 0013_workspace2
Create Date: 2026-12-01 06:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_embed_allowlist"
down_revision = "0013_workspace2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    # Plain ADD COLUMN (no batch copy on SQLite, which would drop the 0005 triggers).
    op.add_column(
        "series",
        sa.Column("embed_origins", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_column("series", "embed_origins")
