"""series.version, event.version: optimistic locking of concurrent writers

Revision ID: 0007_hardening
Revises: 0006b_hardening_web
Create Date: 2026-12-01 03:00:00

Every ORM UPDATE or DELETE of a series or a talk says `WHERE version = <version read>` and
raises it (SQLAlchemy's `version_id_col`), so an If-Match checked against what was read is
still true when the row is written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_hardening"
down_revision = "0012_speed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    for table in ("series", "event"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("version", sa.Integer(), server_default="1", nullable=False)
            )


def downgrade() -> None:
    """Revert this migration."""
    for table in ("event", "series"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("version")
