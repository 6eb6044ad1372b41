"""api tokens and rate-limit windows

Revision ID: 0002_api_tokens
Revises: 0001_series_events
Create Date: 2026-11-23 12:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import events.db

revision = '0002_api_tokens'
down_revision = "0001_series_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('admin', sa.Boolean(), nullable=False),
    sa.Column('series', sa.JSON(), nullable=False),
    sa.Column('created_at', events.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', events.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', events.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_prefix'), ['prefix'], unique=False)

    op.create_table('rate_window',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('window_start', events.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'window_start')
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table('rate_window')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_prefix'))

    op.drop_table('api_token')
