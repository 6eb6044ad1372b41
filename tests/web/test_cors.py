"""CORS: public feeds and the API's anonymous GETs are readable by any site; personal feeds,
pages, writes and requests with credentials are not."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from events.models import Event
from mail import subscribers
from tests.support.apiutil import bearer, issue_token

ORIGIN = {"Origin": "https://department.example"}
ACAO = "Access-Control-Allow-Origin"


@pytest.fixture
def talk(make_event: Callable[..., Event]) -> Event:
    return make_event(id="t1")


@pytest.mark.parametrize(
    "path",
    [
        "/series/lisbon-ml.ics",
        "/series/lisbon-ml.rss",
        "/series/lisbon-ml.atom",
        "/series/lisbon-ml.json",
        "/calendar.ics",
        "/feed.json",
        "/events/t1.ics",
        "/api/v1/series",
        "/api/v1/events",
        "/api/v1/events/t1",
        "/api/v1/search?q=deep",
        "/api/v1/openapi.json",
    ],
)
def test_public_reads_allow_any_origin(client: FlaskClient, talk: Event, path: str) -> None:
    answer = client.get(path, headers=ORIGIN)
    assert answer.status_code == 200
    assert answer.headers[ACAO] == "*"
    assert "ETag" in answer.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in answer.headers


def test_personal_feeds_pages_and_writes_do_not(
    client: FlaskClient, talk: Event, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session, session.begin():
        reader = subscribers.add_confirmed(
            session, "r@example.org", ["lisbon-ml"], "UTC", datetime.now(UTC)
        )
        token = reader.token
    closed = [
        client.get(f"/s/{token}.ics", headers=ORIGIN),
        client.get(f"/s/{token}.rss", headers=ORIGIN),
        client.get("/", headers=ORIGIN),
        client.get("/events/t1", headers=ORIGIN),
        client.get("/series/lisbon-ml", headers=ORIGIN),
        client.get(f"/manage/{token}", headers=ORIGIN),
        client.post("/api/v1/series", json={}, headers=ORIGIN),
        client.post("/api/v1/subscriptions", json={}, headers=ORIGIN),
        client.delete("/api/v1/events/t1", headers=ORIGIN),
        # A preflight for a write or a token: no answer a browser would accept.
        client.options(
            "/api/v1/events/t1",
            headers={**ORIGIN, "Access-Control-Request-Method": "PATCH"},
        ),
        client.options(
            "/api/v1/series",
            headers={**ORIGIN, "Access-Control-Request-Headers": "authorization"},
        ),
    ]
    for answer in closed:
        assert ACAO not in answer.headers, answer.request.path
        assert "Access-Control-Allow-Methods" not in answer.headers
        assert "Access-Control-Allow-Headers" not in answer.headers


def test_a_read_with_a_token_is_not_shared(
    client: FlaskClient, talk: Event, sessions: sessionmaker[Session]
) -> None:
    secret = issue_token(sessions, "lisbon-ml")
    answer = client.get("/api/v1/events/t1", headers={**ORIGIN, **bearer(secret)})
    assert answer.status_code == 200
    assert ACAO not in answer.headers
