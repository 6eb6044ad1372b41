"""Hostile input at every import entrance (issue 14): far years, control characters, huge
numbers, impossible durations, DST gaps, unknown zones and recurrence rules.

Each file goes through the real CLI (`eventfeed import`) on the test database: one line
`Error: ...` naming the record and field, exit code 1, nothing written, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events.models import Event

WriteFile = Callable[[str, "str | bytes"], Path]
FORMATS = ("yaml", "json", "csv", "ics")


def talk_file(fmt: str, title: str = "A talk", start: str = "2026-05-05 10:00") -> str:
    """Return an import file of one talk in series 'hostile' (CSV and .ics: --series)."""
    end = start[:11] + "11:00"
    event = {"id": "t1", "title": title, "start": start, "end": end}
    document = {
        "series": [{"slug": "hostile", "name": "Hostile", "timezone": "UTC", "events": [event]}]
    }
    if fmt == "yaml":
        return yaml.safe_dump(document, allow_unicode=True, width=1000)
    if fmt == "json":
        return json.dumps(document, ensure_ascii=False)
    if fmt == "csv":
        return f'id,title,start,end\nt1,"{title}",{start},{end}\n'
    stamp = start.replace("-", "").replace(" ", "T").replace(":", "") + "00"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:t1@example.org\r\nSUMMARY:{title}\r\nDTSTART:{stamp}Z\r\n"
        f"DTEND:{stamp[:9]}110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def import_one(
    run: Callable[..., Result], write_file: WriteFile, fmt: str, content: str | bytes
) -> Result:
    run("init-db")
    if fmt in ("csv", "ics"):
        ok = run("import", str(write_file("series.yaml", talk_file("yaml"))))
        assert ok.exit_code == 0, ok.output
    path = write_file(f"hostile.{fmt}", content)
    return run("import", str(path), *(["--series", "hostile"] if fmt in ("csv", "ics") else []))


def refused(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def stored_titles(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(Event.title).order_by(Event.id)))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("year", ["9999", "2201", "1899"])
def test_years_outside_the_range_are_refused_at_every_entrance(
    fmt: str,
    year: str,
    run: Callable[..., Result],
    write_file: WriteFile,
    sessions: sessionmaker[Session],
) -> None:
    result = import_one(run, write_file, fmt, talk_file(fmt, start=f"{year}-12-31 10:00"))
    field = "DTSTART" if fmt == "ics" else "start"
    refused(result, f"field '{field}'", f"year {year} is outside the supported range 1900–2200")
    assert stored_titles(sessions) == ([] if fmt not in ("csv", "ics") else ["A talk"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_edges_of_the_year_range_are_accepted(
    fmt: str, run: Callable[..., Result], write_file: WriteFile, sessions: sessionmaker[Session]
) -> None:
    result = import_one(run, write_file, fmt, talk_file(fmt, start="2200-12-31 10:00"))
    assert result.exit_code == 0, result.output
    with sessions() as session:
        talk = session.get(Event, "t1")
        assert talk is not None and talk.start_utc.year == 2200


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("Bell\x07here", "control characters (U+0007"),
        ("Escape\x1b[31m", "control characters (U+001B"),
        ("Del\x7fete", "control characters (U+007F"),
        ("Admin\u202egnp.exe", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("Isolate\u2066x\u2069", "U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("Zero\u200bwidth", "U+200B ZERO WIDTH SPACE"),
        ("\ufeffBOM title", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ],
)
def test_control_and_disguising_characters_are_refused_per_field(
    fmt: str,
    title: str,
    message: str,
    run: Callable[..., Result],
    write_file: WriteFile,
    sessions: sessionmaker[Session],
) -> None:
    result = import_one(run, write_file, fmt, talk_file(fmt, title=title))
    refused(result, "field 'title'", message)
    assert title not in stored_titles(sessions)


@pytest.mark.parametrize("fmt", ["yaml", "json", "csv"])
def test_joiners_inside_words_tabs_and_newlines_are_kept(
    fmt: str, run: Callable[..., Result], write_file: WriteFile, sessions: sessionmaker[Session]
) -> None:
    title = "می\u200cخواهم and 👩\u200d🔬 science"
    result = import_one(run, write_file, fmt, talk_file(fmt, title=title))
    assert result.exit_code == 0, result.output
    assert stored_titles(sessions) == [title]


def test_a_nul_in_an_abstract_is_refused(
    run: Callable[..., Result], write_file: WriteFile, sessions: sessionmaker[Session]
) -> None:
    document = json.loads(talk_file("json"))
    document["series"][0]["events"][0]["abstract"] = "one\r\ntwo\x00three"
    result = import_one(run, write_file, "json", json.dumps(document))
    refused(result, "field 'abstract'", "control characters (U+0000")
    assert stored_titles(sessions) == []


def test_a_huge_integer_in_json_is_a_clear_error(
    run: Callable[..., Result], write_file: WriteFile
) -> None:
    content = talk_file("json").replace('"A talk"', "1" * 100_000)
    refused(import_one(run, write_file, "json", content), "a number has 100,000 digits")


def ics_event(lines: str, uid: str = "odd@example.org") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nSUMMARY:Odd\r\n{lines}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.mark.parametrize(
    ("lines", "fragments"),
    [
        (
            "DTSTART:20260505T100000Z\r\nDURATION:P999999999W\r\n",
            ["field 'DURATION'", "P999999999W"],
        ),
        (
            "DTSTART;TZID=Europe/Lisbon:20260329T013000\r\nDTEND;TZID=Europe/Lisbon:"
            "20260329T023000\r\n",
            ["field 'DTSTART'", "2026-03-29 01:30 does not exist in Europe/Lisbon"],
        ),
        (
            "DTSTART;TZID=Mars/Olympus:20260505T100000\r\nDTEND;TZID=Mars/Olympus:"
            "20260505T110000\r\n",
            ["field 'DTSTART'", "unknown TZID 'Mars/Olympus'"],
        ),
        (
            "DTSTART:20260505T100000Z\r\nDTEND:20260505T110000Z\r\nRRULE:FREQ=DAILY;COUNT=5000\r\n",
            ["field 'RRULE'", "more than 1,000 occurrences"],
        ),
        (
            "DTSTART;TZID=Europe/Lisbon:99991231T233000\r\nDTEND;TZID=Europe/Lisbon:"
            "99991231T235900\r\n",
            ["field 'DTSTART'", "year 9999"],
        ),
    ],
)
def test_ics_events_that_cannot_be_stored_as_given_name_their_uid(
    lines: str,
    fragments: list[str],
    run: Callable[..., Result],
    write_file: WriteFile,
    sessions: sessionmaker[Session],
) -> None:
    refused(
        import_one(run, write_file, "ics", ics_event(lines)), "UID 'odd@example.org'", *fragments
    )
    assert stored_titles(sessions) == ["A talk"]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.csv", ""),
        ("header-only.csv", "id,title,start,end\n"),
        ("empty.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nEND:VCALENDAR\r\n"),
        ("empty.json", '{"events": []}'),
    ],
)
def test_a_file_without_talks_is_an_error(
    name: str, content: str, run: Callable[..., Result], write_file: WriteFile
) -> None:
    run("init-db")
    refused(run("import", str(write_file(name, content)), "--series", "x"), "no talks found")
