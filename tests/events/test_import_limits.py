"""Import limits enforced while streaming (issue 14 item 8): a refused upload never costs
its parsed size in memory (a 1M-row CSV used to take 812 MB before being refused)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from events import importer, search, store, topics
from events.db import sqlite_triggers_aside
from events.errors import ImportFailed
from events.models import Event, SearchDoc, TopicLink
from events.schemas import EventRecord, validate_event, validate_series

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


BULK_TALKS = (
    "series,id,title,speakers,start,end,abstract,tags,topics\n"
    "open,b1,Équations aux dérivées,Zoë Ñúñez (Universidade de Lisboa),2026-05-05 10:00,"
    "11:00,Sobre o $\\infty$-Laplaciano,pde;análise,Mathematics › Analysis of PDEs;maths\n"
    "open,b2,ＦＵＬＬ width Title,Wang Yu (北京大学); Ann Lee,2026-10-25 01:30,02:30,"
    "An abstract,,free keyword\n"
    "open,b3,Plain talk,,2026-11-01 09:00,10:00,,,\n"
    "hidden,b4,Unlisted talk,Someone,2026-05-06 10:00,11:00,,,Mathematics\n"
)


def _index(session: Session) -> dict[str, tuple[object, ...]]:
    return {
        d.event_id: (d.series_id, d.start_utc, d.end_utc, d.title, d.people, d.series_text, d.body)
        for d in session.scalars(select(SearchDoc))
    }


def _links(session: Session) -> set[tuple[int, int | None, str | None]]:
    return {(k.topic_id, k.series_id, k.event_id) for k in session.scalars(select(TopicLink))}


def test_a_bulk_import_indexes_and_links_talks_as_the_one_by_one_writes_do(
    sessions: sessionmaker[Session], write_file: Callable[[str, str | bytes], Path]
) -> None:
    # A large import writes the new talks' search rows and topic links straight from the
    # records (nothing read back); they must be the rows the ORM path writes for each talk.
    with sessions() as session, session.begin():
        topics.add_topic(session, "maths", "Mathematics")
        topics.add_topic(session, "pde", "Analysis of PDEs", parent="maths")
        for slug, visibility in (("open", "public"), ("hidden", "unlisted")):
            record = {"slug": slug, "name": "Séminaire", "timezone": "Europe/Lisbon"}
            record |= {"description": "Análise", "topics": "Mathematics; x"}
            record["visibility"] = visibility
            store.upsert_series(session, validate_series(record), NOW)
    report = importer.import_files(sessions, [write_file("bulk.csv", BULK_TALKS)])
    assert report.events["created"] == 4
    with sessions() as session, session.begin():
        # The series' feed stamp moved as its triggers move it (SQLite: once for the batch).
        for slug in ("open", "hidden"):
            series = store.get_series(session, slug)
            assert series.feed_revision >= 1
            assert series.talks_changed_at == max(e.updated_at for e in series.events)
        bulk_index, bulk_links = _index(session), _links(session)
        # Stored as the ORM stores them: a query by instant finds each talk.
        for talk in session.scalars(select(Event)):
            assert session.scalars(select(Event.id).where(Event.start_utc == talk.start_utc)).all()
        found = search.search(session, "zoe nunez derivees", NOW).events
        assert [e.id for e in found] == ["b1"]
        assert set(bulk_index) == {"b1", "b2", "b3"}
        assert {event for _, _, event in bulk_links} == {None, "b1", "b4"}
        search.reindex_all(session)
        topics.relink_all(session)
        assert _index(session) == bulk_index
        assert _links(session) == bulk_links
        # Rebuilt through the triggers (set aside during the bulk write, back since).
        assert [e.id for e in search.search(session, "zoe nunez derivees", NOW).events] == ["b1"]
        before = store.get_series(session, "open").feed_revision
        store.upsert_event(session, store.get_series(session, "open"), _renamed(session, "b3"), NOW)
    with sessions() as session:
        assert store.get_series(session, "open").feed_revision > before
        assert [e.id for e in search.search(session, "renamed", NOW).events] == ["b3"]


def _renamed(session: Session, event_id: str) -> EventRecord:
    talk = store.get_event(session, event_id)
    data = importer.event_input(talk) | {"title": "Renamed talk"}
    return validate_event(data, store.series_record(talk.series))


def _triggers(session: Session) -> set[str]:
    query = text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    return set(session.scalars(query))


def test_triggers_set_aside_for_a_bulk_write_come_back_when_it_fails(
    sessions: sessionmaker[Session],
) -> None:
    # The DDL is part of the import's transaction, even when nothing was written before it
    # (Python's sqlite3 opens a transaction only before DML): a failed import restores them.
    if sessions.kw["bind"].dialect.name != "sqlite":
        pytest.skip("SQLite's per-row triggers")
    names = ("event_feed_insert", "search_doc_ai")
    with sessions() as session:
        assert set(names) <= _triggers(session)
    with (
        pytest.raises(RuntimeError),
        sessions() as session,
        session.begin(),
        sqlite_triggers_aside(session, names) as aside,
    ):
        assert aside
        assert not set(names) & _triggers(session)
        raise RuntimeError("the import fails")
    with sessions() as session:
        assert set(names) <= _triggers(session)
