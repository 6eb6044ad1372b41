"""SQLite database files run in WAL mode with synchronous=NORMAL (issue 21, after an edit).

A commit appends its pages to the write-ahead log without a disk flush: cheaper commits of
rebuilt feeds, readers never blocked by a writer. Durable against an application crash; a
power loss may lose the last commits (README, "Speed at every door (HTTP)").
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text, update

from events.db import make_engine, migrate, sqlite_wal
from events.models import Event, Series


@pytest.mark.parametrize(
    ("url", "wal"),
    [
        ("sqlite:////tmp/x/events.sqlite3", True),
        ("sqlite:///relative.db?timeout=5", True),
        ("sqlite://", False),
        ("sqlite:///:memory:", False),
        ("sqlite:///file:x?mode=memory&uri=true", False),
    ],
)
def test_wal_applies_to_database_files_only(url: str, wal: bool) -> None:
    assert sqlite_wal(url) is wal


def _pragmas(engine: Engine) -> tuple[str, int]:
    with engine.connect() as conn:
        mode = conn.execute(text("PRAGMA journal_mode")).scalar_one()
        sync = conn.execute(text("PRAGMA synchronous")).scalar_one()
    return str(mode), int(sync)


def test_a_database_file_is_in_wal_mode_with_normal_sync(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    try:
        assert _pragmas(engine) == ("wal", 1)  # 1 = NORMAL
    finally:
        engine.dispose()
    memory = make_engine("sqlite://")
    try:
        assert _pragmas(memory) == ("memory", 2)  # untouched: FULL
    finally:
        memory.dispose()


def test_triggers_and_cross_process_reads_under_wal(tmp_path: Path) -> None:
    """Migrated in WAL mode, the feed triggers exist and fire; a second engine (another
    process) reads a commit at once, even while a third holds a write transaction open."""
    url = f"sqlite:///{tmp_path / 'wal.sqlite3'}"
    writer, reader, blocker = make_engine(url), make_engine(url), make_engine(url)
    try:
        migrate(writer)
        with writer.connect() as conn:
            names = conn.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
            ).scalars()
            assert {"event_feed_delete", "event_feed_insert", "event_feed_update"} <= set(names)
        moment = datetime(2026, 5, 5, 9, tzinfo=UTC)
        with writer.begin() as conn:
            conn.execute(
                Series.__table__.insert().values(
                    slug="s", name="S", timezone="UTC", created_at=moment, updated_at=moment
                )
            )
            series_id = conn.execute(select(Series.id)).scalar_one()
            conn.execute(
                Event.__table__.insert().values(
                    id="t1",
                    series_id=series_id,
                    title="One",
                    timezone="UTC",
                    start_utc=moment,
                    start_local="2026-05-05T09:00:00",
                    end_local="2026-05-05T09:00:00",
                    end_utc=moment,
                    created_at=moment,
                    updated_at=moment,
                )
            )
        revision = select(Series.feed_revision).where(Series.id == series_id)
        with reader.connect() as conn:
            before = conn.execute(revision).scalar_one()
        with blocker.connect() as held:
            held.execute(text("BEGIN IMMEDIATE"))  # a writer in the middle of its work
            held.execute(text("UPDATE series SET name = 'held'"))
            with reader.connect() as conn:  # not blocked, sees the last commit
                assert conn.execute(revision).scalar_one() == before
            held.execute(text("ROLLBACK"))
        with writer.begin() as conn:
            conn.execute(update(Event).where(Event.id == "t1").values(title="Two"))
        with reader.connect() as conn:
            assert conn.execute(revision).scalar_one() == before + 1
            title = conn.execute(select(Event.title).where(Event.id == "t1")).scalar_one()
            assert title == "Two"
    finally:
        for engine in (writer, reader, blocker):
            engine.dispose()
