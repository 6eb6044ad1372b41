"""Every API route answers JSON and is documented; CSRF is skipped only for a real token."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from events.models import Series
from mail.subscribers import SUBSCRIBE_LIMIT
from tests.support.apiutil import bearer, issue_token


def test_every_api_route_is_in_the_openapi_document(app: Flask, client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    documented = {
        (method.upper(), path) for path, ops in document["paths"].items() for method in ops
    }
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = rule.rule.removeprefix("/api/v1").replace("<", "{").replace(">", "}")
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                assert (method, path) in documented, (method, path)
    assert "post" in document["paths"]["/subscriptions"]


def test_subscriptions_429_is_json_with_retry_after(
    client: FlaskClient, make_series: Callable[..., Series]
) -> None:
    make_series()
    body = {"email": "reader@example.org", "series": ["lisbon-ml"]}
    answers = [client.post("/api/v1/subscriptions", json=body) for _ in range(SUBSCRIBE_LIMIT + 1)]
    assert {a.status_code for a in answers[:SUBSCRIBE_LIMIT]} == {202}
    refused = answers[-1]
    assert refused.status_code == 429
    assert refused.mimetype == "application/json"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.get_json()["errors"][0]["message"].startswith("too many requests")


def test_api_writes_with_a_session_cookie_need_csrf_unless_a_token_authenticates(
    client: FlaskClient, sessions: sessionmaker[Session], make_series: Callable[..., Series]
) -> None:
    make_series()
    client.get("/series/lisbon-ml/subscribe")  # the browser now holds a session cookie
    body = {"email": "reader@example.org", "series": ["lisbon-ml"]}
    forged = client.post("/api/v1/subscriptions", json=body)
    assert forged.status_code == 400 and forged.mimetype == "application/json"
    # A bogus bearer header is not a way around it: it answers 401.
    assert client.post("/api/v1/series", json={}, headers=bearer("eft_x")).status_code == 401
    secret = issue_token(sessions, admin=True)
    created = client.post(
        "/api/v1/series",
        json={"slug": "new-one", "name": "New", "timezone": "UTC"},
        headers=bearer(secret),
    )
    assert created.status_code == 201
    # Without any cookie there is nothing to forge: scripts may subscribe as they are.
    script = client.application.test_client()
    assert script.post("/api/v1/subscriptions", json=body).status_code == 202
