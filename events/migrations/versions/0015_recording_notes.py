"""recording notes: a subscriber's choice to hear when a talk's video or slides appear

Revision ID: 0015_recording_notes
Revises: 0014_workspace_defaults
Create Date: 2026-12-01 06:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_recording_notes"
down_revision = "0014_workspace_defaults"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    # Plain ADD COLUMN: a batch copy on SQLite drops the subscriber table, and with it (ON
    # DELETE CASCADE) every subscription.
    op.add_column(
        "subscriber",
        sa.Column("recording_notes", sa.Boolean(), nullable=False, server_default=sa.true()),
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_column("subscriber", "recording_notes")
