"""Site-wide and personal feeds are stored per version (issue 21): a warm or conditional GET
loads no talk and renders nothing, and any edit is visible on the very next request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.models import Event, RenderedDocument, Series, Subscription
from events.reader import Reader
from tests.support.records import add_reader, edit_talk
from web.fastpath import installed

TOKEN = "t" * 40
SITE = ["/calendar.ics", "/feed.rss", "/feed.atom", "/feed.json"]
PERSONAL = [f"/s/{TOKEN}.ics", f"/s/{TOKEN}.rss"]


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    from web.context import state

    engine = state(app).engine
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(" ".join(str(args[2]).split()))

    sa_event.listen(engine, "before_cursor_execute", count)
    reader = fast_reader(app)  # the fast path's reads (web.fastpath) too
    reader.on_execute.append(seen.append)
    try:
        yield seen
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
        reader.on_execute.remove(seen.append)


def fast_reader(app: Flask) -> Reader:
    """Return the reader of `app`'s WSGI fast path."""
    fast = installed(app)
    assert fast is not None
    return fast.reader


def _retitle(sessions: sessionmaker[Session], event_id: str, title: str) -> None:
    """Retitle a talk through the validation path, its speakers, abstract, status, tags kept."""
    edit_talk(sessions, event_id, ("speakers", "abstract", "status", "tags"), title=title)


def _follow(sessions: sessionmaker[Session], slugs: list[str]) -> None:
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        reader = add_reader(session, "reader@example.org", "Asia/Shanghai", TOKEN, now)
        for slug in slugs:
            series = store.get_series(session, slug)
            session.add(
                Subscription(
                    subscriber_id=reader.id, series_id=series.id, confirmed_at=now, created_at=now
                )
            )


def _setup(
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    soon = datetime.now(UTC).date().replace(day=1).isoformat()[:7]
    year, month = (int(x) for x in soon.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    for slug in ("alpha", "beta"):
        make_series(slug=slug, name=f"Seminar {slug}")
    for n, slug in enumerate(["alpha", "beta", "alpha"]):
        day = f"{year}-{month:02d}-{n + 10}"
        make_event(slug, id=f"s{n}", title=f"Talk {n}", start=f"{day} 12:00", end="13:00")
    _follow(sessions, ["alpha", "beta"])


def test_warm_and_conditional_gets_load_no_talk(
    app: Flask,
    client: FlaskClient,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    _setup(sessions, make_series, make_event)
    for url in SITE + PERSONAL:
        first = client.get(url)
        assert first.status_code == 200, url
        assert b"Talk 1" in first.data, url
        with statements(app) as seen:
            warm = client.get(url)
            again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert warm.status_code == 200 and warm.data == first.data, url
        assert again.status_code == 304, url
        talk_reads = [s for s in seen if s.startswith("SELECT") and "FROM event" in s]
        assert talk_reads == [], (url, talk_reads)
        writes = [s for s in seen if not s.startswith("SELECT")]
        assert writes == [], (url, writes)
        # gzip: compressed once, then stored too
        zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers.get("Content-Encoding") == "gzip"
        with statements(app) as seen:
            client.get(url, headers={"Accept-Encoding": "gzip"})
        assert [s for s in seen if not s.startswith("SELECT")] == [], url


def test_every_edit_is_visible_on_the_next_request(
    client: FlaskClient,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    _setup(sessions, make_series, make_event)
    etags = {url: client.get(url).headers["ETag"] for url in SITE + PERSONAL}

    _retitle(sessions, "s1", "Renamed talk")  # a talk of beta
    for url in SITE + PERSONAL:
        answer = client.get(url, headers={"If-None-Match": etags[url]})
        assert answer.status_code == 200, url
        assert b"Renamed talk" in answer.data and b"Talk 1" not in answer.data, url
        etags[url] = answer.headers["ETag"]

    with sessions() as session, session.begin():  # a series leaves the site-wide feeds
        session.execute(update(Series).where(Series.slug == "beta").values(visibility="unlisted"))
    for url in SITE:
        assert b"Renamed talk" not in client.get(url).data, url

    with sessions() as session, session.begin():  # the reader stops following beta
        alpha = session.query(Series).filter_by(slug="alpha").one()
        session.execute(delete(Subscription).where(Subscription.series_id != alpha.id))
    for url in PERSONAL:
        body = client.get(url).data
        assert b"Renamed talk" not in body and b"Talk 2" in body, url

    with sessions() as session, session.begin():  # a talk deleted, by any code path
        session.execute(delete(Event).where(Event.id == "s2"))
    for url in SITE + PERSONAL:
        assert b"Talk 2" not in client.get(url).data, url


def test_personal_feeds_stay_private_and_filtered_site_feeds_are_not_stored(
    client: FlaskClient,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    _setup(sessions, make_series, make_event)
    for url in PERSONAL:
        answer = client.get(url)
        assert answer.headers["Cache-Control"].startswith("private"), url
        assert answer.headers["X-Robots-Tag"] == "noindex"
        again = client.get(url, headers={"If-None-Match": answer.headers["ETag"]})
        assert again.status_code == 304 and again.headers["Cache-Control"].startswith("private")
    filtered = client.get("/calendar.ics?series=alpha")
    assert filtered.status_code == 200 and b"Talk 1" not in filtered.data
    assert b"Talk 0" in filtered.data
    assert client.get("/calendar.ics?series=nope").status_code == 404
    with sessions() as session:
        keys = set(session.scalars(select(RenderedDocument.key)))
    assert len(keys) == 2 and all(k.startswith("personal/") for k in keys), keys
