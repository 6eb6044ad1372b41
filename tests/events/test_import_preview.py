"""Import with preview: a dry run classifies each talk, writes nothing; apply is all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from events import importer
from events.clock import FrozenClock
from events.errors import InvalidRecord
from events.models import Event, Outbox, Series

WriteFile = Callable[[str, "str | bytes"], Path]
CLOCK = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))


def talk(n: int, **overrides: Any) -> dict[str, Any]:
    """One talk of the test series on the nth of March 2030."""
    data = {
        "id": f"t{n}",
        "title": f"Talk {n}",
        "start": f"2030-03-{n:02d} 16:00",
        "end": f"2030-03-{n:02d} 17:00",
        "speakers": [{"name": f"Speaker {n}"}],
    }
    return {**data, **overrides}


def document(*talks: dict[str, Any]) -> str:
    series = {"slug": "prev", "name": "Preview seminar", "timezone": "Europe/Paris"}
    return yaml.safe_dump({"series": [{**series, "events": list(talks)}]})


def picture(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    """Every stored row that an import could write, comparably."""
    with sessions() as session:
        events = [
            (e.id, e.title, e.status, e.sequence, e.start_utc.isoformat(), e.updated_at.isoformat())
            for e in session.scalars(select(Event).order_by(Event.id))
        ]
        series = [(s.slug, s.name) for s in session.scalars(select(Series))]
        outbox = session.scalar(select(func.count()).select_from(Outbox))
        return [*events, *series, ("outbox", outbox)]


@pytest.fixture
def stored(sessions: sessionmaker[Session], write_file: WriteFile) -> None:
    """The series with talks 1, 2, 3 and 4 stored."""
    path = write_file("base.yaml", document(talk(1), talk(2), talk(3), talk(4)))
    importer.import_files(sessions, [path], clock=CLOCK)


def test_preview_classifies_new_changed_unchanged_error_and_missing(
    sessions: sessionmaker[Session], write_file: WriteFile, stored: None
) -> None:
    before = picture(sessions)
    path = write_file(
        "next.yaml",
        document(
            talk(1),
            talk(2, title="Talk 2, retitled", start="2030-03-02 16:30"),
            talk(5),
            talk(6, start="2030-03-31 02:30", end="2030-03-31 03:30"),
        ),
    )
    preview = importer.preview_files(sessions, [path], clock=CLOCK)
    assert picture(sessions) == before
    actions = {t.event_id: t.action for t in preview.talks}
    assert actions == {"t1": "unchanged", "t2": "changed", "t5": "new", "t6": "error"}
    changed = next(t for t in preview.talks if t.event_id == "t2")
    assert [(c.field, c.before, c.after) for c in changed.changes] == [
        ("title", "Talk 2", "Talk 2, retitled"),
        ("start", "2030-03-02 16:00", "2030-03-02 16:30"),
    ]
    error = next(t for t in preview.talks if t.event_id == "t6")
    assert error.errors[0][0] == "start"
    assert "next.yaml" in error.where and "event #4" in error.where
    assert [(m.event_id, m.start) for m in preview.missing] == [
        ("t3", "2030-03-03 16:00"),
        ("t4", "2030-03-04 16:00"),
    ]
    assert preview.counts() == {"new": 1, "changed": 1, "unchanged": 1, "error": 1}
    assert not preview.ok
    assert "t3" in preview.text() and "title: Talk 2 → Talk 2, retitled" in preview.text()


def test_dry_run_of_a_new_series_writes_nothing(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    path = write_file("new.yaml", document(talk(1), talk(2)))
    preview = importer.preview_files(sessions, [path], clock=CLOCK)
    assert preview.ok
    assert [s.action for s in preview.series] == ["new"]
    assert preview.counts()["new"] == 2
    assert picture(sessions) == [("outbox", 0)]


def test_an_unreadable_file_is_one_error(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    preview = importer.preview_files(sessions, [write_file("x.yaml", "series: [")], clock=CLOCK)
    assert not preview.ok
    assert preview.failed is not None and "not valid YAML" in preview.failed


def test_apply_is_all_or_nothing_and_can_cancel_missing_talks(
    sessions: sessionmaker[Session], write_file: WriteFile, stored: None
) -> None:
    before = picture(sessions)
    bad = write_file("bad.yaml", document(talk(1, title="New title"), talk(6, start="nope")))
    with pytest.raises(InvalidRecord):
        importer.import_files(sessions, [bad], clock=CLOCK, cancel_missing=True)
    assert picture(sessions) == before
    good = write_file("good.yaml", document(talk(1, title="New title"), talk(2)))
    report = importer.import_files(sessions, [good], clock=CLOCK, cancel_missing=True)
    assert report.cancelled == ["t3", "t4"]
    assert "2 missing talk(s) cancelled" in report.summary()
    with sessions() as session:
        statuses = {e.id: (e.status, e.title) for e in session.scalars(select(Event))}
    assert statuses == {
        "t1": ("confirmed", "New title"),
        "t2": ("confirmed", "Talk 2"),
        "t3": ("cancelled", "Talk 3"),
        "t4": ("cancelled", "Talk 4"),
    }
    again = importer.preview_files(sessions, [good], clock=CLOCK)
    assert again.missing == []


def test_cli_dry_run_prints_the_preview_and_fails_on_errors(
    run: Callable[..., Result], write_file: WriteFile
) -> None:
    assert run("init-db").exit_code == 0
    base = write_file("base.yaml", document(talk(1), talk(2)))
    assert run("import", str(base)).exit_code == 0
    good = write_file("good.yaml", document(talk(1, title="Renamed"), talk(3)))
    result = run("import", "--dry-run", str(good))
    assert result.exit_code == 0, result.output
    assert "changed   t1  Renamed" in result.output
    assert "title: Talk 1 → Renamed" in result.output
    assert "new       t3" in result.output
    assert "missing   t2" in result.output
    assert "nothing written" in result.output
    bad = write_file("bad.yaml", document(talk(1, end="2030-03-01 15:00")))
    failed = run("import", "--dry-run", str(bad))
    assert failed.exit_code == 1
    assert "field 'end'" in failed.output
    exported = run("export", "prev").output
    assert "Renamed" not in exported and "t3" not in exported
