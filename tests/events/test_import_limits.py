"""Import limits enforced while streaming (issue 14 item 8): a refused upload never costs
its parsed size in memory (a 1M-row CSV used to take 812 MB before being refused)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from events import importer, store
from events.errors import ImportFailed
from events.schemas import validate_series

PEAK_LIMIT = 100 * 2**20
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fmt", "raw", "message"),
    [
        ("csv", b"id,title\n" + b"a,b\n" * 1_000_000, "1,000,000 rows, more than 100,000"),
        ("json", b'{"events": [' + b"{}," * 999_999 + b"{}]}", "more than 400,000 JSON objects"),
        ("yaml", b"events:\n" + b"- {}\n" * 1_000_000, "above the 1,500,000-byte limit"),
    ],
    ids=["csv-1M-rows", "json-1M-objects", "yaml-1M-items"],
)
def test_oversized_uploads_are_refused_in_bounded_memory(
    fmt: str, raw: bytes, message: str
) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ImportFailed, match=message):
            importer.parse_bytes("upload", raw, fmt, "s")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.0f} MiB while refusing"


def test_braces_inside_json_strings_are_not_counted_as_objects() -> None:
    talk = '{"id": "a", "title": "' + "{" * 500_000 + '", "start": "2026-01-01 10:00"}'
    assert importer._count_json_objects(talk, 400_000) == 1


def test_a_large_import_updates_the_series_row_per_batch_not_per_talk(
    sessions: sessionmaker[Session], write_file: Callable[[str, str | bytes], Path]
) -> None:
    # PostgreSQL's statement-level triggers bump the series' feed stamp once per INSERT
    # statement: 2,500 talks in one statement per batch, not one per talk (which made large
    # imports on PostgreSQL slow down more than linearly). SQLite's triggers run per row.
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("statement-level triggers are PostgreSQL's")
    rows = "".join(f"t{i},Talk {i},2026-05-05 10:00,11:00\n" for i in range(2_500))
    path = write_file("many.csv", "id,title,start,end\n" + rows)
    with sessions() as session, session.begin():
        store.upsert_series(
            session, validate_series({"slug": "many", "name": "M", "timezone": "UTC"}), NOW
        )
    report = importer.import_files(sessions, [path], default_series="many")
    assert report.events["created"] == 2_500
    with sessions() as session:
        assert store.get_series(session, "many").feed_revision <= 5
