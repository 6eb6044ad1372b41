"""event.end_utc index: pages read the upcoming window, not every talk

Revision ID: 0006b_hardening_web
Revises: 0005_feed_stamps
Create Date: 2026-11-30 19:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0006b_hardening_web"
down_revision = "0005_feed_stamps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_index("ix_event_end_utc", "event", ["end_utc"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_event_end_utc", table_name="event")
