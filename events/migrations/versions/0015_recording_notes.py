"""recording notes: a subscriber's choice to hear when a talk's video or slides appear

Revision ID: 0015_recording_notes
Revises: 0013_workspace2
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
    with op.batch_alter_table("subscriber") as batch:
        batch.add_column(
            sa.Column(
                "recording_notes", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("subscriber") as batch:
        batch.drop_column("recording_notes")
