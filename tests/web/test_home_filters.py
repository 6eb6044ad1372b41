"""The home page filters upcoming talks by topic, date range, online or in person, language."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from events.clock import FrozenClock
from events.models import Event, Series
from tests.support.topical import add_math_topics


@pytest.fixture
def home(
    make_app: Callable[..., Flask],
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> FlaskClient:
    with sessions() as session, session.begin():
        add_math_topics(session)
    make_series(slug="pde", name="PDE", topics=["math-ap"], timezone="UTC")
    make_series(slug="zh", name="中文讨论班", language="zh", timezone="Asia/Shanghai")
    make_event(series="pde", id="room", start="2026-07-01 10:00", end="11:00", location="Room 1")
    make_event(
        series="pde", id="hybrid", start="2026-07-02 23:30", end="23:50", location="Room 2 — Online"
    )
    make_event(
        series="zh",
        id="online",
        start="2026-07-03 10:00",
        end="11:00",
        location="Online",
        topics=["math"],
    )
    make_event(series="zh", id="late", start="2026-08-01 10:00", end="11:00")
    return make_app(clock=FrozenClock(datetime(2026, 6, 1, tzinfo=UTC))).test_client()


def listed(client: FlaskClient, query: str) -> list[str]:
    page = client.get(f"/?{query}").get_data(as_text=True)
    upcoming = page.split('id="upcoming-title"', 1)[1].split("</section>", 1)[0]
    return list(dict.fromkeys(re.findall(r'href="/events/([a-z-]+)"', upcoming)))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["room", "hybrid", "online", "late"]),
        ("topic=math", ["room", "hybrid", "online"]),
        ("topic=math-ap", ["room", "hybrid"]),
        ("topic=nope", []),
        ("mode=online", ["hybrid", "online"]),
        ("mode=in-person", ["room", "hybrid"]),
        ("language=zh", ["online", "late"]),
        ("from=2026-07-02&to=2026-07-03", ["hybrid", "online"]),
        # In Tokyo, the 23:30 UTC talk starts on 3 July.
        ("from=2026-07-03&to=2026-07-03&tz=Asia/Tokyo", ["hybrid", "online"]),
        ("from=2026-07-02&to=2026-07-02&tz=Asia/Tokyo", []),
        ("topic=math&mode=online&language=zh", ["online"]),
        ("from=junk&mode=junk", ["room", "hybrid", "online", "late"]),
    ],
)
def test_filters(home: FlaskClient, query: str, expected: list[str]) -> None:
    assert listed(home, query) == expected


def test_filter_form_keeps_the_choices(home: FlaskClient) -> None:
    page = home.get("/?topic=math-ap&mode=online&from=2026-07-02").get_data(as_text=True)
    assert '<option value="math-ap" selected>Mathematics › Analysis of PDEs</option>' in page
    assert '<option value="online" selected>Online</option>' in page
    assert 'name="from" value="2026-07-02"' in page and "Clear filters" in page
    assert "No upcoming talks match" in home.get("/?topic=nope").get_data(as_text=True)
