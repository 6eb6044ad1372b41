"""series feed stamps kept by triggers; rendered_feed: assembled feeds per version

Revision ID: 0005_feed_stamps
Revises: 0004_rendered_pieces
Create Date: 2026-11-23 15:00:00

`series.feed_revision` grows and `series.talks_changed_at` moves forward whenever a talk of
the series is inserted, updated or deleted, by any code path (triggers, not application
hooks), so a feed's ETag and Last-Modified come from one series row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import events.db

revision = "0005_feed_stamps"
down_revision = "0004_rendered_pieces"
branch_labels = None
depends_on = None

# SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text: compare as text.
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'"
SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER event_feed_{name} AFTER {operation} ON event BEGIN
      UPDATE series SET feed_revision = feed_revision + 1,
        talks_changed_at = max(coalesce(talks_changed_at, {changed}), {changed})
      WHERE id = {row}.series_id;
    END
    """
    for name, operation, row, changed in [
        ("insert", "INSERT", "NEW", "NEW.updated_at"),
        ("update", "UPDATE", "NEW", "NEW.updated_at"),
        ("delete", "DELETE", "OLD", SQLITE_NOW),
    ]
]
# PostgreSQL: one statement-level trigger per operation over its transition table, so a
# bulk import bumps each series once per statement rather than once per talk.
POSTGRES_FUNCTIONS = [
    f"""
    CREATE FUNCTION eventfeed_series_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE series SET feed_revision = series.feed_revision + 1,
        talks_changed_at = GREATEST(series.talks_changed_at, changed.latest)
      FROM (SELECT series_id, {latest} AS latest FROM talks GROUP BY series_id) AS changed
      WHERE series.id = changed.series_id;
      RETURN NULL;
    END $$
    """
    for name, latest in [("changed", "max(updated_at)"), ("deleted", "now()")]
]
POSTGRES_TRIGGERS = [
    f"""
    CREATE TRIGGER event_feed_{name} AFTER {operation} ON event
    REFERENCING {table} TABLE AS talks FOR EACH STATEMENT
    EXECUTE FUNCTION eventfeed_series_{function}()
    """
    for name, operation, table, function in [
        ("insert", "INSERT", "NEW", "changed"),
        ("update", "UPDATE", "NEW", "changed"),
        ("delete", "DELETE", "OLD", "deleted"),
    ]
]


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("series") as batch:
        batch.add_column(
            sa.Column("feed_revision", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("talks_changed_at", events.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE series SET talks_changed_at = "
        "(SELECT max(event.updated_at) FROM event WHERE event.series_id = series.id)"
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_FUNCTIONS + POSTGRES_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    op.create_table(
        "rendered_feed",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=300), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["series_id"], ["series.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("series_id", "format", "encoding"),
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("rendered_feed")
    for name in ("insert", "update", "delete"):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER event_feed_{name} ON event")
        else:
            op.execute(f"DROP TRIGGER event_feed_{name}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION eventfeed_series_changed()")
        op.execute("DROP FUNCTION eventfeed_series_deleted()")
    with op.batch_alter_table("series") as batch:
        batch.drop_column("talks_changed_at")
        batch.drop_column("feed_revision")

