"""mirrored series (series_mirror) and read-only API tokens (api_token.read_only)

Revision ID: 0017_mirror
Revises: 0013_workspace2
Create Date: 2026-12-01 06:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from events.db import UTCDateTime

revision = "0017_mirror"
down_revision = "0014_subscription_prefs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "series_mirror",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("etag", sa.String(500), nullable=True),
        sa.Column("last_modified", sa.String(100), nullable=True),
        sa.Column("fetched_at", UTCDateTime(), nullable=True),
        sa.Column("result", sa.String(20), nullable=True),
        sa.Column("message", sa.Text(), nullable=False, server_default=""),
        sa.Column("good_at", UTCDateTime(), nullable=True),
        sa.Column("next_fetch_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name="fk_series_mirror_series_id_series",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("series_id", name="pk_series_mirror"),
    )
    op.create_index("ix_series_mirror_next_fetch_at", "series_mirror", ["next_fetch_at"])
    op.add_column(
        "api_token",
        sa.Column("read_only", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_column("api_token", "read_only")
    op.drop_index("ix_series_mirror_next_fetch_at", table_name="series_mirror")
    op.drop_table("series_mirror")
