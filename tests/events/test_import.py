"""Importing YAML, JSON, CSV and .ics: idempotent, all-or-nothing, errors naming the place."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from events import exporter, importer
from events.errors import EventFeedError, ImportFailed, InvalidRecord
from events.models import Event, Series
from server import sample_data_path

DATA = Path(__file__).parents[1] / "data"
WriteFile = Callable[[str, "str | bytes"], Path]


def count(sessions: sessionmaker[Session], model: type[Event] | type[Series]) -> int:
    """Return the number of rows of a model."""
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def snapshot(sessions: sessionmaker[Session]) -> list[tuple[str, str, int, str]]:
    """Return a comparable picture of every stored event."""
    with sessions() as session:
        rows = session.scalars(select(Event).order_by(Event.id))
        return [(e.id, e.title, e.sequence, e.start_utc.isoformat()) for e in rows]


def talks_document(n: int, bad_index: int | None = None) -> dict[str, object]:
    """Return an import document with one series and n talks; one may carry a bad time."""
    events = []
    for i in range(n):
        day = 1 + i % 28
        month = 1 + i // 28
        start = f"2026-{month:02d}-{day:02d} 17:00"
        if i == bad_index:
            start = "2026-03-29 01:30"
        events.append(
            {
                "id": f"talk-{i:03d}",
                "title": f"Talk {i}",
                "start": start,
                "end": f"2026-{month:02d}-{day:02d} 18:00"
                if i != bad_index
                else "2026-03-29 03:00",
                "speakers": [{"name": f"Speaker {i}", "affiliation": "Uni"}],
            }
        )
    return {
        "series": [
            {"slug": "fifty", "name": "Fifty talks", "timezone": "Lisbon time", "events": events}
        ]
    }


def test_fifty_talks_imported_twice_leave_fifty(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    path = write_file("fifty.yaml", yaml.safe_dump(talks_document(50)))
    first = importer.import_files(sessions, [path])
    assert first.events["created"] == 50
    before = snapshot(sessions)
    second = importer.import_files(sessions, [path])
    assert second.events == {"created": 0, "updated": 0, "unchanged": 50}
    assert count(sessions, Event) == 50
    assert snapshot(sessions) == before


def test_one_bad_time_imports_nothing_and_names_record_and_field(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    path = write_file("bad.yaml", yaml.safe_dump(talks_document(50, bad_index=37)))
    with pytest.raises(InvalidRecord) as info:
        importer.import_files(sessions, [path])
    message = str(info.value)
    assert "bad.yaml" in message
    assert "'talk-037'" in message
    assert "field 'start'" in message
    assert "does not exist in Europe/Lisbon" in message
    assert count(sessions, Event) == 0
    assert count(sessions, Series) == 0


def test_failed_reimport_leaves_existing_records_unchanged(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    good = talks_document(10)
    importer.import_files(sessions, [write_file("good.json", json.dumps(good))])
    before = snapshot(sessions)
    changed = talks_document(10, bad_index=9)
    changed["series"][0]["events"][0]["title"] = "Renamed"  # type: ignore[index]
    with pytest.raises(InvalidRecord):
        importer.import_files(sessions, [write_file("changed.json", json.dumps(changed))])
    assert snapshot(sessions) == before


def test_two_files_in_one_import_are_one_transaction(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    good = write_file("a.yaml", yaml.safe_dump(talks_document(3)))
    bad = write_file("b.yaml", "series: [{slug: x, name: X, timezone: Mars/Base}]")
    with pytest.raises(InvalidRecord, match=r"b\.yaml.*field 'timezone'.*unknown timezone"):
        importer.import_files(sessions, [good, bad])
    assert count(sessions, Series) == 0


def test_sample_data_imports_with_meeting_defaults(sessions: sessionmaker[Session]) -> None:
    report = importer.import_files(sessions, [sample_data_path()])
    assert report.series["created"] == 3
    assert report.events["created"] >= 40
    with sessions() as session:
        wang = session.get(Event, "2021-11-27-wang")
        assert wang is not None
        assert wang.timezone == "Asia/Shanghai"
        assert wang.start_utc.isoformat() == "2021-11-27T01:30:00+00:00"
        assert wang.meeting is not None
        assert wang.meeting["id"] == "329744341"
        assert wang.meeting["access"] == "subscribers"
        same_slot = session.scalars(select(Event).where(Event.start_utc == wang.start_utc)).all()
        assert len(same_slot) == 2
        lisbon = session.scalar(select(Series).where(Series.slug == "lisbon-ml-seminars"))
        assert lisbon is not None
        assert any("$\\infty$-Laplacian" in e.title for e in lisbon.events)
        assert any("$n$" in e.abstract for e in lisbon.events)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_export_then_import_round_trips(
    fmt: str, sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    importer.import_files(sessions, [sample_data_path()])
    before = snapshot(sessions)
    with sessions() as session:
        text = exporter.export_series(
            session,
            ["ml-joint-seminar", "lisbon-ml-seminars", "physics-deep-learning-workshop"],
            fmt,
        )
    path = write_file(f"export.{fmt}", text)
    report = importer.import_files(sessions, [path])
    assert report.events["updated"] == 0
    assert report.series["updated"] == 0
    assert snapshot(sessions) == before


def test_export_keeps_the_second_occurrence_of_an_ambiguous_time(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    doc = {
        "series": [
            {
                "slug": "dst",
                "name": "DST",
                "timezone": "Europe/Lisbon",
                "events": [
                    {
                        "id": "late",
                        "title": "Late",
                        "start": "2026-10-25 01:30+00:00",
                        "end": "02:30",
                    }
                ],
            }
        ]
    }
    importer.import_files(sessions, [write_file("dst.yaml", yaml.safe_dump(doc))])
    with sessions() as session:
        text = exporter.export_series(session, ["dst"])
    assert "2026-10-25 01:30+00:00" in text
    importer.import_files(sessions, [write_file("again.yaml", text)])
    with sessions() as session:
        late = session.get(Event, "late")
        assert late is not None
        assert late.start_utc.isoformat() == "2026-10-25T01:30:00+00:00"
        assert late.sequence == 0


def test_csv_import(
    sessions: sessionmaker[Session], write_file: WriteFile, make_series: Callable[..., Series]
) -> None:
    make_series(slug="csv-series", timezone="Asia/Shanghai")
    path = write_file(
        "talks.csv",
        "id,title,start,end,speakers,tags,location,meeting_url,meeting_passcode,meeting_access\n"
        "2021-11-27-wang,冷冻电镜原理及相关算法,2021-11-27 9:30,11:30,"
        '"王宇航 (北京深势科技有限公司); 朱通 (华东师范大学)",cryo-EM;ml,Online,'
        "https://meeting.tencent.com/dm/x,974114,subscribers\n",
    )
    importer.import_files(sessions, [path], default_series="csv-series")
    with sessions() as session:
        event = session.get(Event, "2021-11-27-wang")
        assert event is not None
        assert event.speakers == [
            {"name": "王宇航", "affiliation": "北京深势科技有限公司"},
            {"name": "朱通", "affiliation": "华东师范大学"},
        ]
        assert event.tags == ["cryo-EM", "ml"]
        assert event.meeting == {
            "url": "https://meeting.tencent.com/dm/x",
            "passcode": "974114",
            "access": "subscribers",
        }
        assert event.start_utc.isoformat() == "2021-11-27T01:30:00+00:00"


def test_ics_import_keeps_each_events_zone(
    sessions: sessionmaker[Session], make_series: Callable[..., Series]
) -> None:
    make_series(slug="imported", timezone="UTC")
    importer.import_files(
        sessions,
        [DATA / "google-export-lisbon.ics", DATA / "outlook-windows-zone.ics"],
        default_series="imported",
    )
    with sessions() as session:
        winter = session.get(Event, "winter-talk")
        summer = session.get(Event, "summer-talk")
        given_in_utc = session.get(Event, "utc-talk")
        outlook = session.scalar(select(Event).where(Event.title == "冷冻电镜原理及相关算法"))
        assert winter and summer and given_in_utc and outlook
        assert (winter.timezone, winter.start_local) == ("Europe/Lisbon", "2026-01-15 12:00")
        assert winter.start_utc.isoformat() == "2026-01-15T12:00:00+00:00"
        assert summer.start_utc.isoformat() == "2026-07-15T11:00:00+00:00"
        assert summer.end_local == "2026-07-15 13:30"
        assert summer.status == "cancelled"
        assert winter.title == "Winter talk, with a comma"
        assert winter.abstract == "Line one\nLine two; semicolon"
        assert winter.location == {"room": "Amphitheatre Fa2, IST"}
        assert winter.tags == ["ml", "theory"]
        assert given_in_utc.timezone == "Europe/Lisbon"  # from X-WR-TIMEZONE
        assert given_in_utc.start_local == "2026-03-29 10:00"
        assert (outlook.timezone, outlook.start_local) == ("Asia/Shanghai", "2021-11-27 09:30")
        assert outlook.id.startswith("ics-")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.yaml", "series: [unclosed", "not valid YAML"),
        ("broken.json", '{"series": [', "not valid JSON"),
        ("latin1.yaml", "series:\n  - name: Caf\xe9\n".encode("latin-1"), "not UTF-8"),
        ("list.yaml", "- a\n- b\n", "expected a mapping"),
        ("extra.yaml", "series: []\nspeakers: []\n", "unknown top-level key"),
        ("aliases.yaml", "a: &x [1]\nseries: [*x]\n", "aliases are not allowed"),
        ("nested.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("strange.txt", "x", "unknown file type"),
        (
            "nosuchseries.yaml",
            "events: [{series: nope, id: a, title: A, start: '2026-01-01 10:00', end: '11:00'}]",
            "no series with slug 'nope'",
        ),
        (
            "noseries.json",
            '{"events": [{"id": "a", "title": "A", "start": "2026-01-01 10:00", "end": "11:00"}]}',
            "field 'series'",
        ),
        (
            "dup.yaml",
            "series: [{slug: s, name: S, timezone: UTC, events: ["
            "{id: a, title: A, start: '2026-01-01 10:00', end: '11:00'},"
            "{id: a, title: B, start: '2026-01-02 10:00', end: '11:00'}]}]",
            "appears twice",
        ),
        ("all-day-event.ics", (DATA / "all-day-event.ics").read_bytes(), "all-day events"),
        ("truncated.ics", (DATA / "truncated.ics").read_bytes(), "no VCALENDAR"),
        ("ragged.csv", "id,title\na,b,c\n", "more cells than header"),
    ],
)
def test_malformed_files_give_a_clear_error_and_change_nothing(
    name: str,
    content: str | bytes,
    message: str,
    sessions: sessionmaker[Session],
    write_file: WriteFile,
) -> None:
    importer.import_files(sessions, [write_file("ok.yaml", yaml.safe_dump(talks_document(2)))])
    before = snapshot(sessions)
    with pytest.raises(EventFeedError, match=message):
        importer.import_files(sessions, [write_file(name, content)], default_series=None)
    assert snapshot(sessions) == before


def test_huge_file_is_refused_before_reading(
    sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "MAX_FILE_BYTES", 1024)
    path = tmp_path / "huge.yaml"
    path.write_text("series: []\n" + "#" * 2048, encoding="utf-8")
    with pytest.raises(ImportFailed, match="above the 1,024-byte limit"):
        importer.import_files(sessions, [path])


def test_event_cannot_move_between_series_by_import(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    one = {
        "series": [
            {
                "slug": "one",
                "name": "One",
                "timezone": "UTC",
                "events": [
                    {"id": "shared", "title": "A", "start": "2026-01-01 10:00", "end": "11:00"}
                ],
            }
        ]
    }
    two = {
        "series": [
            {
                "slug": "two",
                "name": "Two",
                "timezone": "UTC",
                "events": [
                    {"id": "shared", "title": "A", "start": "2026-01-01 10:00", "end": "11:00"}
                ],
            }
        ]
    }
    importer.import_files(sessions, [write_file("one.yaml", yaml.safe_dump(one))])
    with pytest.raises(InvalidRecord, match="already belongs to series 'one'"):
        importer.import_files(sessions, [write_file("two.yaml", yaml.safe_dump(two))])
    assert count(sessions, Series) == 1
