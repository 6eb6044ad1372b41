"""Pages read a bounded amount: the upcoming window and a page of talks, never the history.

Each test counts the talks SQLAlchemy loads while a page is served (a `load` listener on the
Event mapper), so a page that walks every talk fails whatever its speed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event as orm_event
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from events.clock import FrozenClock
from events.models import Event, Series
from events.times import wall_time_text
from web.pages import HOME_UPCOMING, SERIES_PAGE

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@contextmanager
def loaded_talks() -> Iterator[list[str]]:
    """Collect the ids of the talks loaded from the database inside the block."""
    found: list[str] = []

    def on_load(target: Event, _context: object) -> None:
        found.append(target.id)

    orm_event.listen(Event, "load", on_load)
    try:
        yield found
    finally:
        orm_event.remove(Event, "load", on_load)


def add_talks(
    sessions: sessionmaker[Session], series_id: int, prefix: str, days: list[int], **extra: str
) -> None:
    """Insert talks in bulk, one hour each, `days` after NOW (negative: in the past)."""
    rows = []
    for day in days:
        start = NOW + timedelta(days=day)
        end = start + timedelta(hours=1)
        rows.append(
            {
                "id": f"{prefix}{day:+04d}".replace("+", "p").replace("-", "m"),
                "series_id": series_id,
                "title": f"Talk {prefix} {day}",
                "speakers": [{"name": "Ana"}],
                "abstract": "",
                "timezone": "UTC",
                "start_local": wall_time_text(start, "UTC"),
                "end_local": wall_time_text(end, "UTC"),
                "start_utc": start,
                "end_utc": end,
                "location": {},
                "status": extra.get("status", "confirmed"),
                "tags": [],
                "sequence": 0,
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
    with sessions() as session, session.begin():
        session.execute(insert(Event), rows)


@pytest.fixture
def site(
    make_app: Callable[..., Flask],
    make_series: Callable[..., Series],
    sessions: sessionmaker[Session],
) -> FlaskClient:
    """Two public series with long histories and some talks ahead; the clock at NOW."""
    first = make_series(slug="long", name="Long Seminar")
    second = make_series(slug="other", name="Other Seminar")
    add_talks(sessions, first.id, "l", list(range(-300, 0, 2)) + list(range(1, 60, 2)))
    add_talks(sessions, second.id, "o", list(range(-200, 0, 5)) + [10])
    add_talks(sessions, second.id, "x", [3], status="cancelled")
    return make_app(clock=FrozenClock(NOW)).test_client()


def test_home_reads_the_upcoming_window_only(site: FlaskClient) -> None:
    """12 upcoming talks, one next talk per series: 14 talks loaded out of 262."""
    with loaded_talks() as found:
        html = site.get("/").get_data(as_text=True)
    assert len(found) <= HOME_UPCOMING + 1 + 2
    assert "Talk l 1" in html and "Talk o -5" not in html  # no recent list: enough ahead
    # Per series: upcoming talks (cancelled ones not counted) and the next one.
    assert "30 upcoming talks · next" in html
    assert "1 upcoming talk · next" in html  # "other": the cancelled talk on day 3 is left out
    assert 'href="/?page=2" rel="next">Later talks' in html
    with loaded_talks() as found:
        second = site.get("/?page=2").get_data(as_text=True)
    assert len(found) <= HOME_UPCOMING + 1 + 2
    assert 'href="/" rel="prev">' in second and "Talk l 25" in second


def test_series_page_shows_a_page_of_upcoming_and_of_past_talks(site: FlaskClient) -> None:
    """20 of each at a time, with links to the next pages; beyond the last page is a 404."""
    with loaded_talks() as found:
        html = site.get("/series/long").get_data(as_text=True)
    assert len(found) <= 2 * (SERIES_PAGE + 1)
    upcoming, past = html.split('id="past-title"')
    assert upcoming.count('<li class="talk') == SERIES_PAGE
    assert past.count('<li class="talk') == SERIES_PAGE
    assert "Talk l -2<" in past and "Talk l -40<" in past and "Talk l -42<" not in past
    assert 'href="/series/long?past=2" rel="next">Older talks' in past
    assert 'href="/series/long?upcoming=2" rel="next">Later talks' in upcoming

    older = site.get("/series/long?past=8").get_data(as_text=True)
    _, past = older.split('id="past-title"')
    assert past.count('<li class="talk') == 150 - 7 * SERIES_PAGE
    assert "Talk l -300<" in past and 'rel="next"' not in past
    assert 'href="/series/long?past=7" rel="prev">' in past
    later = site.get("/series/long?upcoming=2&past=3").get_data(as_text=True)
    assert 'href="/series/long?past=3" rel="prev">' in later  # keeps the other list's page
    for bad in ("?past=9", "?upcoming=3", "?past=0", "?past=x", "?page=-1"):
        path = "/series/long" + bad if "page" not in bad else "/" + bad
        assert site.get(path).status_code == 404, bad


def test_home_lists_recent_talks_when_few_are_ahead(
    make_app: Callable[..., Flask],
    make_series: Callable[..., Series],
    sessions: sessionmaker[Session],
) -> None:
    """With two talks ahead, the eight latest past talks follow them, latest first."""
    series = make_series(slug="quiet", name="Quiet Seminar")
    add_talks(sessions, series.id, "q", list(range(-100, 0)) + [5, 6])
    client = make_app(clock=FrozenClock(NOW)).test_client()
    with loaded_talks() as found:
        html = client.get("/").get_data(as_text=True)
    assert len(found) <= 2 + 8 + 1
    recent = html.split('id="recent-title"')[1]
    titles = re.findall(r">Talk q (-?\d+)<", recent)
    assert titles == [str(-d) for d in range(1, 9)]
