"""Which series and talks a committed transaction changed (events.changes, issue 21)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from events import changes, store
from events.clock import SYSTEM_CLOCK
from events.models import Event, Series
from events.schemas import validate_event


def test_commit_reports_edited_talks_and_series(
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    alpha = make_series(slug="alpha")
    beta = make_series(slug="beta")
    make_event("alpha", id="a1")
    make_event("beta", id="b1")
    with changes.watching() as seen:
        with sessions() as session, session.begin():
            talk = store.get_event(session, "a1")
            talk.title = "Retitled"
        assert seen.series_ids == {alpha.id}
        assert seen.talk_ids == {"a1"}
        with sessions() as session, session.begin():
            store.get_series(session, "beta").name = "Beta renamed"
        assert seen.series_ids == {alpha.id, beta.id}
        with sessions() as session:
            session.delete(store.get_event(session, "b1"))
            session.flush()
            session.rollback()
        assert seen.talk_ids == {"a1"}, "a rollback reports nothing"
        with sessions() as session:
            session.delete(store.get_event(session, "b1"))
            session.commit()
        assert seen.talk_ids == {"a1", "b1"}
    assert seen.series_ids == {alpha.id, beta.id}


def test_moved_talk_reports_both_series(
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    alpha = make_series(slug="alpha")
    beta = make_series(slug="beta")
    make_event("alpha", id="a1")
    with changes.watching() as seen, sessions() as session:
        store.get_event(session, "a1").series_id = beta.id
        session.commit()
    assert seen.series_ids == {alpha.id, beta.id}


def test_bulk_created_talks_are_reported(
    sessions: sessionmaker[Session], make_series: Callable[..., Series]
) -> None:
    alpha = make_series(slug="alpha")
    with changes.watching() as seen, sessions() as session, session.begin():
        series = store.get_series(session, "alpha")
        data = {"title": "Bulk", "start": "2027-01-15 12:00", "end": "13:00"}
        records = [
            validate_event({"id": f"bulk-{k}", **data}, store.series_record(series))
            for k in range(3)
        ]
        store.create_events(session, series, records, SYSTEM_CLOCK.now())
    assert seen.series_ids == {alpha.id}
    assert seen.talk_ids == {"bulk-0", "bulk-1", "bulk-2"}
