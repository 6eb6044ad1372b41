"""Discovery: search index (FTS5 trigram / pg_trgm GIN), topic taxonomy and topic links

Revision ID: 0011_discovery
Revises: 0006b_hardening_web
Create Date: 2026-12-01 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from events.db import UTCDateTime

revision = "0011_discovery"
down_revision = "0009_workspace"
branch_labels = None
depends_on = None

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE search_fts USING fts5("
    "body, content='search_doc', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER search_doc_ai AFTER INSERT ON search_doc BEGIN "
    "INSERT INTO search_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER search_doc_ad AFTER DELETE ON search_doc BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER search_doc_au AFTER UPDATE OF body ON search_doc BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, body) VALUES ('delete', old.id, old.body); "
    "INSERT INTO search_fts(rowid, body) VALUES (new.id, new.body); END",
]


def upgrade() -> None:
    """Apply this migration."""
    _topics()
    op.create_table(
        "search_doc",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "event_id",
            sa.String(100),
            sa.ForeignKey("event.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column(
            "series_id", sa.Integer(), sa.ForeignKey("series.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("start_utc", UTCDateTime(), nullable=False),
        sa.Column("end_utc", UTCDateTime(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("people", sa.Text(), nullable=False),
        sa.Column("series_text", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )
    op.create_index("ix_search_doc_series_id", "search_doc", ["series_id"])
    op.create_index("ix_search_doc_end_utc", "search_doc", ["end_utc"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_search_doc_body_trgm ON search_doc USING gin (body gin_trgm_ops)"
        )
    _index_existing(bind)


def _topics() -> None:
    """The taxonomy, its links, and the records' `topics` field (as imported)."""
    # Plain ADD COLUMN (no batch copy on SQLite, which would drop the 0005 triggers).
    for table in ("series", "event"):
        op.add_column(
            table, sa.Column("topics", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    op.create_table(
        "topic",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(100), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("topic.id", ondelete="CASCADE")),
    )
    op.create_index("ix_topic_parent_id", "topic", ["parent_id"])
    op.create_table(
        "topic_link",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "topic_id",
            sa.Integer(),
            sa.ForeignKey("topic.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("series_id", sa.Integer(), sa.ForeignKey("series.id", ondelete="CASCADE")),
        sa.Column("event_id", sa.String(100), sa.ForeignKey("event.id", ondelete="CASCADE")),
    )
    op.create_index("ix_topic_link_series_id", "topic_link", ["series_id"])
    op.create_index("ix_topic_link_event_id", "topic_link", ["event_id"])
    op.create_index("ix_topic_link_topic_series", "topic_link", ["topic_id", "series_id"])
    op.create_index("ix_topic_link_topic_event", "topic_link", ["topic_id", "event_id"])


def _index_existing(bind: sa.Connection) -> None:
    """Index the talks already stored (the store keeps the index from then on).

    Core statements on the columns this revision knows, never the ORM models (later
    revisions may add columns the schema does not have yet at this point).
    """
    from events.search import texts

    series = sa.table(
        "series",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("description", sa.Text),
        sa.column("visibility", sa.String),
    )
    event = sa.table(
        "event",
        sa.column("id", sa.String),
        sa.column("series_id", sa.Integer),
        sa.column("title", sa.String),
        sa.column("speakers", sa.JSON),
        sa.column("abstract", sa.Text),
        sa.column("tags", sa.JSON),
        sa.column("start_utc", UTCDateTime()),
        sa.column("end_utc", UTCDateTime()),
    )
    doc = sa.table(
        "search_doc",
        *(sa.column(name) for name in ("event_id", "series_id", "title", "people")),
        *(sa.column(name) for name in ("series_text", "body")),
        sa.column("start_utc", UTCDateTime()),
        sa.column("end_utc", UTCDateTime()),
    )
    public = bind.execute(
        sa.select(series.c.id, series.c.name, series.c.description).where(
            series.c.visibility == "public"
        )
    ).all()
    for series_id, name, description in public:
        rows = bind.execute(sa.select(event).where(event.c.series_id == series_id)).all()
        values = [
            {
                "event_id": row.id,
                "series_id": series_id,
                "start_utc": row.start_utc,
                "end_utc": row.end_utc,
                **texts(
                    title=row.title,
                    speakers=row.speakers or [],
                    abstract=row.abstract or "",
                    tags=row.tags or [],
                    series_name=name,
                    series_description=description or "",
                ),
            }
            for row in rows
        ]
        if values:
            bind.execute(sa.insert(doc), values)


def downgrade() -> None:
    """Revert this migration."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_doc")
    op.drop_table("topic_link")
    op.drop_table("topic")
    for table in ("event", "series"):
        op.drop_column(table, "topics")
