"""Duplicate "same slot, next session": the next block of a talk's session, or the series
schedule's next occurrence that is not skipped (same local time in the series' zone, across a
DST change), and no such button without either."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import accounts, importer, store
from events.clock import FrozenClock
from events.models import Event, TalkDraft
from tests.web.test_organise import (
    NOW,
    ana_with_a_talk,
    organiser,
    post,
    signed_in,
)

WriteFile = Callable[[str, "str | bytes"], Path]


@pytest.fixture
def web(make_app: Callable[..., Flask]) -> Flask:
    """An app on a clock frozen on 1 March 2026."""
    return make_app(clock=FrozenClock(NOW))


def load(sessions: sessionmaker[Session], write_file: WriteFile, series: dict[str, Any]) -> None:
    """Import one series (as JSON) at NOW and make ana@example.org its owner."""
    path = write_file("s.json", json.dumps({"series": [series]}))
    importer.import_files(sessions, [path], clock=FrozenClock(NOW))
    with sessions() as session, session.begin():
        found = store.get_series(session, series["slug"])
        accounts.set_role(session, found, "ana@example.org", "owner", NOW)


def load_lisbon(
    sessions: sessionmaker[Session], write_file: WriteFile, schedule: dict[str, Any], talk: Any
) -> None:
    """Import the Lisbon series with `schedule` and the one talk."""
    series = {"slug": "lx", "name": "Lisbon", "timezone": "Europe/Lisbon", "schedule": schedule}
    load(sessions, write_file, {**series, "events": [talk]})


def drafts(sessions: sessionmaker[Session]) -> list[TalkDraft]:
    with sessions() as session:
        found = list(session.scalars(select(TalkDraft)))
        session.expunge_all()
        return found


def test_next_session_is_the_schedules_next_occurrence_at_the_same_lisbon_time(
    web: Flask, sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    talk = {
        "id": "bj-talk",
        "title": "From Beijing",
        "speakers": ["Wang Yu"],
        "timezone": "Asia/Shanghai",
        "start": "2026-03-20 01:00",  # 17:00 on Thursday 19 March in Lisbon (UTC+0)
        "end": "02:00",
    }
    schedule = {
        "every": "2 weeks",
        "on": "thursday",
        "start": "17:00",
        "duration": 60,
        "from": "2026-03-05",
        "count": 6,
        "skip": [{"date": "2026-04-02", "reason": "Easter"}],
    }
    load_lisbon(sessions, write_file, schedule, talk)
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    page = client.get("/organise/talks/bj-talk").get_data(as_text=True)
    # 2 April is skipped; 16 April is after the clocks went forward: 17:00 WEST.
    assert "Duplicate (same slot, next session: Thu 16 Apr 2026, 17:00 UTC+01:00)" in page
    done = post(
        client, "/organise/talks/bj-talk/duplicate", {"to": "session"}, "/organise/talks/bj-talk"
    )
    assert done.status_code == 302
    (copy,) = drafts(sessions)
    assert copy.start_utc == datetime(2026, 4, 16, 16, 0, tzinfo=UTC)
    assert (copy.data["start"], copy.data["end"], copy.data["timezone"]) == (
        "2026-04-17 00:00",
        "2026-04-17 01:00",
        "Asia/Shanghai",
    )
    # The plain "next week" copy is still there: 7 days later at the talk's own wall time.
    post(client, "/organise/talks/bj-talk/duplicate", {}, "/organise/talks/bj-talk")
    week = [d for d in drafts(sessions) if d.id != copy.id][0]
    assert week.data["start"] == "2026-03-27 01:00"


def test_next_session_of_a_talk_in_a_session_is_the_next_block(
    web: Flask, sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    first = {
        "id": "bj-2027-01-09",
        "kind": "session",
        "title": "Session 1",
        "start": "2027-01-09 09:30",
        "end": "11:30",
        "talks": [
            {"id": "bj-a", "title": "Talk A", "speakers": ["A"], "duration": 60},
            {"id": "bj-b", "title": "Talk B", "speakers": ["B"], "duration": 60},
        ],
    }
    second = {
        "id": "bj-2027-01-23",
        "kind": "session",
        "title": "Session 2",
        "start": "2027-01-23 09:30",
        "end": "11:30",
    }
    load(
        sessions,
        write_file,
        {"slug": "bj", "name": "Joint ML", "timezone": "Beijing time", "events": [first, second]},
    )
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    assert "next session: Sat 23 Jan 2027, 10:30" in client.get("/organise/talks/bj-b").get_data(
        as_text=True
    )
    post(client, "/organise/talks/bj-b/duplicate", {"to": "session"}, "/organise/talks/bj-b")
    (copy,) = drafts(sessions)
    assert copy.data["parent"] == "bj-2027-01-23"
    assert (copy.data["start"], copy.data["end"]) == ("2027-01-23 10:30", "2027-01-23 11:30")
    published = post(client, f"/organise/talks/{copy.id}/publish", {}, f"/organise/talks/{copy.id}")
    assert published.status_code == 302
    with sessions() as session:
        event = session.get(Event, copy.id)
        assert event is not None and event.parent_id == "bj-2027-01-23"


def test_without_a_schedule_or_session_there_is_no_next_session(
    web: Flask, sessions: sessionmaker[Session]
) -> None:
    client, url = ana_with_a_talk(web, sessions)
    page = client.get(url).get_data(as_text=True)
    assert "Duplicate (same slot next week)" in page and "next session" not in page
    post(client, f"{url}/duplicate", {"to": "session"}, url)
    assert drafts(sessions) == []
    assert "has no next session" in client.get(url).get_data(as_text=True)


def test_a_next_session_inside_a_dst_gap_is_not_offered(
    web: Flask, sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    # Sunday slots from 00:30 for two hours; a talk at 01:30. On 29 March 2026 Lisbon skips
    # 01:00–02:00, so the same wall time does not exist in the next session: no button, no 500.
    schedule = {
        "every": "week",
        "on": "sunday",
        "start": "00:30",
        "duration": 120,
        "from": "2026-03-22",
        "count": 2,
    }
    talk = {"id": "late", "title": "Late", "start": "2026-03-22 01:30", "end": "02:00"}
    load_lisbon(sessions, write_file, schedule, talk)
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    page = client.get("/organise/talks/late")
    assert page.status_code == 200
    assert "next session" not in page.get_data(as_text=True)
