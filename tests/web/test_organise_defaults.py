"""Per-series defaults for new talks: a default duration (and the place and meeting defaults),
stored on the series, prefilled in the new-talk form and applied when a talk gives no end —
the same rule in the workspace, the importer and the API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import exporter, importer
from events.errors import InvalidRecord
from events.models import Event, Series, TalkDraft
from tests.support.apiutil import bearer, issue_token
from tests.web.test_organise import (
    make_series_via_form,
    organiser,
    post,
    signed_in,
    talk_fields,
)

WriteFile = Callable[[str, "str | bytes"], Path]


def document(duration: int | None, end: str | None) -> dict[str, object]:
    series: dict[str, object] = {"slug": "lisbon", "name": "Lisbon", "timezone": "Europe/Lisbon"}
    if duration is not None:
        series["duration"] = duration
    event: dict[str, object] = {
        "id": "gap-talk",
        "title": "Across the change",
        "start": "2026-03-29 00:30",
    }
    if end is not None:
        event["end"] = end
    return {"series": [{**series, "events": [event]}]}


def test_an_imported_talk_without_an_end_lasts_the_series_default_duration(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    # 00:30 + 90 minutes across Lisbon's spring-forward: 90 real minutes, ending 03:00 WEST.
    importer.import_files(sessions, [write_file("a.yaml", yaml.safe_dump(document(90, None)))])
    with sessions() as session:
        event = session.get(Event, "gap-talk")
        assert event is not None
        assert (event.end_utc - event.start_utc).total_seconds() == 90 * 60
        assert event.end_local == "2026-03-29 03:00"
        series = session.scalar(select(Series))
        assert series is not None and series.duration == 90
        assert exporter.series_document(series)["duration"] == 90  # export round-trips it


def test_an_end_given_wins_and_no_end_without_a_default_is_a_field_error(
    sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    importer.import_files(sessions, [write_file("a.yaml", yaml.safe_dump(document(90, "00:50")))])
    with sessions() as session:
        event = session.get(Event, "gap-talk")
        assert event is not None and event.end_local == "2026-03-29 00:50"
    with pytest.raises(InvalidRecord, match=r"field 'end': Field required"):
        importer.import_files(
            sessions, [write_file("b.yaml", yaml.safe_dump(document(None, None)))]
        )
    with pytest.raises(InvalidRecord, match=r"field 'duration'"):
        importer.import_files(sessions, [write_file("c.yaml", yaml.safe_dump(document(0, None)))])


def test_the_api_takes_a_series_duration_and_a_talk_without_an_end(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    client = app.test_client()
    headers = bearer(issue_token(sessions, admin=True))
    made = client.post(
        "/api/v1/series",
        json={"slug": "lisbon", "name": "Lisbon", "timezone": "Europe/Lisbon", "duration": 45},
        headers=headers,
    )
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["duration"] == 45
    talk = client.post(
        "/api/v1/series/lisbon/events",
        json={"id": "t1", "title": "Short", "start": "2026-05-04 17:00"},
        headers=headers,
    )
    assert talk.status_code == 201, talk.get_json()
    assert talk.get_json()["end_local"] == "2026-05-04 17:45"
    refused = client.post(
        "/api/v1/series",
        json={"slug": "x", "name": "X", "timezone": "UTC", "duration": 2000},
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.get_json()["errors"][0]["field"] == "duration"


def test_the_workspace_series_form_sets_defaults_that_a_new_talk_starts_with(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session]
) -> None:
    web = make_app()
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    made = make_series_via_form(
        client,
        duration="90",
        attendance="hybrid",
        room="Room 2",
        meeting_url="https://meet.example/room",
        meeting_id="123 456",
        meeting_passcode="secret-1",
        meeting_access="revealed",
        meeting_reveal="30",
    )
    assert made.status_code == 302, made.get_data(as_text=True)
    with sessions() as session:
        series = session.scalar(select(Series))
        assert series is not None and series.duration == 90
        assert series.meeting == {
            "url": "https://meet.example/room",
            "id": "123 456",
            "passcode": "secret-1",
            "access": "revealed",
            "reveal_minutes": 30,
        }
    new = "/organise/series/lisbon-number-theory/talks/new"
    form = client.get(new).get_data(as_text=True)
    for shown in (
        'id="duration" max="1440" min="1" name="duration" type="number" value="90"',
        'value="Room 2"',
        'value="secret-1"',
        '<option selected value="revealed">',
        'name="meeting_reveal" type="number" value="30"',
        '<option selected value="hybrid">',
    ):
        assert shown in form, shown
    # No end and no duration typed: the series' default applies.
    saved = post(client, new, {**talk_fields(end_time="", duration=""), "action": "save"})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    with sessions() as session:
        draft = session.scalars(select(TalkDraft)).one()
        assert draft.data["end"] == "2026-03-20 11:00"  # 09:30 Beijing time + 90 minutes
    bad = make_series_via_form(client, name="Other", duration="0")
    assert bad.status_code == 422
    assert 'id="duration-error"' in bad.get_data(as_text=True)
