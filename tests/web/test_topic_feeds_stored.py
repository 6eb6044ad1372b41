"""Topic feeds (`/topics/<slug>.ics|rss|atom|json`) are stored per version like the site
feeds: a warm or conditional GET reads no talk and writes nothing, and every change to
what a topic shows (a talk, its series, the series' topics, the taxonomy) is visible on
the very next request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from events import store, topics
from events.models import Event, RenderedDocument, Series
from events.schemas import validate_series
from tests.support.records import edit_talk
from tests.support.topical import add_math_topics, day
from tests.web.test_stored_feeds import statements

FEEDS = [f"/topics/math.{fmt}" for fmt in ("ics", "rss", "atom", "json")]


@pytest.fixture
def content(
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    with sessions() as session, session.begin():
        add_math_topics(session)
        topics.add_topic(session, "l" * 100, "A topic with a long slug")
    make_series(slug="pde", name="PDE seminar", topics=["math-ap"])
    make_series(slug="other", name="Other seminar")
    make_series(slug="third", name="Third seminar")
    make_event(series="pde", id="p1", title="Viscosity solutions", start=day(2), end="13:00")
    make_event(series="other", id="o1", title="Heat kernels", start=day(3), end="13:00")
    make_event(series="other", id="o2", title="Unrelated talk", start=day(4), end="13:00")
    make_event(series="third", id="t1", title="Graph colouring", start=day(5), end="13:00")
    with sessions() as session, session.begin():  # o1 joins the topic; o2 has a keyword
        event = store.get_event(session, "o1")
        event.topics = ["Mathematics"]
        topics.link_event(session, event)
        store.get_event(session, "o2").topics = ["Number theory"]


def _set_series_topics(sessions: sessionmaker[Session], slug: str, names: list[str]) -> None:
    with sessions() as session, session.begin():
        series = store.get_series(session, slug)
        record = validate_series(
            {"slug": slug, "name": series.name, "timezone": series.timezone, "topics": names}
        )
        store.upsert_series(session, record, datetime.now(UTC))


def test_warm_and_conditional_topic_feeds_read_no_talk(
    app: Flask, client: FlaskClient, sessions: sessionmaker[Session], content: None
) -> None:
    for url in FEEDS:
        first = client.get(url)
        assert first.status_code == 200, url
        assert b"Viscosity solutions" in first.data and b"Heat kernels" in first.data, url
        assert b"Unrelated talk" not in first.data, url
        with statements(app) as seen:
            warm = client.get(url)
            again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert warm.status_code == 200 and warm.data == first.data, url
        assert warm.headers["ETag"] == first.headers["ETag"], url
        assert again.status_code == 304, url
        assert warm.headers["Access-Control-Allow-Origin"] == "*", url
        # Stamps join talks to their links; no talk is loaded, no piece read.
        talk_reads = [s for s in seen if s.startswith("SELECT event.") or "rendered_piece" in s]
        assert talk_reads == [], (url, talk_reads)
        assert [s for s in seen if not s.startswith("SELECT")] == [], url
    with sessions() as session:
        keys = set(session.scalars(select(RenderedDocument.key)))
    with sessions() as session:
        math = topics.get_topic(session, "math").topic.id
    assert {f"topic/{math}/{fmt}" for fmt in ("ics", "rss", "atom", "json")} <= keys
    assert client.get("/topics/nope.ics").status_code == 404
    assert client.get("/topics/" + "l" * 100 + ".json").status_code == 200  # key fits


def test_every_change_to_a_topic_shows_on_the_next_request(
    client: FlaskClient,
    sessions: sessionmaker[Session],
    content: None,
) -> None:
    etags = {url: client.get(url).headers["ETag"] for url in FEEDS}

    def changed(present: list[bytes], absent: list[bytes]) -> None:
        for url in FEEDS:
            answer = client.get(url, headers={"If-None-Match": etags[url]})
            assert answer.status_code == 200, url
            for text in present:
                assert text in answer.data, (url, text)
            for text in absent:
                assert text not in answer.data, (url, text)
            etags[url] = answer.headers["ETag"]

    edit_talk(sessions, "o1", ["topics"], title="Heat kernels revisited")  # a talk linked directly
    changed([b"Heat kernels revisited"], [])
    edit_talk(
        sessions, "p1", ["topics"], title="Viscosity solutions II"
    )  # a talk linked through its series
    changed([b"Viscosity solutions II"], [])
    _set_series_topics(sessions, "third", ["math"])  # another series joins the topic
    changed([b"Graph colouring"], [])
    _set_series_topics(sessions, "pde", [])  # and one leaves it
    changed([b"Graph colouring"], [b"Viscosity solutions II"])
    with sessions() as session, session.begin():  # a series goes unlisted (any code path)
        session.execute(update(Series).where(Series.slug == "third").values(visibility="unlisted"))
    changed([b"Heat kernels revisited"], [b"Graph colouring"])
    with sessions() as session, session.begin():  # the taxonomy: a keyword becomes a topic
        topics.add_topic(session, "math-nt", "Number theory", parent="math")
    changed([b"Unrelated talk", b"Heat kernels revisited"], [])
