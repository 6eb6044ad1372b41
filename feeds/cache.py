"""Rendered feed pieces, stored once per talk version and shared by every worker.

A feed is assembled from per-talk pieces (a VEVENT today). Each piece is stored in the
`rendered_piece` table under (event_id, kind, audience) with a version key made of
everything the bytes depend on: the talk's sequence and updated_at, its series'
updated_at, and a fingerprint of the settings that reach the output (base URL, domain)
plus the renderer version. A feed request loads the pieces of its talks in one query,
renders only the missing or stale ones and writes them back in one upsert, so editing one
talk re-renders that talk only. The table lives in the database, so all gunicorn workers
(and all machines) share it; nothing is cached per process.

A whole series feed, once assembled, is kept too (`rendered_feed`, one row per series, format
and content encoding) under the feed's version key (its stamp): a warm request reads one row,
and the gzip variant is compressed once per version, not per request.

Feeds that span several series (site-wide, personal) are kept the same way in
`rendered_document` under a key naming the feed; their version hashes the stamps of every
series they show (`events.queries.SeriesStamps`), so any edit of any of them makes a new one.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from events.config import Settings
from events.db import Base
from events.models import Event, RenderedDocument, RenderedFeed, RenderedPiece

# Bump when a renderer's output changes, so stored pieces are re-rendered.
# 3: fixed texts in the series' language; 4: and translated titles; 5: personal feeds' title
# and description in the reader's language
RENDERER_VERSION = "5"
PIECE_MEMO_BYTES = 16 * 2**20  # per process and database


def settings_fingerprint(settings: Settings) -> str:
    """Return a short hash of the settings and renderer version that reach rendered bytes."""
    text = "\0".join([RENDERER_VERSION, settings.base_url, settings.domain])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def version_key(sequence: int, updated_at: datetime, series_updated: datetime, fp: str) -> str:
    """Return the version a piece of a talk was rendered from."""
    return f"{sequence}|{updated_at.isoformat()}|{series_updated.isoformat()}|{fp}"


def event_version(event: Event, fingerprint: str) -> str:
    """Return the version key of a loaded talk (its series loaded too)."""
    return version_key(event.sequence, event.updated_at, event.series.updated_at, fingerprint)


def pieces(
    session: Session,
    wanted: Sequence[tuple[str, str]],
    *,
    kind: str,
    audience: str,
    render_missing: Callable[[list[str]], dict[str, bytes]],
    stored: dict[str, tuple[str, bytes]] | None = None,
) -> list[bytes]:
    """Return the pieces of (event_id, version) pairs in order: stored when current, else
    rendered by `render_missing(ids)` and stored.

    One SELECT for all pieces (none when the caller passes the `stored` pieces it joined
    in already), and one upsert (then a commit) when some were missing.
    """
    if not wanted:
        return []
    memo = piece_memo(session)
    new: dict[str, tuple[str, bytes]] = {}  # pieces the memo lacks (read or rendered)
    if stored is None:
        stored = memo.current(wanted, kind, audience)
        ids = [event_id for event_id, _ in wanted if event_id not in stored]
    else:
        ids = []
        new = stored
    for start in range(0, len(ids), 5000):
        rows = session.execute(
            select(RenderedPiece.event_id, RenderedPiece.version, RenderedPiece.body).where(
                RenderedPiece.kind == kind,
                RenderedPiece.audience == audience,
                RenderedPiece.event_id.in_(ids[start : start + 5000]),
            )
        )
        read = {row[0]: (row[1], row[2]) for row in rows}
        stored.update(read)
        new.update(read)
    stale = [
        event_id
        for event_id, version in wanted
        if event_id not in stored or stored[event_id][0] != version
    ]
    if stale:
        fresh = render_missing(stale)
        versions = dict(wanted)
        _store(
            session,
            [
                {
                    "event_id": event_id,
                    "kind": kind,
                    "audience": audience,
                    "version": versions[event_id],
                    "body": body,
                }
                for event_id, body in fresh.items()
            ],
        )
        rendered = {event_id: (versions[event_id], body) for event_id, body in fresh.items()}
        stored.update(rendered)
        new.update(rendered)
    memo.keep(new, kind, audience)
    return [stored[event_id][1] for event_id, _ in wanted]


BATCH = "eventfeed.cache_batch"


@contextmanager
def one_commit(session: Session) -> Iterator[None]:
    """Let the cache writes inside (pieces, a feed in both encodings) share one commit, at
    the end (one disk flush instead of three); none if the block raises."""
    if BATCH in session.info:
        yield
        return
    session.info[BATCH] = False
    try:
        yield
        written = session.info[BATCH]
    finally:
        del session.info[BATCH]
    if written:
        _commit(session)


class PieceMemo:
    """Stored pieces by (kind, audience, talk) with their version, kept in this process up
    to a byte budget (least recently used out first).

    A memo of `rendered_piece`: a piece is only ever returned for exactly the version asked
    (which covers everything its bytes depend on), so it is as current as the table; it
    saves reading every piece of a feed from the database when one talk changed.
    """

    def __init__(self, budget: int = PIECE_MEMO_BYTES) -> None:
        self.budget = budget
        self.size = 0
        self._pieces: OrderedDict[tuple[str, str, str], tuple[str, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def current(
        self, wanted: Sequence[tuple[str, str]], kind: str, audience: str
    ) -> dict[str, tuple[str, bytes]]:
        """Return the kept pieces of (event_id, version) pairs whose version matches."""
        found: dict[str, tuple[str, bytes]] = {}
        with self._lock:
            pieces = self._pieces
            for event_id, version in wanted:
                kept = pieces.get((kind, audience, event_id))
                if kept is not None and kept[0] == version:
                    pieces.move_to_end((kind, audience, event_id))
                    found[event_id] = kept
        return found

    def keep(self, pieces: dict[str, tuple[str, bytes]], kind: str, audience: str) -> None:
        """Keep pieces (event_id: (version, body)), replacing older versions."""
        with self._lock:
            kept = self._pieces
            for event_id, piece in pieces.items():
                key = (kind, audience, event_id)
                old = kept.get(key)
                if old is not None:
                    if old[0] == piece[0]:
                        continue
                    self.size -= len(old[1])
                kept[key] = piece
                self.size += len(piece[1])
            while self.size > self.budget:
                _, (_, body) = kept.popitem(last=False)
                self.size -= len(body)


_MEMOS: weakref.WeakKeyDictionary[Engine, PieceMemo] = weakref.WeakKeyDictionary()
_MEMOS_LOCK = threading.Lock()


def piece_memo(session: Session) -> PieceMemo:
    """Return this process's piece memo for the session's database (one per engine)."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _MEMOS_LOCK:
        memo = _MEMOS.get(engine)
        if memo is None:
            memo = _MEMOS[engine] = PieceMemo()
        return memo


STORED_FEED = select(RenderedFeed.body).where(
    RenderedFeed.series_id == bindparam("series_id"),
    RenderedFeed.format == bindparam("format"),
    RenderedFeed.encoding == bindparam("encoding"),
    RenderedFeed.version == bindparam("version"),
)


def stored_feed(
    session: Session, series_id: int, fmt: str, encoding: str, version: str
) -> bytes | None:
    """Return a series feed stored under exactly `version`, or None."""
    params = {"series_id": series_id, "format": fmt, "encoding": encoding, "version": version}
    body: bytes | None = session.connection().execute(STORED_FEED, params).scalar()
    return body


def store_feed(
    session: Session, series_id: int, fmt: str, encoding: str, version: str, body: bytes
) -> None:
    """Keep an assembled series feed under its version (replacing older ones), committed."""
    row = {
        "series_id": series_id,
        "format": fmt,
        "encoding": encoding,
        "version": version,
        "body": body,
    }
    _upsert(session, RenderedFeed, ["series_id", "format", "encoding"], [row])


STORED_DOCUMENT = select(RenderedDocument.body).where(
    RenderedDocument.key == bindparam("key"),
    RenderedDocument.encoding == bindparam("encoding"),
    RenderedDocument.version == bindparam("version"),
)


def stored_document(session: Session, key: str, encoding: str, version: str) -> bytes | None:
    """Return a site-wide or personal feed stored under exactly `version`, or None."""
    params = {"key": key, "encoding": encoding, "version": version}
    body: bytes | None = session.connection().execute(STORED_DOCUMENT, params).scalar()
    return body


def store_document(session: Session, key: str, encoding: str, version: str, body: bytes) -> None:
    """Keep a site-wide or personal feed under its version (replacing older ones), committed."""
    row: dict[str, object] = {"key": key, "encoding": encoding, "version": version, "body": body}
    _upsert(session, RenderedDocument, ["key", "encoding"], [row])


def _store(session: Session, rows: list[dict[str, object]]) -> None:
    """Upsert rendered pieces (concurrent workers may race; the last write wins)."""
    _upsert(session, RenderedPiece, ["event_id", "kind", "audience"], rows)


_UPSERTS: dict[tuple[str, type[Base]], Any] = {}


def _upsert(
    session: Session, table: type[Base], keys: list[str], rows: list[dict[str, object]]
) -> None:
    """Insert or replace rows by primary key, then commit (the last write wins)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    statement = _UPSERTS.get((dialect, table))
    if statement is None:
        insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
        statement = _UPSERTS[dialect, table] = insert.on_conflict_do_update(
            index_elements=keys,
            set_={"version": insert.excluded.version, "body": insert.excluded.body},
        )
    # One statement per dialect and table, built once (building its `excluded` columns
    # cost more than the write); several rows go as one executemany.
    for start in range(0, len(rows), 1000):
        session.execute(statement, rows[start : start + 1000])
    if BATCH in session.info:
        session.info[BATCH] = True  # committed once, at the end of `one_commit`
        return
    _commit(session)


def _commit(session: Session) -> None:
    """Commit cache rows; on PostgreSQL without waiting for the WAL flush (rows that can
    be rebuilt at any time: a crash may lose the last ones, never corrupt anything)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    # Keep the loaded talks usable after the commit (no reload, no extra queries).
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire
