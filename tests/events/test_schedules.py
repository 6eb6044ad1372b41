"""Schedules: recurrence in wall time, skips and moves, TBA slots filled in place, sessions
and timetables, the `schedule` block round-trip and recurring .ics import."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import exporter, importer, schedules
from events.clock import FrozenClock
from events.errors import EventFeedError, ImportFailed, InvalidRecord
from events.models import Event

DATA = Path(__file__).parents[1] / "data"
NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
WriteFile = Callable[[str, "str | bytes"], Path]


def lisbon(schedule: dict[str, Any], events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return an import document of a Lisbon series with this schedule."""
    series = {"slug": "lisbon", "name": "Lisbon Seminar", "timezone": "Europe/Lisbon"}
    return {"series": [{**series, "schedule": schedule, "events": events or []}]}


def load(
    sessions: sessionmaker[Session], write_file: WriteFile, doc: dict[str, Any], name: str = "s"
) -> importer.ImportReport:
    """Import a document (as JSON) at NOW."""
    path = write_file(f"{name}.json", json.dumps(doc))
    return importer.import_files(sessions, [path], clock=FrozenClock(NOW))


def rows(sessions: sessionmaker[Session]) -> list[Event]:
    """Return every event row in start order."""
    with sessions() as session:
        found = session.scalars(select(Event).order_by(Event.start_utc, Event.id)).all()
        session.expunge_all()
        return list(found)


WEEKLY = {"every": "week", "on": "wednesday", "start": "09:30", "duration": 60}


def test_weekly_0930_lisbon_keeps_its_wall_time_across_both_dst_changes() -> None:
    spec = schedules.parse(
        {**WEEKLY, "from": "2027-03-17", "until": "2027-11-03"},
        "Europe/Lisbon",
        where="t",
        today=NOW.date(),
    )
    found = schedules.occurrences(spec, "Europe/Lisbon", today=NOW.date())
    by_day = {o.key: o.start_utc for o in found}
    # WET (UTC+0) before 28 March, WEST (UTC+1) until 31 October, WET again after.
    assert by_day["2027-03-24"] == datetime(2027, 3, 24, 9, 30, tzinfo=UTC)
    assert by_day["2027-03-31"] == datetime(2027, 3, 31, 8, 30, tzinfo=UTC)
    assert by_day["2027-10-27"] == datetime(2027, 10, 27, 8, 30, tzinfo=UTC)
    assert by_day["2027-11-03"] == datetime(2027, 11, 3, 9, 30, tzinfo=UTC)
    assert len(found) == 34


@pytest.mark.parametrize(
    ("block", "field", "words"),
    [
        (
            {**WEEKLY, "from": "2027-01-06", "count": 3, "skip": ["2027-01-07"]},
            "skip",
            "not a date",
        ),
        ({**WEEKLY, "from": "2027-01-06", "until": "2027-01-05"}, "rrule", "no date"),
        (
            {**WEEKLY, "every": "day", "on": None, "from": "2027-01-01", "until": "2030-12-31"},
            "rrule",
            "1,000",
        ),
        (
            {
                "every": "week",
                "on": "sunday",
                "start": "01:30",
                "duration": 60,
                "from": "2027-03-21",
                "count": 3,
            },
            "start",
            "does not exist",
        ),
        ({**WEEKLY, "every": "fortnight", "from": "2027-01-06"}, "every", "2 weeks"),
        ({**WEEKLY, "from": "2027-01-06", "rrule": "FREQ=WEEKLY"}, "rrule", "not both"),
    ],
)
def test_bad_schedules_are_clear_errors(block: dict[str, Any], field: str, words: str) -> None:
    data = {k: v for k, v in block.items() if v is not None}
    with pytest.raises(InvalidRecord) as caught:
        schedules.parse(data, "Europe/Lisbon", where="series 'x': schedule", today=NOW.date())
    assert caught.value.errors[0][0] == field
    assert words in caught.value.errors[0][1]


def test_monthly_nth_weekday_and_rrule_forms_agree() -> None:
    friendly = schedules.parse(
        {
            "every": "month",
            "on": "second tuesday",
            "start": "16:00",
            "duration": "1h30",
            "from": "2027-01-01",
            "count": 4,
        },
        "Asia/Shanghai",
        where="t",
        today=NOW.date(),
    )
    assert friendly.rule == "FREQ=MONTHLY;BYDAY=2TU;COUNT=4"
    assert friendly.duration_minutes == 90
    days = [o.key for o in schedules.occurrences(friendly, "Asia/Shanghai", today=NOW.date())]
    assert days == ["2027-01-12", "2027-02-09", "2027-03-09", "2027-04-13"]


def test_tba_slots_are_filled_in_place_and_skips_cancel(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    schedule = {
        **WEEKLY,
        "from": "2027-01-06",
        "count": 4,
        "skip": [{"date": "2027-01-20", "reason": "university holiday"}],
    }
    load(sessions, write_file, lisbon(schedule))
    slots = rows(sessions)
    assert [(e.id, e.kind, e.status, e.title) for e in slots] == [
        ("lisbon-20270106", "tba", "confirmed", "Speaker TBA"),
        ("lisbon-20270113", "tba", "confirmed", "Speaker TBA"),
        ("lisbon-20270120", "tba", "cancelled", "No seminar: university holiday"),
        ("lisbon-20270127", "tba", "confirmed", "Speaker TBA"),
    ]
    talk = {
        "id": "costa",
        "title": "Deep nets",
        "speakers": ["Maria Costa"],
        "start": "2027-01-13 09:30",
        "end": "2027-01-13 10:30",
    }
    load(sessions, write_file, lisbon(schedule, [talk]), "again")
    after = rows(sessions)
    assert [e.id for e in after] == [
        "lisbon-20270106",
        "costa",
        "lisbon-20270120",
        "lisbon-20270127",
    ]
    filled = after[1]
    assert (filled.uid_key, filled.slot, filled.sequence) == ("lisbon-20270113", "2027-01-13", 1)
    # Importing again changes nothing: still one entry per slot.
    load(sessions, write_file, lisbon(schedule, [talk]), "third")
    assert [(e.id, e.sequence) for e in rows(sessions)] == [(e.id, e.sequence) for e in after]
    # A talk on a skipped date contradicts the schedule.
    clash = {**talk, "id": "clash", "start": "2027-01-20 09:30", "end": "2027-01-20 10:30"}
    with pytest.raises(InvalidRecord, match="2027-01-20 is skipped"):
        load(sessions, write_file, lisbon(schedule, [talk, clash]), "fourth")


def test_moved_occurrence_changes_the_slot_with_a_higher_sequence(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    schedule = {**WEEKLY, "from": "2027-01-06", "count": 2}
    load(sessions, write_file, lisbon(schedule))
    moved = {**schedule, "move": [{"date": "2027-01-13", "to": "2027-01-14 15:00"}]}
    load(sessions, write_file, lisbon(moved), "moved")
    slot = rows(sessions)[1]
    assert (slot.id, slot.start_local, slot.sequence) == ("lisbon-20270113", "2027-01-14 15:00", 1)


def test_schedule_block_round_trips_through_export(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    schedule = {
        "every": "2 weeks",
        "on": "saturday",
        "start": "09:30",
        "end": "11:30",
        "from": "2027-01-09",
        "until": "2027-06-30",
        "skip": [{"date": "2027-02-06", "reason": "Spring Festival"}],
    }
    load(sessions, write_file, lisbon(schedule))
    with sessions() as session:
        text = exporter.export_series(session, ["lisbon"])
    block = yaml.safe_load(text)["series"][0]["schedule"]
    assert block["rrule"] == "FREQ=WEEKLY;INTERVAL=2;BYDAY=SA;UNTIL=20270630T235959"
    assert block["duration"] == 120
    before = [(e.id, e.start_utc) for e in rows(sessions)]
    path = write_file("exported.yaml", text)
    importer.import_files(sessions, [path], clock=FrozenClock(NOW))
    assert [(e.id, e.start_utc) for e in rows(sessions)] == before
    with sessions() as session:
        assert exporter.export_series(session, ["lisbon"]) == text


SESSION = {
    "id": "bj-2027-01-09",
    "kind": "session",
    "title": "Joint Seminar session",
    "start": "2027-01-09 09:30",
    "end": "11:30",
    "talks": [
        {"id": "bj-a", "title": "Talk A", "speakers": ["A"], "duration": 60},
        {"id": "bj-b", "title": "Talk B", "speakers": ["B"], "duration": 60},
    ],
}


def beijing(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a Beijing series document."""
    return {
        "series": [{"slug": "bj", "name": "Joint ML", "timezone": "Beijing time", "events": events}]
    }


def test_session_items_follow_each_other_inside_the_block(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    load(sessions, write_file, beijing([SESSION]))
    found = {e.id: e for e in rows(sessions)}
    assert found["bj-a"].start_local == "2027-01-09 09:30"
    assert found["bj-b"].start_local == "2027-01-09 10:30"
    assert found["bj-b"].parent_id == "bj-2027-01-09"
    moved = {**SESSION, "talks": [SESSION["talks"][0], {**SESSION["talks"][1], "start": "11:00"}]}
    with pytest.raises(InvalidRecord, match="outside its session's block"):
        load(sessions, write_file, beijing([moved]), "moved")
    shrunk = {**SESSION, "end": "10:00", "talks": []}
    with pytest.raises(InvalidRecord, match="would fall outside the block"):
        load(sessions, write_file, beijing([shrunk]), "shrunk")


def test_workshop_csv_with_a_kind_column(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    load(sessions, write_file, beijing([]))
    csv_text = (
        "series,id,kind,parent,title,start,end,speakers,posters\n"
        "bj,ws,workshop,,One-day workshop,2027-02-01 09:00,2027-02-01 17:00,,\n"
        "bj,ws-open,opening,ws,Opening remarks,2027-02-01 09:00,09:10,,\n"
        "bj,ws-1,invited talk,ws,Invited,2027-02-01 09:10,10:00,Ana (IST),\n"
        "bj,ws-break,break,ws,Coffee break,2027-02-01 10:00,10:30,,\n"
        "bj,ws-spot,poster spotlights,ws,Spotlights,2027-02-01 10:30,11:00,,P1;P2\n"
    )
    importer.import_files(sessions, [write_file("ws.csv", csv_text)], clock=FrozenClock(NOW))
    kinds = {e.id: (e.kind, e.parent_id, e.posters) for e in rows(sessions)}
    assert kinds["ws-1"] == ("invited-talk", "ws", [])
    assert kinds["ws-break"] == ("break", "ws", [])
    assert kinds["ws-spot"] == ("poster-spotlights", "ws", ["P1", "P2"])


def test_indico_ics_expands_rrule_exdate_and_recurrence_id(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    load(sessions, write_file, {"series": [{"slug": "col", "name": "C", "timezone": "UTC"}]})
    importer.import_files(
        sessions, [DATA / "indico-recurring.ics"], default_series="col", clock=FrozenClock(NOW)
    )
    got = [(e.id, e.title, e.start_utc) for e in rows(sessions)]
    colloquium = "Lisbon Mathematics Colloquium"
    assert got == [
        ("indico-event-1234-20270310", colloquium, datetime(2027, 3, 10, 9, 30, tzinfo=UTC)),
        ("indico-event-1234-20270317", colloquium, datetime(2027, 3, 17, 9, 30, tzinfo=UTC)),
        # 24 March: EXDATE; 31 March: summer time, still 09:30 in Lisbon
        ("indico-event-1234-20270331", colloquium, datetime(2027, 3, 31, 8, 30, tzinfo=UTC)),
        (
            "indico-event-1234-20270407",
            colloquium + ": special lecture",
            datetime(2027, 4, 8, 14, 0, tzinfo=UTC),
        ),
        ("indico-event-1234-20270414", colloquium, datetime(2027, 4, 14, 8, 30, tzinfo=UTC)),
    ]


def test_open_ended_ics_rule_is_bounded_and_huge_one_refused(write_file: WriteFile) -> None:
    text = (DATA / "indico-recurring.ics").read_text()
    open_ended = text.replace(";UNTIL=20270414T235959Z", "")
    parsed = importer.parse_bytes("x.ics", open_ended.encode(), "ics", "col", NOW)
    assert 50 < len(parsed.events) < 60  # a year ahead of the clock, less the EXDATE
    daily = open_ended.replace("FREQ=WEEKLY", "FREQ=MINUTELY")
    with pytest.raises(ImportFailed, match="more than 1,000 occurrences"):
        importer.parse_bytes("x.ics", daily.encode(), "ics", "col", NOW)


def test_a_slot_id_is_not_an_import_target(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    load(sessions, write_file, lisbon({**WEEKLY, "from": "2027-01-06", "count": 1}))
    talk = {"id": "lisbon-20270106", "title": "T", "start": "2027-01-06 09:30", "end": "10:30"}
    with pytest.raises(EventFeedError, match="TBA slot"):
        load(
            sessions, write_file, lisbon({**WEEKLY, "from": "2027-01-06", "count": 1}, [talk]), "x"
        )


def test_past_occurrences_leave_no_tba_rows(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    load(sessions, write_file, lisbon({**WEEKLY, "from": "2026-12-01", "count": 8}))
    assert min(e.slot or "" for e in rows(sessions)) == "2027-01-06"
    assert date.fromisoformat("2027-01-06") > NOW.date()


def test_the_workshop_sample_imports_as_a_timetable(sessions: sessionmaker[Session]) -> None:
    path = Path(__file__).parents[2] / "events" / "sample_data" / "workshop-timetable.yaml"
    importer.import_files(sessions, [path], clock=FrozenClock(NOW))
    found = {e.id: e for e in rows(sessions)}
    block = found.pop("2019-06-15-workshop")
    assert block.kind == "workshop"
    assert all(e.parent_id == block.id for e in found.values()) and len(found) == 20
    kinds = Counter(e.kind for e in found.values())
    assert kinds == {
        "contributed-talk": 8,
        "invited-talk": 6,
        "break": 2,
        "lunch": 1,
        "opening": 1,
        "poster-spotlights": 1,
        "poster-session": 1,
    }
    assert found["2019-06-15-poster-spotlights"].posters[0].startswith("A Quantum Field Theory")
    assert found["2019-06-15-opening-remarks"].start_local == "2019-06-15 08:30"
