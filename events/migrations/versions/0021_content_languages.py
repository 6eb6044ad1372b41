"""content languages: titles and abstracts of talks and series in other languages

Revision ID: 0021_content_languages
Revises: 0020_announce_lead
Create Date: 2026-12-01 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_content_languages"
down_revision = "0020_announce_lead"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    # Plain ADD COLUMN (a batch copy on SQLite would drop the 0005 feed triggers). A JSON
    # column on the row itself, so an edit of a translation raises the talk's version and the
    # series' feed revision through the existing triggers, like any other field.
    for table in ("series", "event"):
        op.add_column(
            table,
            sa.Column("translations", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        )


def downgrade() -> None:
    """Revert this migration."""
    for table in ("event", "series"):
        op.drop_column(table, "translations")
