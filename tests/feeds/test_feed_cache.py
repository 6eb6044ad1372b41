"""Stored pieces and feeds, 304s before rendering, trigger-kept stamps, fixed query counts."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

import web.feeds
import web.http
from events import queries
from events.clock import SYSTEM_CLOCK
from events.models import Event, RenderedPiece, Series
from feeds.ical import CalendarInfo, render_calendar
from feeds.links import Links
from feeds.text import plain_text
from tests.web.test_stored_feeds import statements
from web.context import state


def _uncached(app: Flask, sessions: sessionmaker[Session], slug: str) -> bytes:
    settings = state(app).settings
    links = Links(settings.base_url)
    with sessions() as session:
        series, events = queries.series_feed(
            session, slug, now=SYSTEM_CLOCK.now(), settings=settings
        )
        info = CalendarInfo(
            name=series.name,
            description=plain_text(series.description),
            url=links.series_page(series.slug),
        )
        return render_calendar(
            events, info=info, links=links, domain=settings.domain, audience="public"
        )


@contextmanager
def _counting_renders(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    rendered: list[str] = []
    real = web.feeds.render_vevent

    def counting(event: Event, **kwargs: Any) -> bytes:
        rendered.append(event.id)
        return real(event, **kwargs)

    monkeypatch.setattr(web.feeds, "render_vevent", counting)
    yield rendered


def test_stored_pieces_give_the_uncached_bytes_and_edits_rerender_one_talk(
    app: Flask,
    client: FlaskClient,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for n in range(5):
        make_event(id=f"t{n}", start=f"2026-03-{n + 1:02d} 12:00", end="13:00")
    with _counting_renders(monkeypatch) as rendered:
        cold = client.get("/series/lisbon-ml.ics").data
        assert sorted(rendered) == [f"t{n}" for n in range(5)]
        assert cold == _uncached(app, sessions, "lisbon-ml")
        rendered.clear()
        assert client.get("/series/lisbon-ml.ics").data == cold
        assert client.get("/events/t1.ics").status_code == 200  # same version key: reused
        assert rendered == []
        make_event(id="t2", title="A new title", start="2026-03-03 12:00", end="13:00")
        edited = client.get("/series/lisbon-ml.ics").data
        assert rendered == ["t2"]
        assert b"A new title" in edited and edited != cold
        assert edited == _uncached(app, sessions, "lisbon-ml")
    with sessions() as session:
        count = session.scalar(select(func.count()).select_from(RenderedPiece))
    assert count == 5


def test_series_edit_rerenders_its_talks(
    app: Flask,
    client: FlaskClient,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    make_event(id="s-a")
    client.get("/series/lisbon-ml.ics")
    make_series(name="Renamed Seminar")
    body = client.get("/series/lisbon-ml.ics").data
    assert b"Series: Renamed Seminar" in body.replace(b"\r\n ", b"")
    assert body == _uncached(app, sessions, "lisbon-ml")


@pytest.mark.parametrize("path", ["/series/lisbon-ml.ics", "/series/lisbon-ml.rss"])
def test_conditional_get_answers_304_without_rendering(
    client: FlaskClient,
    make_event: Callable[..., Event],
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    make_event(id="c1")
    first = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200
    etag = first.headers["ETag"]
    last_modified = first.headers["Last-Modified"]

    def fail(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("a renderer ran for a 304")

    for name in ["render_vevent", "assemble", "vtimezones"]:
        monkeypatch.setattr(web.feeds, name, fail)
    monkeypatch.setattr(web.feeds, "RENDERERS", {"rss": fail, "atom": fail, "json": fail})
    monkeypatch.setattr(queries, "series_feed", fail)
    again = client.get(path, headers={"If-None-Match": etag, "Accept-Encoding": "gzip"})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    plain = client.get(path, headers={"If-None-Match": etag})
    assert plain.status_code == 304
    since = client.get(path, headers={"If-Modified-Since": last_modified})
    assert since.status_code == 304


def test_conditional_get_sees_an_edit(
    client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    make_event(id="e1")
    etag = client.get("/series/lisbon-ml.ics").headers["ETag"]
    make_event(id="e1", title="Moved on")
    changed = client.get("/series/lisbon-ml.ics", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and b"Moved on" in changed.data
    make_event(id="e2")
    etag = changed.headers["ETag"]
    assert client.get("/series/lisbon-ml.ics", headers={"If-None-Match": etag}).status_code == 200


def test_gzip_for_clients_that_ask(client: FlaskClient, make_event: Callable[..., Event]) -> None:
    for n in range(3):
        make_event(id=f"g{n}", start=f"2026-04-{n + 1:02d} 12:00", end="13:00")
    zipped = client.get("/series/lisbon-ml.ics", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in client.get("/series/lisbon-ml.ics").headers


def _statements(
    app: Flask, client: FlaskClient, url: str, headers: dict[str, str] | None = None
) -> tuple[int, list[str]]:
    """Return the status of a GET and the SQL statements it ran."""
    engine = state(app).engine
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        status = client.get(url, headers=headers or {}).status_code
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    return status, statements


def _selects(app: Flask, client: FlaskClient, url: str) -> int:
    status, statements = _statements(app, client, url)
    assert status == 200
    return len(statements)


def test_query_count_does_not_grow_with_the_feed(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    for n in range(10):
        make_event("small", id=f"small-{n}", start=f"2026-05-{n + 1:02d} 12:00", end="13:00")
    for n in range(200):
        day = f"{2026 + n // 150}-{1 + n % 150 // 28 + 1:02d}-{n % 28 + 1:02d}"
        make_event("large", id=f"large-{n}", start=f"{day} 12:00", end="13:00")
    for path in [".ics", ".rss", ".atom", ".json"]:
        cold_small = _selects(app, client, "/series/small" + path)
        cold_large = _selects(app, client, "/series/large" + path)
        assert cold_small == cold_large
        warm_small = _selects(app, client, "/series/small" + path)
        warm_large = _selects(app, client, "/series/large" + path)
        assert warm_small == warm_large <= 4


@pytest.mark.parametrize("path", ["/series/lisbon-ml.ics", "/series/lisbon-ml.atom"])
def test_a_stored_feed_is_served_without_building_it_again(
    client: FlaskClient,
    make_event: Callable[..., Event],
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    for n in range(3):
        make_event(id=f"k{n}", start=f"2026-04-{n + 1:02d} 12:00", end="13:00")
    plain = client.get(path)
    zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(zipped.data) == plain.data
    assert zipped.headers["ETag"] == plain.headers["ETag"][:-1] + '-gzip"'

    def fail(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("a stored feed was built again")

    monkeypatch.setattr(queries, "series_feed", fail)
    monkeypatch.setattr(queries, "series_feed_stamps", fail)
    monkeypatch.setattr(web.http, "gzip_bytes", fail)
    assert client.get(path).data == plain.data
    again = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert again.data == zipped.data and again.headers["Content-Encoding"] == "gzip"
    assert again.headers["ETag"] == zipped.headers["ETag"]


def test_a_304_costs_one_statement(
    app: Flask, client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    make_event(id="one")
    etag = client.get("/series/lisbon-ml.ics").headers["ETag"]
    with statements(app) as seen:  # the session's and the WSGI fast path's reads
        status = client.get("/series/lisbon-ml.ics", headers={"If-None-Match": etag}).status_code
    assert status == 304
    assert len(seen) == 1 and "FROM series" in seen[0]


def _stamp(sessions: sessionmaker[Session]) -> queries.FeedStamp:
    with sessions() as session:
        return queries.series_stamp(session, "lisbon-ml")


def test_triggers_keep_the_stamp_for_every_write_to_talks(
    client: FlaskClient,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
) -> None:
    make_event(id="w1")
    first = _stamp(sessions)
    etag = client.get("/series/lisbon-ml.ics").headers["ETag"]
    later = datetime.now(UTC) + timedelta(minutes=5)
    with sessions() as session, session.begin():  # a write outside the store, in plain SQL
        session.execute(update(Event).where(Event.id == "w1").values(title="X", updated_at=later))
    edited = _stamp(sessions)
    assert edited.revision == first.revision + 1
    assert edited.talks_changed == later and edited.last_modified == later
    changed = client.get("/series/lisbon-ml.ics", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and b"SUMMARY;LANGUAGE=en:X" in changed.data
    make_event(id="w2")
    added = _stamp(sessions)
    assert added.revision == edited.revision + 1 and added.talks_changed == later
    with sessions() as session, session.begin():
        session.execute(delete(Event).where(Event.id == "w1"))
    deleted = _stamp(sessions)
    assert deleted.revision == added.revision + 1
    assert deleted.talks_changed is not None and deleted.talks_changed >= later
    assert b"w1" not in client.get("/series/lisbon-ml.ics").data
