"""Feed contents: caps, retention of cancelled talks, rolling window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
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


def test_reader_feeds_load_the_newest_announced_chosen_by_code_point_on_ties(
    sessions: sessionmaker[Session], make_event: Callable[..., Event]
) -> None:
    # The database picks the `newest` talks (created_at, then id, latest first); ids that
    # tie on created_at compare by code point, as Python's sort did (not by a locale).
    ids = ["a1", "B2", "b3", "Z4", "c6"]
    for n, talk in enumerate(ids):
        make_event(id=talk, start=f"2026-07-{n + 1:02d} 12:00", end="13:00")
    same = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    with sessions() as session, session.begin():
        session.execute(update(Event).values(created_at=same))
        session.execute(
            update(Event).where(Event.id == "c6").values(created_at=same + timedelta(hours=1))
        )
    with sessions() as session:
        _, events = queries.series_feed(
            session, "lisbon-ml", now=datetime.now(UTC), settings=_settings(), newest=3
        )
    # c6 is newest; then the ties by id, latest first: "b3" > "a1" > "Z4" > "B2" (a locale
    # such as en_US would put "Z4" first, then "b3").
    assert sorted(e.id for e in events) == sorted(["c6", "b3", "a1"])
    assert [e.id for e in events] == ["a1", "b3", "c6"]  # in start order


def test_feed_stamps_are_converted_once_per_row_value(
    sessions: sessionmaker[Session], make_event: Callable[..., Event]
) -> None:
    """Stamps read without pieces equal those converted by the column types (aware UTC
    datetimes, on SQLite and PostgreSQL); after an edit only the edited talk's row is
    converted again, and the edit is in the stamps."""
    for day in range(1, 5):
        make_event(id=f"d{day}", start=f"2026-05-0{day} 12:00", end="13:00")
    moment, config = datetime(2026, 5, 1, tzinfo=UTC), _settings()

    def both(session: Session) -> tuple[list[queries.TalkStamp], list[queries.TalkStamp]]:
        _, raw = queries.series_feed_stamps(
            session, "lisbon-ml", now=moment, settings=config, with_pieces=False
        )
        _, typed = queries.series_feed_stamps(session, "lisbon-ml", now=moment, settings=config)
        return raw, [t._replace(piece_version=None, piece=None) for t in typed]

    with sessions() as session:
        raw, typed = both(session)
        assert raw == typed and [t.id for t in raw] == ["d1", "d2", "d3", "d4"]
        assert all(t.updated_at.tzinfo is UTC and t.start_utc.tzinfo is UTC for t in raw)
        converted = dict(queries._STAMPS)
        edited = datetime(2026, 5, 1, 8, 30, 1, tzinfo=UTC)
        session.execute(
            update(Event)
            .where(Event.id == "d2")
            .values(sequence=Event.sequence + 1, updated_at=edited)
        )
        session.commit()
        raw, typed = both(session)
        assert raw == typed
        assert (raw[1].sequence, raw[1].updated_at) == (typed[1].sequence, edited)
        added = [stamp for key, stamp in queries._STAMPS.items() if key not in converted]
        assert [stamp.id for stamp in added] == ["d2"]
