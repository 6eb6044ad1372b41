"""organiser workspace: organisers, series roles, sign-in links, talk drafts, talk edits

Revision ID: 0009_workspace
Revises: 0006b_hardening_web
Create Date: 2026-12-01 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import events.db

revision = "0009_workspace"
down_revision = "0010_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "organiser",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_signin_at", events.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "series_role",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organiser_id"], ["organiser.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["series_id"], ["series.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("series_id", "organiser_id"),
    )
    op.create_index("ix_series_role_organiser_id", "series_role", ["organiser_id"])
    op.create_table(
        "signin_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", events.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_signin_token_email", "signin_token", ["email"])
    op.create_table(
        "talk_draft",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("start_utc", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["series_id"], ["series.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_talk_draft_series_id", "talk_draft", ["series_id"])
    op.create_table(
        "talk_edit",
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("organiser_email", sa.String(length=320), nullable=False),
        sa.Column("saved_at", events.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id"),
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("talk_edit")
    op.drop_index("ix_talk_draft_series_id", table_name="talk_draft")
    op.drop_table("talk_draft")
    op.drop_index("ix_signin_token_email", table_name="signin_token")
    op.drop_table("signin_token")
    op.drop_index("ix_series_role_organiser_id", table_name="series_role")
    op.drop_table("series_role")
    op.drop_table("organiser")
