"""After an edit (issue 21): the rebuild reads only what changed (pieces kept per process,
gzip chunks recompressed only where the body changed), and a process serves another
process's edit on its very next request, the same bytes (plain and gzip) as that process."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from events.models import Event, Series
from feeds import gzipped
from tests.web.test_stored_feeds import TOKEN, _follow, _retitle

SERIES = ["/series/alpha.ics", "/series/alpha.rss", "/series/alpha.atom", "/series/alpha.json"]
URLS = [*SERIES, "/calendar.ics", "/feed.rss", "/feed.json", f"/s/{TOKEN}.ics", f"/s/{TOKEN}.rss"]
GZIP = {"Accept-Encoding": "gzip"}


def _talks(make_series: Callable[..., Series], make_event: Callable[..., Event], n: int) -> None:
    make_series(slug="alpha", name="Seminar Alpha")
    year = datetime.now(UTC).year + 1
    for k in range(n):
        make_event(
            "alpha",
            id=f"a{k}",
            title=f"Talk {k}",
            abstract=f"Talk {k} on the $L^{k % 5}$ norm. " + "More words here. " * (k % 30),
            start=f"{year}-{k % 12 + 1:02d}-{k % 28 + 1:02d} 12:00",
            end="13:00",
        )


@contextmanager
def piece_reads(app: Flask) -> Iterator[list[int]]:
    """Collect how many talks each SELECT of stored pieces asks for (Flask's path)."""
    from web.context import state

    asked: list[int] = []

    def count(conn: object, cursor: object, statement: str, params: object, *rest: object) -> None:
        if "rendered_piece" in statement and statement.lstrip().startswith("SELECT"):
            assert isinstance(params, tuple | list | dict)
            asked.append(len(params) - 2)  # kind and audience, then the talk ids

    engine = state(app).engine
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        yield asked
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)


def test_another_process_edit_is_served_at_once_with_the_same_bytes(
    make_app: Callable[..., Flask],
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    _talks(make_series, make_event, 12)
    _follow(sessions, ["alpha"])
    # Two applications, each its engine, pieces memo and fast-path memo: two processes.
    here, there = make_app().test_client(), make_app().test_client()
    for client in (here, there):
        for url in URLS:
            assert client.get(url).status_code == 200, url
            assert client.get(url, headers=GZIP).status_code == 200, url

    _retitle(sessions, "a7", "Renamed by another process")
    for url in URLS:
        plain = there.get(url)
        packed = there.get(url, headers=GZIP)
        assert b"Renamed by another process" in plain.data, url
        assert gzip.decompress(packed.data) == plain.data, url
        # This process's very next request: the new version, byte for byte.
        assert here.get(url).data == plain.data, url
        again = here.get(url, headers=GZIP)
        assert again.data == packed.data and again.headers["ETag"] == packed.headers["ETag"], url


def test_a_rebuild_reads_only_the_edited_talks_piece(
    app: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    _talks(make_series, make_event, 10)
    _follow(sessions, ["alpha"])
    client = app.test_client()
    for url in URLS:
        client.get(url, headers=GZIP)

    _retitle(sessions, "a4", "Edited once")
    with piece_reads(app) as asked:
        for url in URLS:
            answer = client.get(url, headers=GZIP)
            assert b"Edited once" in gzip.decompress(answer.data), url
    # Every other talk's piece comes from this process's memo: no query asks for more than
    # the edited talk (before this change: every talk of the feed, on every rebuild).
    assert asked and max(asked) <= 1, asked


def test_a_big_feed_after_an_edit_recompresses_a_few_chunks(
    app: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    _talks(make_series, make_event, 90)
    client = app.test_client()
    first = client.get("/series/alpha.ics", headers=GZIP)
    body = gzip.decompress(first.data)
    chunks = len(gzipped.boundaries(body)) - 1
    assert chunks >= 3, len(body)  # big enough to be chunked

    _retitle(sessions, "a45", "Edited in the middle")
    before = gzipped.MEMO.deflated
    answer = client.get("/series/alpha.ics", headers=GZIP)
    edited = gzip.decompress(answer.data)
    assert b"Edited in the middle" in edited and answer.headers["ETag"] != first.headers["ETag"]
    assert gzipped.MEMO.deflated - before <= 3 < chunks + 1
    assert client.get("/series/alpha.ics").data == edited
