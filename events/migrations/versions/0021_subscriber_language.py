"""subscriber: the language of a subscriber's emails (en, pt_PT, zh_Hans)

Revision ID: 0021_subscriber_language
Revises: 0020_announce_lead
Create Date: 2026-12-01 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_subscriber_language"
down_revision = "0021_content_languages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    # Plain ADD COLUMN (a batch copy on SQLite would drop the 0005 feed triggers).
    op.add_column(
        "subscriber",
        sa.Column("language", sa.String(16), nullable=False, server_default="en"),
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_column("subscriber", "language")
