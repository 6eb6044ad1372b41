"""events.reader runs the fast path's Core selects on a raw connection: the same rows as
SQLAlchemy's own execution, every committed write seen at once, and held connections
closed with the engine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import psycopg.errors
import pytest
from sqlalchemy import Engine, column, select, table, text, update
from sqlalchemy.orm import Session, sessionmaker

from events import queries
from events.models import Event, Series
from events.reader import Query, Reader
from feeds import cache
from web import page_cache


def _statements() -> list[tuple[Query, dict[str, object]]]:
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    return [
        (queries.STAMP, {"slug": "alpha"}),
        (queries.PUBLIC_SUMMARY, {}),
        (queries.FOLLOWED, {"token": "nobody"}),
        (page_cache.TAXONOMY, {}),
        (page_cache.BOUNDARY, {"now": moment}),
        (page_cache.SERIES_ROW, {"slug": "alpha"}),
        (page_cache.TALK_SERIES_ROW, {"event_id": "a1"}),
        (cache.STORED_DOCUMENT, {"key": "site/ics", "encoding": "identity", "version": "x"}),
    ]


def test_rows_equal_sqlalchemy_rows(
    engine: Engine, make_series: Callable[..., Series], make_event: Callable[..., Event]
) -> None:
    make_series(slug="alpha", name="Seminar Alpha", topics=["Geometry"])
    make_event("alpha", id="a1", title="A talk", start="2030-03-01 09:30", end="10:00")
    reader = Reader(engine)
    try:
        for statement, params in _statements():
            with engine.connect() as connection:
                expected = [tuple(r) for r in connection.execute(statement, params)]
            assert reader.rows(statement, params) == expected, statement
            assert repr(reader.rows(statement, params)) == repr(expected), statement
    finally:
        reader.close()


def test_every_commit_is_seen_at_once(
    engine: Engine, sessions: sessionmaker[Session], make_series: Callable[..., Series]
) -> None:
    make_series(slug="alpha", name="Seminar Alpha")
    reader = Reader(engine)
    before = reader.first(queries.STAMP, {"slug": "alpha"})
    assert before is not None
    with sessions() as session, session.begin():
        session.execute(update(Series).values(feed_revision=Series.feed_revision + 1))
    after = reader.first(queries.STAMP, {"slug": "alpha"})
    assert after is not None and after[3] == before[3] + 1
    reader.close()


def test_disposing_the_engine_closes_held_connections(engine: Engine) -> None:
    reader = Reader(engine)
    assert reader.first(queries.PUBLIC_SUMMARY) is not None
    held = list(reader._held)  # noqa: SLF001
    assert len(held) == 1
    engine.dispose()
    assert reader._held == []  # noqa: SLF001
    assert reader.first(queries.PUBLIC_SUMMARY) is not None  # a new one when asked again
    reader.close()


def test_a_forked_child_never_uses_its_parents_connection(engine: Engine) -> None:
    reader = Reader(engine)
    assert reader.first(queries.PUBLIC_SUMMARY) is not None
    parents = list(reader._held)  # noqa: SLF001
    reader._pid = -1  # noqa: SLF001  (as seen from a child forked after that read)
    assert reader.first(queries.PUBLIC_SUMMARY) is not None
    children = list(reader._held)  # noqa: SLF001
    assert children and children[0] is not parents[0]
    reader._pid = -1  # noqa: SLF001
    reader.close()  # (gunicorn's post_fork disposes the engine): the parent's stays open
    cursor = parents[0].cursor()
    cursor.execute("SELECT 1")
    assert cursor.fetchall()[0][0] == 1
    parents[0].close()
    children[0].close()


def test_a_batch_equals_its_statements_one_by_one(
    engine: Engine, make_series: Callable[..., Series], make_event: Callable[..., Event]
) -> None:
    make_series(slug="alpha", name="Seminar Alpha", topics=["Geometry"])
    make_event("alpha", id="a1", title="A talk", start="2030-03-01 09:30", end="10:00")
    reader = Reader(engine)
    seen: list[str] = []
    reader.on_execute.append(seen.append)
    try:
        statements = _statements()
        assert reader.batch(statements) == [reader.rows(s, p) for s, p in statements]
        assert len(seen) == 2 * len(statements)
    finally:
        reader.close()


def test_a_postgresql_read_is_prepared_once_and_survives_a_terminated_backend(
    engine: Engine, make_series: Callable[..., Series]
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("libpq's prepared statements are PostgreSQL's")
    make_series(slug="alpha", name="Seminar Alpha")
    reader = Reader(engine)
    try:
        first = reader.first(queries.STAMP, {"slug": "alpha"})
        assert first is not None
        (connection,) = reader._held  # noqa: SLF001
        prepared = connection.execute("SELECT name, statement FROM pg_prepared_statements")
        names = {name: sql for name, sql in prepared.fetchall() if name.startswith("eventfeed_")}
        assert len(names) == 1 and "WHERE series.slug = $1" in next(iter(names.values()))
        with engine.connect() as other:  # as a server restart or an idle timeout would
            pid = connection.info.backend_pid
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert reader.first(queries.STAMP, {"slug": "alpha"}) == first  # prepared again
        assert reader._held and reader._held[0] is not connection  # noqa: SLF001
        reader._held[0].execute("DEALLOCATE ALL")  # noqa: SLF001  (as a pooler's reset)
        assert reader.first(queries.STAMP, {"slug": "alpha"}) == first  # prepared again
        with pytest.raises(psycopg.errors.UndefinedTable):  # an error is psycopg's own
            reader.first(select(column("x")).select_from(table("missing")))
    finally:
        reader.close()
