"""import_jobs: workspace imports applied in the background by the worker

Revision ID: 0019_import_jobs
Revises: 0018_history
Create Date: 2026-12-01 07:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import events.db

revision = "0019_import_jobs"
down_revision = "0018_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "import_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_slug", sa.String(length=100), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column("who", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("cancel_missing", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat", events.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", events.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_import_job_status", "import_job", ["status", "id"])


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_import_job_status", table_name="import_job")
    op.drop_table("import_job")
