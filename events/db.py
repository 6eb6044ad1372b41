"""Engine, sessions and schema migrations, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    Table,
    create_engine,
    event,
    insert,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, InstanceState, Session, sessionmaker
from sqlalchemy.types import TypeDecorator, TypeEngine

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).with_name("migrations")


class Base(DeclarativeBase):
    """Declarative base of every EventFeed table."""


if sys.version_info < (3, 12):
    # CPython 3.11 can run the garbage collector inside the allocation that turns an
    # object's inline attribute values into a real __dict__. When that collection frees the
    # talk of the very InstanceState being written (Session.close() setting
    # state._strong_obj while the talk sits in cyclic garbage), SQLAlchemy's weakref
    # callback InstanceState._cleanup writes to the same state: 3.11 then builds two dicts
    # on one values array and frees it twice (heap corruption, SIGSEGV in the workers).
    # A state whose __dict__ exists from its start, while its object is surely alive, never
    # takes that path. 3.12 runs the collector only between bytecodes (gh-97922).
    @event.listens_for(Base, "init", propagate=True, raw=True)
    @event.listens_for(Base, "load", propagate=True, raw=True)
    def _state_dict_now(state: InstanceState[Any], *_: Any) -> None:
        vars(state)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC instant; refuses naive datetimes, returns aware ones on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; SQLite keeps it without an offset."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC instant is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str, *, pool_pre_ping: bool = False, hide_parameters: bool = False) -> Engine:
    """Create an engine; SQLite gets foreign keys, a busy timeout and, for a database file,
    write-ahead logging with `synchronous=NORMAL` (see `sqlite_wal`).

    `hide_parameters` keeps SQL parameters (passcodes, addresses) out of logs and errors.
    """
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=pool_pre_ping, hide_parameters=hide_parameters)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            if sqlite_wal(url):
                # WAL: readers never wait for a writer, and a commit appends its pages to
                # the log (no rollback journal, no fsync): durable if the application
                # crashes; a power loss may lose the last commits, never corrupt the file.
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


def sqlite_wal(url: str) -> bool:
    """Return whether a SQLite URL names a database file (WAL applies; not `:memory:`)."""
    path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
    return bool(path) and path != ":memory:" and "mode=memory" not in url


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory bound to `engine`."""
    return sessionmaker(engine, expire_on_commit=False)


INSERT_BATCH = 5_000


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many new rows with Core statements (no ORM objects), in batches."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        _sqlite_executemany(connection, table, rows)
        return
    statement = insert(table)
    if connection.dialect.name == "postgresql":
        # RETURNING makes SQLAlchemy send multi-row INSERTs ("insertmanyvalues", 1,000 rows
        # a statement); psycopg's plain executemany sends one statement per row, and the
        # statement-level triggers of `event` then ran once per row. SQLite's executemany
        # is one prepared statement in C, and its triggers are per row anyway.
        statement = statement.returning(*table.primary_key.columns)
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(statement, rows[start : start + INSERT_BATCH])


# SQLAlchemy's default text form of a DATETIME on SQLite ('2026-05-05 09:00:00.000000').
_SQLITE_DATETIME_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)


def sqlite_bind_processor(column_type: TypeEngine[Any], dialect: Dialect) -> Any:
    """Return the column type's bind processor on SQLite, or a faster one with the same output.

    An aware UTCDateTime is stored as its UTC wall time in SQLAlchemy's default text form,
    which `isoformat(" ", "microseconds")` writes in one C call (the type's own processor
    converts in two Python steps); an empty JSON list or mapping, or None, is converted once
    per column. Anything else goes through the column type's own processor.
    (tests/events/test_import_limits.py compares both over many values.)
    """
    impl = column_type.dialect_impl(dialect)
    to = impl.bind_processor(dialect)
    if to is None:
        return None
    if (
        isinstance(column_type, UTCDateTime)
        and getattr(getattr(impl, "impl_instance", None), "_storage_format", None)
        == _SQLITE_DATETIME_FORMAT
    ):
        return _sqlite_utc_text
    if isinstance(impl, JSON):
        return _json_with_empties(to)
    return to


def _sqlite_utc_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given where an aware UTC instant is required")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _json_with_empties(to: Callable[[Any], Any]) -> Callable[[Any], Any]:
    empties = {type(None): to(None), list: to([]), dict: to({})}

    def process(value: Any) -> Any:
        if not value:
            found = empties.get(type(value), _MISSING)
            if found is not _MISSING:
                return found
        return to(value)

    return process


_MISSING = object()


def _sqlite_executemany(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Send rows to sqlite3's executemany, each value converted by its column type's own
    bind processor (SQLAlchemy's per-row parameter handling cost more than the insert)."""
    names = list(rows[0])
    compiled = insert(table).compile(dialect=connection.dialect, column_keys=names)
    order = compiled.positiontup or []
    dialect = connection.dialect
    # The rows as columns in the statement's order, transposed in C (itemgetter, zip).
    if len(order) == 1:
        columns: list[Sequence[Any]] = [[row[order[0]] for row in rows]]
    else:
        columns = list(zip(*map(itemgetter(*order), rows), strict=True))
    for i, name in enumerate(order):
        # dialect_impl: the type as this dialect stores it (SQLite's DATETIME as text, say).
        to = sqlite_bind_processor(table.c[name].type, dialect)
        if to is None:
            continue
        values = columns[i]
        first = values[0]
        # A value shared by every row (a batch's `created_at`, an empty list) is converted once.
        if all(value is first for value in values):
            columns[i] = [to(first)] * len(values)
        else:
            columns[i] = list(map(to, values))
    connection.exec_driver_sql(str(compiled), list(zip(*columns, strict=True)))


@contextmanager
def sqlite_triggers_aside(session: Session, names: tuple[str, ...]) -> Iterator[bool]:
    """On SQLite, run the block without these per-row triggers; yield whether they were set
    aside (the caller then does their work itself, once for all its rows).

    SQLite fires triggers per row, and a trigger that writes an FTS5 table makes FTS5 flush
    its pending index once per row (a statement inside a statement opens a savepoint): ten
    times the cost of indexing the rows in one statement. The triggers are dropped and then
    created again from their own stored SQL, inside the caller's transaction: an error in
    the block must end that transaction, whose rollback brings them back.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield False
        return
    raw = connection.connection.dbapi_connection
    if raw is not None and not getattr(raw, "in_transaction", True):
        # Python's sqlite3 begins a transaction only before DML: DDL would commit at once.
        connection.exec_driver_sql("BEGIN")
    query = text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name = :name")
    stored = [row for name in names for row in connection.execute(query, {"name": name})]
    if len(stored) != len(names):
        yield False
        return
    for name, _ in stored:
        connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield True
    for _, sql in stored:
        connection.exec_driver_sql(sql)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session whose work is committed together or not at all."""
    with factory() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> AlembicConfig:
    """Return an Alembic configuration that migrates `engine`."""
    from alembic.config import Config as AlembicConfig  # only migrations need Alembic

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
