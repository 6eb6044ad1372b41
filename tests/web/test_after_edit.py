"""After an edit (issue 21): the rebuild reads only what changed (pieces kept per process,
gzip chunks recompressed only where the body changed), and a process serves another
process's edit on its very next request, the same bytes (plain and gzip) as that process."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import delete, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from events.models import Event, RenderedFeed, Series
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


def _fresh_build(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session], url: str
) -> bytes:
    """Return `url` as a new process builds it from nothing but the stored pieces."""
    with sessions() as session, session.begin():
        session.execute(delete(RenderedFeed))
    return make_app(feed_max_events=10).test_client().get(url).data


def _move(sessions: sessionmaker[Session], event_id: str, start: datetime) -> None:
    """Move a talk to `start` (an hour long), as an edit does: new sequence and edit time."""
    with sessions() as session, session.begin():
        session.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(
                start_utc=start,
                end_utc=start + timedelta(hours=1),
                start_local=start.strftime("%Y-%m-%dT%H:%M:%S"),
                end_local=(start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                sequence=Event.sequence + 1,
                updated_at=datetime.now(UTC),
            )
        )


def test_a_calendar_rebuilt_from_its_last_pieces_equals_a_fresh_build(
    make_app: Callable[..., Flask],
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    """The series .ics reuses the pieces of talks whose stamps did not change since this
    process last built it: after an edit, a deletion, a talk leaving the capped set and a
    reorder by a time change it is byte for byte what a new process builds."""
    _talks(make_series, make_event, 12)
    here = make_app(feed_max_events=10).test_client()
    url = "/series/alpha.ics"
    year = datetime.now(UTC).year + 1
    assert here.get(url).status_code == 200

    def ids(body: bytes) -> list[str]:
        return [
            line.split(b"@")[0][4:].decode() for line in body.split(b"\r\n") if line[:4] == b"UID:"
        ]

    _retitle(sessions, "a7", "Edited once")
    body = here.get(url).data
    assert b"Edited once" in body and body == _fresh_build(make_app, sessions, url)

    with sessions() as session, session.begin():
        session.execute(delete(Event).where(Event.id == "a3"))
    body = here.get(url).data
    assert "a3" not in ids(body) and body == _fresh_build(make_app, sessions, url)

    shown = ids(body)
    assert len(shown) == 10
    _move(sessions, shown[-1], datetime(year - 5, 1, 1, 12, tzinfo=UTC))  # out of the cap
    body = here.get(url).data
    assert shown[-1] not in ids(body) and body == _fresh_build(make_app, sessions, url)

    shown = ids(body)
    _move(sessions, shown[0], datetime(year + 1, 6, 1, 12, tzinfo=UTC))  # first to last
    body = here.get(url).data
    assert ids(body) == [*shown[1:], shown[0]]
    assert body == _fresh_build(make_app, sessions, url)

    with sessions() as session, session.begin():  # every piece's version moves
        session.execute(
            update(Series)
            .where(Series.slug == "alpha")
            .values(name="Seminar Beta", updated_at=datetime.now(UTC))
        )
    body = here.get(url).data
    assert b"Seminar Alpha" not in body and body == _fresh_build(make_app, sessions, url)
