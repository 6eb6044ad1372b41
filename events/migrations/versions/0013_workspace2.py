"""organiser workspace II: API tokens remember the organiser who made them

Revision ID: 0013_workspace2
Revises: 0012_speed
Create Date: 2026-12-01 04:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_workspace2"
down_revision = "0008_email"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("organiser_id", sa.Integer(), nullable=True))
        batch.create_index("ix_api_token_organiser_id", ["organiser_id"])
        batch.create_foreign_key(
            "fk_api_token_organiser_id_organiser",
            "organiser",
            ["organiser_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("api_token") as batch:
        batch.drop_constraint("fk_api_token_organiser_id_organiser", type_="foreignkey")
        batch.drop_index("ix_api_token_organiser_id")
        batch.drop_column("organiser_id")
