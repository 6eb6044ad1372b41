"""The workspace's rules without HTTP: DST answers, sign-in links, owners, racing saves."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from events import accounts, importer, store, times
from events.models import Event, Organiser, Series
from events.schemas import validate_event

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "wall", "expected"),
    [
        ("Europe/Lisbon", "2026-03-29 01:30", ["00:30", "02:00", "02:30"]),
        ("America/New_York", "2026-03-08 02:15", ["01:15", "03:00", "03:15"]),
        ("Australia/Lord_Howe", "2026-10-04 02:10", ["01:40", "02:30", "02:40"]),  # 30-minute jump
    ],
)
def test_a_dst_gap_suggests_the_nearest_valid_times(
    zone: str, wall: str, expected: list[str]
) -> None:
    local = times.parse_local_time(wall)
    with pytest.raises(times.NonexistentLocalTime):
        times.to_instant(local, zone)
    assert times.wall_suggestions(local, zone) == expected
    for text in expected:
        times.to_instant(times.parse_local_time(f"{wall[:10]} {text}"), zone)  # all valid


def test_a_repeated_time_has_two_offsets_first_the_earlier_instant() -> None:
    offsets = times.ambiguous_offsets(times.parse_local_time("2026-10-25 01:30"), "Europe/Lisbon")
    assert offsets == (timedelta(hours=1), timedelta(0))
    assert (
        times.ambiguous_offsets(times.parse_local_time("2026-10-25 03:30"), "Europe/Lisbon") is None
    )


def test_zone_choices_have_friendly_labels() -> None:
    choices = dict(times.zone_choices())
    assert choices["Asia/Shanghai"] == "Beijing time"
    assert choices["Atlantic/Madeira"] == "Madeira, Portugal"
    assert all(name == times.resolve_zone(name) for name in choices)


def test_a_sign_in_link_works_once_and_invite_only_sites_refuse_strangers(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, session.begin():
        assert (
            accounts.create_signin(
                session, "x@example.org", NOW, browser_nonce=None, signup="invite"
            )
            is None
        )
        made = accounts.create_signin(
            session, "x@example.org", NOW, browser_nonce="n", signup="open"
        )
        assert made is not None
        token = accounts.pending_signin(session, made[1], NOW)
        assert accounts.same_browser(token, "n") and not accounts.same_browser(token, "m")
        organiser = accounts.redeem(session, made[1], NOW, signup="open")
        assert organiser.email == "x@example.org"
        with pytest.raises(accounts.BadSignIn):
            accounts.redeem(session, made[1], NOW, signup="open")


def test_a_series_keeps_one_owner(
    sessions: sessionmaker[Session], make_series: Callable[..., Series]
) -> None:
    series = make_series()
    with sessions() as session, session.begin():
        found = session.merge(series)
        accounts.set_role(session, found, "a@example.org", "owner", NOW)
        a = accounts.by_email(session, "a@example.org")
        assert a is not None
        with pytest.raises(accounts.LastOwner):
            accounts.set_role(session, found, "a@example.org", "editor", NOW)
        with pytest.raises(accounts.LastOwner):
            accounts.remove_member(session, found, a.id)
        accounts.set_role(session, found, "b@example.org", "owner", NOW)
        accounts.remove_member(session, found, a.id)
        assert [o.email for o, _ in accounts.members(session, found)] == ["b@example.org"]


def test_two_saves_from_the_same_version_one_wins_one_is_told(
    engine: Engine,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
) -> None:
    """Concurrent saves over one version: the row lock lets exactly one through."""
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serialises writers")
    event = make_event(id="race")
    with sessions() as session, session.begin():
        who = accounts.add_organiser(session, "a@example.org", NOW)
        loaded = store.get_event(session, "race")
        version = accounts.talk_version(loaded)
        base = importer.event_input(loaded)
        who_id = who.id
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def save(title: str) -> None:
        with sessions() as session, session.begin():
            organiser = session.get(Organiser, who_id)
            series = session.get(Series, event.series_id)
            assert organiser is not None and series is not None
            barrier.wait()
            try:
                accounts.save_talk(
                    session,
                    series,
                    {**base, "title": title},
                    organiser,
                    NOW + timedelta(minutes=1),
                    expected=version,
                )
                outcomes.append("saved")
            except accounts.StaleEdit:
                outcomes.append("stale")

    threads = [threading.Thread(target=save, args=(t,)) for t in ("One", "Two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["saved", "stale"]


def test_a_talk_read_back_for_the_form_keeps_its_topics_and_session(
    sessions: sessionmaker[Session], make_event: Callable[..., Event]
) -> None:
    block = make_event(kind="session", id="block", start="2027-01-15 09:30", end="2027-01-15 11:30")
    talk = make_event(
        id="inside",
        parent=block.id,
        topics=["PDE", "viscosity"],
        start="2027-01-15 09:30",
        end="2027-01-15 10:30",
    )
    with sessions() as session:
        loaded = session.get(Event, talk.id)
        assert loaded is not None
        data = importer.event_input(loaded)
        record = store.series_record(loaded.series)
    assert data["parent"] == "block" and data["topics"] == ["PDE", "viscosity"]
    again = validate_event({**data, "status": "cancelled"}, record)
    assert again.parent_id == "block" and again.topics == ["PDE", "viscosity"]
