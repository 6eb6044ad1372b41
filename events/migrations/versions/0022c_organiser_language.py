"""organiser: the language of an organiser's emails (en, pt_PT, zh_Hans)

Revision ID: 0022c_organiser_language
Revises: 0021_subscriber_language
Create Date: 2026-12-01 11:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022c_organiser_language"
down_revision = "0021_subscriber_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    # Plain ADD COLUMN (a batch copy on SQLite would drop the 0005 feed triggers).
    op.add_column(
        "organiser",
        sa.Column("language", sa.String(16), nullable=False, server_default="en"),
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_column("organiser", "language")
