"""Hostile input through the API (issue 14): far years, control characters, huge numbers.

Per-field 422s, never a 500, nothing stored; run on PostgreSQL too (a raw NUL used to reach
it and raise).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from events.models import Event, Series
from tests.support.apiutil import bearer, issue_token

TALK = {"id": "t1", "title": "A talk", "start": "2026-05-05 10:00", "end": "11:00"}


def errors(answer: object) -> dict[str, str]:
    body = answer.get_json()  # type: ignore[attr-defined]  # a werkzeug test response
    return {e["field"]: e["message"] for e in body["errors"]}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"start": "9999-12-31 10:00"}, "start", "year 9999 is outside the supported range"),
        ({"start": "2201-01-01 10:00"}, "start", "year 2201 is outside the supported range"),
        ({"end": "9000-01-01 10:00"}, "end", "year 9000 is outside the supported range"),
        ({"title": "Bell\x07"}, "title", "control characters (U+0007"),
        ({"title": "\x1b[2J"}, "title", "control characters (U+001B"),
        ({"abstract": "a\x0cb"}, "abstract", "control characters (U+000C"),
        ({"title": "x\u202ey"}, "title", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ({"speakers": [{"name": "Ann\u200b"}]}, "speakers.0.name", "U+200B ZERO WIDTH SPACE"),
        ({"abstract": "nul\x00here"}, "abstract", "NUL"),
    ],
)
def test_hostile_fields_get_a_per_field_422(
    app: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    change: dict[str, object],
    field: str,
    message: str,
) -> None:
    make_series()
    secret = issue_token(sessions, "lisbon-ml")
    client = app.test_client()
    answer = client.post(
        "/api/v1/series/lisbon-ml/events", json={**TALK, **change}, headers=bearer(secret)
    )
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert message in errors(answer)[field]
    with sessions() as session:
        assert session.get(Event, "t1") is None


def test_a_far_year_patch_and_a_huge_number_are_422(
    app: Flask, sessions: sessionmaker[Session], make_event: Callable[..., Event]
) -> None:
    make_event(id="t1")
    secret = issue_token(sessions, "lisbon-ml")
    client = app.test_client()
    etag = client.get("/api/v1/events/t1").headers["ETag"]
    far = client.patch(
        "/api/v1/events/t1",
        json={"start": "9999-01-01 10:00"},
        headers=bearer(secret, If_Match=etag),
    )
    assert far.status_code == 422 and "year 9999" in errors(far)["start"]
    huge = client.patch(
        "/api/v1/events/t1",
        data='{"title": ' + "9" * 100_000 + "}",
        content_type="application/json",
        headers=bearer(secret, If_Match=etag),
    )
    assert huge.status_code == 422
    assert "100,000 digits" in errors(huge)["body"]
    assert client.get("/series/lisbon-ml.ics").status_code == 200
    assert client.get("/series/lisbon-ml.rss").status_code == 200


def test_an_import_with_control_characters_is_a_per_field_422(
    app: Flask, sessions: sessionmaker[Session], make_series: Callable[..., Series]
) -> None:
    make_series()
    secret = issue_token(sessions, "lisbon-ml")
    answer = app.test_client().post(
        "/api/v1/import?series=lisbon-ml",
        data="id,title,start,end\nt1,Bell\x07,2026-05-05 10:00,11:00\n",
        content_type="text/csv",
        headers=bearer(secret),
    )
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert "control characters (U+0007" in errors(answer)["title"]
