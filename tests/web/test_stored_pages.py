"""Home, series and talk pages are stored per version (issue 21, web.page_cache): a warm
request renders nothing and loads no talk, and every edit, every talk ending, every
language and zone is its own version, visible on the very next request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from events import topics
from events.clock import FrozenClock
from events.models import Event, RenderedDocument, Series
from tests.support.records import edit_talk
from tests.web.test_stored_feeds import statements
from web.security import SECURITY_HEADERS

START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
PAGES = ["/", "/series/alpha", "/events/a1"]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def site(
    make_app: Callable[..., Flask],
    clock: FrozenClock,
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> Flask:
    """Two public series; alpha's first talk ends an hour after the clock's start."""
    make_series(slug="alpha", name="Seminar Alpha", topics=["Geometry"])
    make_series(slug="beta", name="Seminar Beta")
    make_event("alpha", id="a1", title="First alpha talk", start="2030-03-01 09:30", end="10:00")
    make_event("alpha", id="a2", title="Second alpha talk", start="2030-03-08 09:30", end="10:00")
    make_event("beta", id="b1", title="Beta talk", start="2030-03-02 09:30", end="10:00")
    return make_app(clock=clock)


def _stored_pages(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        keys = session.scalars(select(RenderedDocument.key))
        return sum(1 for key in keys if key.startswith("page/"))


def test_a_warm_page_renders_nothing_and_keeps_its_headers(
    site: Flask, sessions: sessionmaker[Session]
) -> None:
    client = site.test_client()
    for url in PAGES:
        first = client.get(url)
        assert first.status_code == 200, url
        with statements(site) as seen:
            warm = client.get(url)
        assert warm.data == first.data, url
        # one stamp (series row or aggregate, taxonomy, clock boundary) and one stored row
        talk_rows = [s for s in seen if "FROM event" in s and "min(event.end_utc)" not in s]
        assert talk_rows == [] or all("JOIN event" in s for s in talk_rows), (url, talk_rows)
        assert len(seen) <= 5, (url, seen)
        assert [s for s in seen if not s.startswith("SELECT")] == [], url
        for name, value in SECURITY_HEADERS.items():
            assert warm.headers[name] == value, (url, name)
        assert {"Cookie", "Accept-Language"} <= set(warm.headers["Vary"].split(", ")), url
        assert "Set-Cookie" not in warm.headers, url
    assert _stored_pages(sessions) == len(PAGES)


def test_every_edit_is_on_the_next_page(
    site: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    client = site.test_client()
    for url in PAGES:
        assert b"First alpha talk" in client.get(url).data, url

    edit_talk(sessions, "a1", ("speakers", "abstract"), title="Renamed alpha talk")
    for url in PAGES:
        body = client.get(url).data
        assert b"Renamed alpha talk" in body and b"First alpha talk" not in body, url

    make_series(slug="alpha", name="Seminar Alef", topics=["Geometry"])  # a series edit
    for url in PAGES:
        assert b"Seminar Alef" in client.get(url).data, url

    with sessions() as session, session.begin():  # a topic of the taxonomy renamed
        topics.add_topic(session, "geometry", "Geometry")
    assert b'href="/topics/geometry"' in client.get("/series/alpha").data
    with sessions() as session, session.begin():
        topics.add_topic(session, "geometry", "Differential geometry")
    assert b"Differential geometry" in client.get("/series/alpha").data
    assert b"Topology" not in client.get("/").data
    with sessions() as session, session.begin():  # a topic no record names: the filter shows it
        topics.add_topic(session, "topology", "Topology")
    assert b"Topology" in client.get("/").data

    make_event("alpha", id="a3", title="A brand new talk", start="2030-03-04 09:30", end="10:00")
    for url in ["/", "/series/alpha"]:
        assert b"A brand new talk" in client.get(url).data, url

    with sessions() as session, session.begin():  # deleted by plain SQL: triggers see it
        session.execute(delete(Event).where(Event.id == "a3"))
    for url in ["/", "/series/alpha"]:
        assert b"A brand new talk" not in client.get(url).data, url

    with sessions() as session, session.begin():  # beta leaves the home page
        session.execute(update(Series).where(Series.slug == "beta").values(visibility="unlisted"))
    assert b"Beta talk" not in client.get("/").data


def test_a_talk_that_ends_leaves_the_upcoming_list_at_once(site: Flask, clock: FrozenClock) -> None:
    client = site.test_client()
    upcoming = client.get("/series/alpha").data.decode()
    ahead, _, behind = upcoming.partition('id="past-title"')
    assert "First alpha talk" in ahead and "First alpha talk" not in behind
    clock.advance(timedelta(minutes=59))  # still under way (ends at 10:00 UTC)
    assert client.get("/series/alpha").data.decode() == upcoming
    clock.advance(timedelta(minutes=2))
    later = client.get("/series/alpha").data.decode()
    ahead, _, behind = later.partition('id="past-title"')
    assert "First alpha talk" not in ahead and "First alpha talk" in behind
    home = client.get("/").data.decode()
    assert "First alpha talk" not in home.partition('id="upcoming-title"')[2].partition("</ul>")[0]


def test_languages_and_zones_never_mix(site: Flask, sessions: sessionmaker[Session]) -> None:
    client = site.test_client()
    english = client.get("/series/alpha").data
    portuguese = client.get("/series/alpha?lang=pt-PT").data  # sets the lang cookie
    assert b'<html lang="pt-PT">' in portuguese and b'<html lang="en">' in english
    fresh = site.test_client()
    assert fresh.get("/series/alpha").data == english
    chinese = fresh.get("/series/alpha", headers={"Accept-Language": "zh-CN"}).data
    assert b'<html lang="zh-Hans">' in chinese
    assert client.get("/series/alpha").data == client.get("/series/alpha?lang=pt-PT").data

    tokyo = fresh.get("/events/a1?tz=Asia/Tokyo")
    assert b"Tokyo" in tokyo.data and "tz=" in tokyo.headers["Set-Cookie"]
    assert b"Tokyo" in fresh.get("/events/a1").data  # the cookie, now stored too
    assert b"Tokyo" not in site.test_client().get("/events/a1").data
    for url in ("/events/a1?tz=Asia/Tokio", "/?topic=x", "/?page=1&page=2", "/?utm=1"):
        site.test_client().get(url)  # rendered, never stored
    before = _stored_pages(sessions)
    assert b"Unknown timezone" in site.test_client().get("/events/a1?tz=Nowhere/Land").data
    assert _stored_pages(sessions) == before
