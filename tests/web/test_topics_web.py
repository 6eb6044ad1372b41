"""Topic pages, their feeds (read by real parsers) and their embed."""

from __future__ import annotations

from collections.abc import Callable

import feedparser
import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from events.models import Event, Series
from tests.support.parsers import all_parsers
from tests.support.topical import add_math_topics, day


@pytest.fixture
def content(
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    with sessions() as session, session.begin():
        add_math_topics(session, description="All of mathematics.")
    make_series(slug="pde", name="PDE seminar", topics=["math-ap"])
    make_series(slug="other", name="Other seminar", timezone="Asia/Shanghai")
    make_event(series="pde", id="p1", title="Viscosity solutions", start=day(2), end="13:00")
    make_event(
        series="other",
        id="o1",
        title="偏微分方程的数值方法",
        start=day(3),
        end="13:00",
        topics=["Mathematics › Analysis of PDEs", "numerics"],
    )
    make_event(series="other", id="o2", title="Unrelated talk", start=day(4), end="13:00")


def test_topic_page(client: FlaskClient, content: None) -> None:
    page = client.get("/topics/math-ap").get_data(as_text=True)
    assert "<h1>Mathematics › Analysis of PDEs</h1>" in page
    assert "Viscosity solutions" in page and "偏微分方程的数值方法" in page
    assert "Unrelated talk" not in page
    assert 'href="https://events.example.org/topics/math-ap.ics"' in page
    parent = client.get("/topics/math").get_data(as_text=True)
    assert "All of mathematics." in parent and "Analysis of PDEs</a>" in parent
    assert "偏微分方程的数值方法" in parent
    assert client.get("/topics/nope").status_code == 404
    index = client.get("/topics").get_data(as_text=True)
    assert 'href="/topics/math"' in index and 'href="/topics/math-ap"' in index


def test_talk_page_links_its_topics_and_shows_keywords(client: FlaskClient, content: None) -> None:
    page = client.get("/events/o1").get_data(as_text=True)
    assert '<a class="tag" href="/topics/math-ap">Analysis of PDEs</a>' in page
    assert '<span class="tag">numerics</span>' in page


def test_topic_feeds(client: FlaskClient, content: None) -> None:
    answer = client.get("/topics/math.ics")
    assert answer.status_code == 200 and answer.mimetype == "text/calendar"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    for parser, events in all_parsers(answer.data).items():
        titles = sorted(e.summary.split(" — ")[0] for e in events)
        assert titles == ["Viscosity solutions", "偏微分方程的数值方法"], parser
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse(client.get(f"/topics/math-ap.{fmt}").data)
        assert not parsed.bozo, parsed.bozo_exception
        titles = sorted(e.title for e in parsed.entries)
        assert len(titles) == 2, titles
        assert "Viscosity solutions" in titles[0] and "偏微分方程的数值方法" in titles[1], titles
    document = client.get("/topics/math-ap.json").get_json()
    assert document["title"].startswith("Mathematics › Analysis of PDEs")
    assert len(document["items"]) == 2
    assert client.get("/topics/nope.ics").status_code == 404


def test_topic_embed(client: FlaskClient, content: None) -> None:
    answer = client.get("/embed/topics/math?tz=Europe/Lisbon")
    assert (
        answer.status_code == 200
        and "frame-ancestors *" in answer.headers["Content-Security-Policy"]
    )
    page = answer.get_data(as_text=True)
    assert page.count('<li class="embed-talk') == 2 and "· PDE seminar" in page
    assert client.get("/embed/topics/nope").status_code == 404
