"""email end to end: bounced addresses

Revision ID: 0008_email
Revises: 0006b_hardening_web
Create Date: 2026-12-01 03:00:00

`subscriber.bounced_at` / `bounce_reason`: a permanent (5xx) refusal of the address, by the
SMTP server while sending or by a delivery status notification fed to `eventfeed bounces`.
No email goes to a bounced address until its owner confirms a subscription again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import events.db

revision = "0008_email"
down_revision = "0007_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bounced_at", events.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("bounce_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_column("bounce_reason")
        batch_op.drop_column("bounced_at")
