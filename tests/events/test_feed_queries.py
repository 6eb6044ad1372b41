"""Feed contents: caps, retention of cancelled talks, rolling window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from events import queries
from events.config import Settings
from events.models import Event
from feeds.syndication import ordered


def _settings(**overrides: object) -> Settings:
    return Settings.from_env({}, database_url="sqlite://", secret_key="x", **overrides)


def test_series_feed_keeps_the_latest_starts_up_to_the_cap(
    sessions: sessionmaker[Session], make_event: Callable[..., Event]
) -> None:
    for day in range(1, 6):
        make_event(id=f"d{day}", start=f"2026-05-0{day} 12:00", end="13:00")
    with sessions() as session:
        _, events = queries.series_feed(
            session, "lisbon-ml", now=datetime.now(UTC), settings=_settings(feed_max_events=3)
        )
        assert [e.id for e in events] == ["d3", "d4", "d5"]
        site = queries.site_feed(
            session,
            queries.FeedFilter(),
            now=datetime(2026, 5, 2, tzinfo=UTC),
            settings=_settings(feed_max_events=2, feed_window_days=0),
        )
        assert [e.id for e in site] == ["d4", "d5"]


def test_cancelled_talk_leaves_at_the_end_of_the_utc_day_after_the_retention(
    sessions: sessionmaker[Session], make_event: Callable[..., Event]
) -> None:
    make_event(id="off", start="2026-05-01 12:00", end="13:00", status="cancelled")
    start = datetime(2026, 5, 1, 11, 0, tzinfo=UTC)
    settings = _settings(cancelled_retention_days=30, feed_window_days=365)
    with sessions() as session:
        for now, kept in [
            (start + timedelta(days=29), True),
            (start + timedelta(days=30, seconds=1), True),
            (datetime(2026, 5, 31, 23, 59, 59, tzinfo=UTC), True),
            (datetime(2026, 6, 1, 0, 0, tzinfo=UTC), False),
        ]:
            _, events = queries.series_feed(session, "lisbon-ml", now=now, settings=settings)
            site = queries.site_feed(session, queries.FeedFilter(), now=now, settings=settings)
            assert bool(events) == bool(site) == kept, now


def test_feed_items_come_newest_announcement_first(make_event: Callable[..., Event]) -> None:
    events = [
        make_event(id=f"n{i}", start=f"2026-06-0{9 - i} 12:00", end="13:00") for i in range(5)
    ]
    assert [e.id for e in ordered(events)] == ["n4", "n3", "n2", "n1", "n0"]
    assert len(ordered(events, limit=2)) == 2


def test_filter_parsing() -> None:
    parsed = queries.FeedFilter.parse(" a, b,,a ", "pde")
    assert parsed == queries.FeedFilter(series=("a", "b"), tags=("pde",))
    assert parsed.query() == {"series": "a,b", "tag": "pde"}
    assert queries.FeedFilter.parse(None, "").query() == {}
