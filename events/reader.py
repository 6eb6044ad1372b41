"""Reads for the hot path on a raw DBAPI connection held per thread (issue 21).

A warm request of the WSGI fast path (web.fastpath) is one to three indexed reads. Through
a session each costs a pool checkout, a pre-ping round trip, a transaction and SQLAlchemy's
statement machinery, several times the read itself. `Reader` runs the same Core `select`s
on one DBAPI connection per thread, taken from the engine once (its connect hooks run:
SQLite's pragmas, psycopg's adapters) and detached from the pool, in autocommit, so every
read sees every committed write (nothing is ever stale) and holds no transaction open
between requests. Each statement is compiled once for the dialect; its parameters and
columns go through the column types' own bind and result processors, so a row equals the
one `Connection.execute` returns (`tests/events/test_reader.py`). A dropped connection is
replaced once, then the error goes up. `engine.dispose()` closes every held connection;
a forked child (gunicorn `--preload`) never uses or closes one of its parent's.

On PostgreSQL a single statement skips psycopg's cursor: it is prepared once per connection
under its own name and run with libpq's `PQexecPrepared` (`psycopg.pq`), its parameters
sent as text and its rows loaded by psycopg's own `Transformer` (the connection's loaders,
binary results). Measured on a warm series `.ics`, a read costs about 42 µs of the client's
CPU this way against about 61 µs through a cursor, the larger part of the fast path's own
cost. A statement's name is a digest of its SQL; one the server forgot (`DISCARD ALL`, a
pooler's reset) is prepared again. Named prepared statements need a session-level
connection (as psycopg's own automatic preparation does): behind PgBouncer, use its session
pooling, or a version that tracks prepared statements (1.21 and later). Several statements
at once go through psycopg's pipeline mode instead (`batch`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import psycopg.errors
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from sqlalchemy import Engine, Select, event
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.engine.interfaces import DBAPIConnection, Dialect

Processor = Callable[[Any], Any] | None
Query = Select[*tuple[Any, ...]]
Params = Mapping[str, Any] | None
Arguments = Sequence[Any] | dict[str, Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # bind names, in order for a positional paramstyle
    positional: bool
    defaults: dict[str, Any]
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]
    prepared: _Prepared | None = None  # PostgreSQL: the statement as libpq prepares it


@dataclass(frozen=True)
class _Prepared:
    name: bytes
    sql: bytes  # with $1, $2, … in the order of `names`
    names: tuple[str, ...]


class Reader:
    """Run read-only Core selects on a per-thread raw connection of `engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self._pid = os.getpid()
        self._local = threading.local()
        self._held: list[DBAPIConnection] = []
        self._lock = threading.Lock()
        self.on_execute: list[Callable[[str], None]] = []  # observers of each SQL string
        self._compiled: dict[int, tuple[Query, _Compiled]] = {}
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    def rows(self, statement: Query, params: Params = None) -> list[tuple[Any, ...]]:
        """Return every row of `statement`, each value processed by its column's type."""
        return self.batch([(statement, params)])[0]

    def batch(self, statements: Sequence[tuple[Query, Params]]) -> list[list[tuple[Any, ...]]]:
        """Return the rows of each statement; on PostgreSQL all in one round trip (psycopg's
        pipeline mode), each still its own autocommit statement."""
        compiled = [self._compile(statement) for statement, _ in statements]
        work = [
            (c, _arguments(c, params)) for c, (_, params) in zip(compiled, statements, strict=True)
        ]
        raws = self._fetch(work)
        return [_processed(c, raw) for c, raw in zip(compiled, raws, strict=True)]

    def first(self, statement: Query, params: Params = None) -> tuple[Any, ...] | None:
        """Return the first row of `statement`, or None."""
        found = self.rows(statement, params)
        return found[0] if found else None

    def scalar(self, statement: Query, params: Params = None) -> Any:
        """Return the first column of the first row, or None."""
        row = self.first(statement, params)
        return None if row is None else row[0]

    def close(self) -> None:
        """Close every connection held (by any thread) of this process."""
        if self._pid != os.getpid():
            self._forget()  # a forked child: the connections are the parent's
            return
        with self._lock:
            held, self._held = self._held, []
        for connection in held:
            with contextlib.suppress(Exception):  # already gone: nothing to close
                connection.close()
        self._local = threading.local()

    def _fetch(self, work: list[tuple[_Compiled, Arguments]]) -> list[list[Any]]:
        for observe in self.on_execute:
            for compiled, _ in work:
                observe(compiled.sql)
        for attempt in (1, 2):
            connection = self._connection()
            try:
                return self._run(connection, work)
            except self.dialect.loaded_dbapi.Error as exc:
                lost = self._disconnected(exc, connection)  # (asked before it is closed)
                self._drop(connection)
                if attempt == 2 or not lost:
                    raise
        raise AssertionError("unreachable")

    def _run(
        self, connection: DBAPIConnection, work: list[tuple[_Compiled, Arguments]]
    ) -> list[list[Any]]:
        if len(work) == 1 and work[0][0].prepared is not None:
            compiled, args = work[0]
            assert compiled.prepared is not None and isinstance(args, dict)
            return [self._run_prepared(connection, compiled.prepared, args)]
        if len(work) > 1 and self.dialect.name == "postgresql":
            cursors = []
            with connection.pipeline():
                for compiled, args in work:
                    cursor = connection.cursor()
                    cursors.append(cursor)
                    cursor.execute(compiled.sql, args)
            try:
                return [list(cursor.fetchall()) for cursor in cursors]
            finally:
                for cursor in cursors:
                    cursor.close()
        found = []
        for compiled, args in work:
            cursor = connection.cursor()
            try:
                cursor.execute(compiled.sql, args)
                found.append(list(cursor.fetchall()))
            finally:
                cursor.close()
        return found

    def _run_prepared(
        self, connection: DBAPIConnection, prepared: _Prepared, args: dict[str, Any]
    ) -> list[Any]:
        """Run one statement through libpq, prepared on this connection the first time."""
        assert isinstance(connection, psycopg.Connection)
        pgconn = connection.pgconn
        transformer = Transformer(connection)
        values = transformer.dump_sequence(
            [args[name] for name in prepared.names], [PyFormat.TEXT] * len(prepared.names)
        )
        for attempt in (1, 2):
            if prepared.name not in self._local.prepared:
                _succeeded(connection, pgconn.prepare(prepared.name, prepared.sql))
                self._local.prepared.add(prepared.name)
            result = pgconn.exec_prepared(prepared.name, values, result_format=pq.Format.BINARY)
            try:
                _succeeded(connection, result)
                break
            except psycopg.errors.InvalidSqlStatementName:
                self._local.prepared.discard(prepared.name)  # the server forgot it
                if attempt == 2:
                    raise
        transformer.set_pgresult(result)
        return transformer.load_rows(0, result.ntuples, tuple)

    def _disconnected(self, exc: Any, connection: DBAPIConnection) -> bool:
        return bool(self.dialect.is_disconnect(exc, connection, None))

    def _forget(self) -> None:
        """Drop (never close, never use) the connections inherited over a fork."""
        self._pid = os.getpid()
        self._local = threading.local()
        self._held = []
        self._lock = threading.Lock()

    def _connection(self) -> DBAPIConnection:
        if self._pid != os.getpid():
            self._forget()
        connection: DBAPIConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            pooled = self.engine.raw_connection()
            connection = pooled.driver_connection
            pooled.detach()  # never returned to the pool: closed by close() or on error
            assert connection is not None
            if self.dialect.name == "postgresql":
                connection.autocommit = True
            self._local.connection = connection
            self._local.prepared = set()  # names of the statements prepared on it
            with self._lock:
                self._held.append(connection)
        return connection

    def _drop(self, connection: DBAPIConnection) -> None:
        self._local.connection = None
        with self._lock:
            if connection in self._held:
                self._held.remove(connection)
        with contextlib.suppress(Exception):  # already broken
            connection.close()

    def _compile(self, statement: Query) -> _Compiled:
        found = self._compiled.get(id(statement))
        if found is not None and found[0] is statement:
            return found[1]
        dialect = self.dialect
        compiled = statement.compile(dialect=dialect)
        positional = bool(compiled.positional)
        names = tuple(compiled.positiontup or ()) if positional else tuple(compiled.binds)
        binds = compiled.binds
        defaults = {
            name: bind.value
            for name, bind in binds.items()
            if bind.value is not None or not bind.required
        }
        result = _Compiled(
            compiled.string,
            names,
            positional,
            defaults,
            tuple(binds[n].type._cached_bind_processor(dialect) for n in names),  # noqa: SLF001
            tuple(
                column.type._cached_result_processor(dialect, None)  # noqa: SLF001
                for column in statement.selected_columns
            ),
            _prepared(statement, dialect),
        )
        self._compiled[id(statement)] = (statement, result)
        return result


def _prepared(statement: Query, dialect: Dialect) -> _Prepared | None:
    """Return how libpq prepares `statement` (PostgreSQL), or None."""
    if dialect.name != "postgresql":
        return None
    numbered = cast("type[DefaultDialect]", type(dialect))(paramstyle="numeric_dollar")
    compiled = statement.compile(dialect=numbered)
    sql = compiled.string.encode()
    name = b"eventfeed_" + hashlib.sha256(sql).hexdigest()[:24].encode()
    return _Prepared(name, sql, tuple(compiled.positiontup or ()))


def _succeeded(connection: psycopg.Connection[Any], result: pq.abc.PGresult) -> None:
    """Raise the psycopg error a failed libpq result stands for."""
    if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        raise psycopg.errors.error_from_result(result, encoding=connection.info.encoding)


def _arguments(compiled: _Compiled, params: Params) -> Arguments:
    """Return the DBAPI arguments of a compiled statement, through the bind processors."""
    values = {**compiled.defaults, **(params or {})}
    bound = [
        value if process is None else process(value)
        for value, process in zip((values[n] for n in compiled.names), compiled.binds, strict=True)
    ]
    return bound if compiled.positional else dict(zip(compiled.names, bound, strict=True))


def _processed(compiled: _Compiled, raw: list[Any]) -> list[tuple[Any, ...]]:
    """Return raw rows with each value through its column's result processor."""
    processors = compiled.results
    if not any(processors):
        return [tuple(row) for row in raw]
    return [
        tuple(v if p is None else p(v) for v, p in zip(row, processors, strict=True)) for row in raw
    ]
