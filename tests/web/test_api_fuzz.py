"""Bounded, deterministic fuzzing of the API: schemathesis against the OpenAPI document,
property tests of local times across DST changes, and a corpus of malformed import files.

Every test here is derandomised (fixed examples on every run) and small, so CI stays
stable and fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytz
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from events.models import Event, Series
from tests.support.apiutil import bearer, issue_token
from web.api import OPERATIONS

API = "/api/v1"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# CI runs 25 cases per operation (about 300 in all); raise it locally for a longer hunt.
EXAMPLES_PER_OPERATION = int(os.environ.get("EVENTFEED_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
SEED_SERIES = {"slug": "seed", "name": "Seed", "timezone": "Europe/Lisbon"}
VALID_TIMES: dict[str, dict[str, str]] = {
    "events": {"start": "2026-01-15 12:00", "end": "13:00", "timezone": "Europe/Lisbon"},
    "series": {"timezone": "UTC"},
}
SEED_TALK = {"id": "seed-talk", "title": "Seed", "start": "2026-01-15 12:00", "end": "13:00"}


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The application without rate limits (0 turns them off), so fuzzing is not throttled."""
    return make_app(api_writes_per_minute=0, api_imports_per_hour=0)


def _seed(client: FlaskClient, token: str) -> None:
    assert client.post(f"{API}/series", json=SEED_SERIES, headers=bearer(token)).status_code == 201
    created = client.post(f"{API}/series/seed/events", json=SEED_TALK, headers=bearer(token))
    assert created.status_code == 201


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.rule}")
def test_schemathesis_finds_no_server_error_and_answers_match_the_schema(
    app: Flask, sessions: sessionmaker[Session], op: Any
) -> None:
    app.testing = False  # a crash must come back as a 500 answer, which the checks catch
    client = app.test_client()
    token = issue_token(sessions, admin=True)
    _seed(client, token)
    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app)
    operation = schema[op.path][op.method]
    strategy = st.tuples(operation.as_strategy(), st.booleans(), st.booleans(), st.booleans())
    statuses: list[int] = []

    @FUZZ
    @given(drawn=strategy)
    def run(drawn: tuple[Case, bool, bool, bool]) -> None:
        case, known_target, fresh_tag, valid_times = drawn
        if valid_times and isinstance(case.body, dict):
            # Valid times and zones let random titles, URLs, speakers... reach the database.
            case.body.update(VALID_TIMES["events" if "events" in op.rule else "series"])
        if known_target:  # half the cases aim at records that exist, to reach validation
            for name, value in (("slug", "seed"), ("event_id", "seed-talk")):
                if name in (case.path_parameters or {}):
                    case.path_parameters[name] = value
        headers = bearer(token)
        if fresh_tag and op.if_match != "none":
            path = f"{API}/events/seed-talk" if "event_id" in op.rule else f"{API}/series/seed"
            etag = client.get(path).headers.get("ETag")
            if etag:
                headers["If-Match"] = etag
        statuses.append(case.call_and_validate(headers=headers, checks=CHECKS).status_code)
        if client.get(f"{API}/series/seed").status_code == 404:
            _seed(client, token)  # a DELETE removed the seed: put it back for the next case

    run()
    assert len(statuses) >= EXAMPLES_PER_OPERATION // 2
    print(op.method, op.rule, sorted(set(statuses)), len(statuses))


ZONES = st.sampled_from(sorted(pytz.common_timezones))
# Local times around the usual DST change dates (March/April, October/November) and others.
LOCAL_TIMES = st.builds(
    datetime,
    year=st.sampled_from([2024, 2026]),
    month=st.sampled_from([1, 3, 4, 7, 9, 10, 11]),
    day=st.integers(1, 28),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
)


def _gap(local: datetime, zone: ZoneInfo) -> bool:
    aware = local.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local


@pytest.fixture
def dst_client(client: FlaskClient, sessions: sessionmaker[Session]) -> tuple[FlaskClient, str]:
    """A client and an admin token, with a series to put talks in."""
    token = issue_token(sessions, admin=True)
    _seed(client, token)
    return client, token


def test_random_zones_and_local_times_round_trip_through_the_api(
    dst_client: tuple[FlaskClient, str],
) -> None:
    client, token = dst_client
    counter = iter(range(10**9))
    outcomes = {"created": 0, "gap": 0}

    @settings(max_examples=120, derandomize=True, database=None, deadline=None)
    @given(zone_name=ZONES, local=LOCAL_TIMES, shift=st.sampled_from([0, -1, 1]))
    def run(zone_name: str, local: datetime, shift: int) -> None:
        zone = ZoneInfo(zone_name)
        # Pull some cases onto the zone's own transition hour to hit gaps and overlaps.
        if shift:
            found = _transition_near(local.replace(tzinfo=zone), zone)
            if found is not None:
                local = (found + timedelta(minutes=30 * shift)).replace(tzinfo=None)
        talk = {
            "id": f"dst-{next(counter)}",
            "title": "DST",
            "timezone": zone_name,
            "start": local.strftime("%Y-%m-%d %H:%M"),
            "end": (local + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M"),
        }
        answer = client.post(f"{API}/series/seed/events", json=talk, headers=bearer(token))
        if _gap(local, zone):
            assert answer.status_code == 422, answer.get_json()
            assert "does not exist" in json.dumps(answer.get_json())
            outcomes["gap"] += 1
            return
        if _gap(local + timedelta(hours=3), zone):
            assert answer.status_code == 422
            return
        assert answer.status_code == 201, answer.get_json()
        read = client.get(f"{API}/events/{talk['id']}").get_json()
        expected = local.replace(tzinfo=zone).astimezone(UTC)  # fold=0: first occurrence
        assert datetime.fromisoformat(read["start_utc"]) == expected
        assert read["timezone"] == zone_name
        outcomes["created"] += 1

    run()
    assert outcomes["created"] > 50
    assert outcomes["gap"] > 0


def _transition_near(aware: datetime, zone: ZoneInfo) -> datetime | None:
    """Return the local wall time just before a UTC-offset change within 60 days, if any."""
    instant = aware.astimezone(UTC)
    offset = instant.astimezone(zone).utcoffset()
    for hours in range(0, 60 * 24, 6):
        later = instant + timedelta(hours=hours)
        if later.astimezone(zone).utcoffset() != offset:
            low = later - timedelta(hours=6)
            while later - low > timedelta(minutes=15):
                mid = low + (later - low) / 2
                if mid.astimezone(zone).utcoffset() == offset:
                    low = mid
                else:
                    later = mid
            before = low.astimezone(zone)
            return before.replace(minute=before.minute - before.minute % 15, second=0)
    return None


def test_ambiguous_local_times_take_the_first_occurrence_unless_an_offset_is_given(
    dst_client: tuple[FlaskClient, str],
) -> None:
    client, token = dst_client
    first = {**SEED_TALK, "id": "fold0", "timezone": "Europe/Lisbon"}
    first |= {"start": "2026-10-25 01:30", "end": "2026-10-25 03:00"}
    second = {**first, "id": "fold1", "start": "2026-10-25 01:30+00:00"}
    for talk in (first, second):
        created = client.post(f"{API}/series/seed/events", json=talk, headers=bearer(token))
        assert created.status_code == 201, created.get_json()
    assert client.get(f"{API}/events/fold0").get_json()["start_utc"] == "2026-10-25T00:30:00Z"
    assert client.get(f"{API}/events/fold1").get_json()["start_utc"] == "2026-10-25T01:30:00Z"
    assert client.get(f"{API}/events/fold1").get_json()["start_local"] == "2026-10-25 01:30+00:00"


def _rows(sessions: sessionmaker[Session]) -> tuple[int, int, list[Any]]:
    with sessions() as session:
        series = int(session.scalar(select(func.count()).select_from(Series)) or 0)
        events = int(session.scalar(select(func.count()).select_from(Event)) or 0)
        snapshot = [
            (e.id, e.title, e.start_utc, e.sequence) for e in session.scalars(select(Event))
        ]
    return series, events, snapshot


GOOD_YAML = (
    "series:\n  - slug: seed\n    name: Seed\n    timezone: Europe/Lisbon\n    events:\n"
    "      - {id: seed-talk, title: Changed, start: 2026-02-01 10:00, end: '11:00'}\n"
)
ICS_HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
MALFORMED: dict[str, tuple[str, bytes]] = {
    "truncated-yaml": ("yaml", GOOD_YAML.encode()[: GOOD_YAML.index("title: Changed") + 10]),
    "truncated-json": ("json", b'{"series": [{"slug": "seed", "name": "Se'),
    "latin-1": ("yaml", GOOD_YAML.replace("Changed", "Caf\xe9").encode("latin-1")),
    "utf-16": ("json", json.dumps({"series": []}).encode("utf-16")),
    "nested-json": ("json", b'{"series": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
    "nested-yaml": ("yaml", b"series: " + b"[" * 5_000 + b"]" * 5_000),
    "yaml-aliases": ("yaml", b"a: &a [x, x]\nseries: [*a, *a]\n"),
    "not-a-mapping": ("json", b"[1, 2, 3]"),
    "unknown-key": ("json", b'{"series": [], "evnets": []}'),
    "binary": ("yaml", bytes(range(256)) * 4),
    "second-record-bad": (
        "yaml",
        (
            GOOD_YAML + "      - {id: t2, title: Bad, start: 2026-03-29 01:30, end: '02:30'}\n"
        ).encode(),
    ),
    "csv-extra-cells": ("csv", b"id,title,start,end\nx,T,2026-01-01 10:00,11:00,surplus\n"),
    "csv-bad-time": ("csv", b"id,title,start,end\nx,T,tomorrow,11:00\n"),
    "ics-truncated": ("ics", (ICS_HEAD + "BEGIN:VEVENT\r\nUID:x@y\r\nDTSTART:2026").encode()),
    "ics-no-uid": (
        "ics",
        (
            ICS_HEAD + "BEGIN:VEVENT\r\nDTSTART:20260101T100000Z\r\nDTEND:20260101T110000Z\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n"
        ).encode(),
    ),
    "ics-all-day": (
        "ics",
        (
            ICS_HEAD + "BEGIN:VEVENT\r\nUID:d@y\r\nDTSTART;VALUE=DATE:20260101\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n"
        ).encode(),
    ),
    "ics-garbage": ("ics", b"BEGIN:VCALENDAR\r\n\x00\x01\x02garbage\r\n"),
    "empty": ("json", b""),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_import_files_get_a_clear_4xx_and_change_nothing(
    dst_client: tuple[FlaskClient, str], sessions: sessionmaker[Session], name: str
) -> None:
    client, token = dst_client
    before = _rows(sessions)
    fmt, raw = MALFORMED[name]
    answer = client.post(
        f"{API}/import",
        query_string={"format": fmt, "series": "seed"},
        data=raw,
        headers=bearer(token),
    )
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.get_data()[:300])
    errors = answer.get_json()["errors"]
    assert errors and all(e["message"].strip() for e in errors)
    assert len(errors[0]["message"]) < 2000
    assert _rows(sessions) == before


def test_a_huge_import_is_refused_before_parsing(
    dst_client: tuple[FlaskClient, str], sessions: sessionmaker[Session]
) -> None:
    client, token = dst_client
    before = _rows(sessions)
    huge = b"series: []\n" + b"#" * (6 * 1024 * 1024)
    answer = client.post(
        f"{API}/import?format=yaml", data=huge, headers=bearer(token), content_type="text/yaml"
    )
    assert answer.status_code == 413
    assert _rows(sessions) == before


def test_a_good_import_through_the_api_writes_everything(
    dst_client: tuple[FlaskClient, str],
) -> None:
    client, token = dst_client
    answer = client.post(
        f"{API}/import", data=GOOD_YAML, headers=bearer(token), content_type="text/yaml"
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["events"] == {"created": 0, "updated": 1, "unchanged": 0}
    talk = client.get(f"{API}/events/seed-talk").get_json()
    assert talk["title"] == "Changed"
    assert talk["sequence"] == 1
