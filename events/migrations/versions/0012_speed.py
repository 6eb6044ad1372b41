"""rendered_document: stored site-wide and personal feeds (issue 21)

Revision ID: 0012_speed
Revises: 0006b_hardening_web
Create Date: 2026-12-01 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_speed"
down_revision = "0011_discovery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "rendered_document",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key", "encoding"),
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("rendered_document")
