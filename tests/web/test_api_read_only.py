"""Read-only API tokens: 403 on every write route of the OpenAPI document, reads work."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events.models import ApiToken, Event, Series
from tests.support.apiutil import bearer, issue_token
from tests.web.test_organise import make_series_via_form, organiser, post, signed_in
from tests.web.test_organise_tokens import SECRET, api_import
from tests.web.test_organise_tokens import SLUG as WS_SLUG

SLUG = "lisbon-ml"
WRITES = ("post", "put", "patch", "delete")


def write_routes(client: FlaskClient) -> list[tuple[str, str]]:
    """(method, path with parameters filled) of every write operation in the document."""
    document = client.get("/api/v1/openapi.json").get_json()
    found = []
    for path, item in document["paths"].items():
        for method in item:
            if method in WRITES:
                filled = re.sub(r"\{(slug|series)\}", SLUG, path)
                filled = re.sub(r"\{[a-z_]+\}", "talk-1", filled)
                found.append((method.upper(), "/api/v1" + filled))
    return found


@pytest.fixture
def stored(make_event: Callable[..., Event], make_series: Callable[..., Series]) -> None:
    make_series(slug=SLUG, visibility="unlisted")
    make_event(series=SLUG, id="talk-1")


@pytest.mark.parametrize("admin", [False, True], ids=["series", "all"])
def test_a_read_only_token_gets_403_on_every_write_route(
    client: FlaskClient, sessions: sessionmaker[Session], stored: None, admin: bool
) -> None:
    secret = issue_token(sessions, *([] if admin else [SLUG]), admin=admin, read_only=True)
    routes = write_routes(client)
    assert len(routes) >= 10, routes  # imports, series, talks, subscriptions (and more later)
    for method, path in routes:
        answer = client.open(
            path,
            method=method,
            json={"title": "Changed"},
            headers=bearer(secret, If_Match='"x"'),
        )
        assert answer.status_code == 403, (method, path, answer.get_data(as_text=True))
        assert "read-only" in answer.get_data(as_text=True)
    with sessions() as session:
        talk = session.get(Event, "talk-1")
        assert talk is not None and talk.title != "Changed" and talk.status != "cancelled"


def test_a_read_only_token_reads_what_its_scope_allows(
    client: FlaskClient, sessions: sessionmaker[Session], stored: None, make_series: Any
) -> None:
    make_series(slug="other", visibility="unlisted")
    secret = issue_token(sessions, SLUG, read_only=True)
    assert client.get(f"/api/v1/series/{SLUG}", headers=bearer(secret)).status_code == 200
    listed = client.get("/api/v1/series", headers=bearer(secret)).get_json()
    assert [s["slug"] for s in listed["items"]] == [SLUG]  # unlisted, yet in its scope
    talks = client.get(f"/api/v1/events?series={SLUG}", headers=bearer(secret))
    assert talks.status_code == 200 and talks.get_json()["items"][0]["id"] == "talk-1"
    assert client.get("/api/v1/events/talk-1", headers=bearer(secret)).status_code == 200
    with sessions() as session:
        token = session.scalars(select(ApiToken)).one()
        assert token.read_only and token.last_used_at is not None


def test_a_read_write_token_still_writes(
    client: FlaskClient, sessions: sessionmaker[Session], stored: None, app: Flask
) -> None:
    secret = issue_token(sessions, SLUG)
    answer = client.post("/api/v1/events/talk-1/cancel", headers=bearer(secret))
    assert answer.status_code != 403, answer.get_data(as_text=True)


def test_cli_creates_and_lists_read_only_tokens(run: Callable[..., Any]) -> None:
    made = run("token", "create", "--series", SLUG, "--read-only", "--label", "dashboard")
    assert made.exit_code == 0 and "read-only" in made.stderr
    assert "(read-only)" in run("token", "list").output
    rw = run("token", "create", "--admin")
    assert "read-write" in rw.stderr


def test_the_workspace_makes_read_only_tokens(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session]
) -> None:
    web = make_app()
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    made = post(owner, "/organise/tokens", {"label": "reader", "series": WS_SLUG, "access": "read"})
    assert made.status_code == 200
    html = made.get_data(as_text=True)
    found = SECRET.search(html)
    assert found, html
    assert "read only" in owner.get("/organise/tokens").get_data(as_text=True)
    refused = api_import(web, found.group(1))
    assert refused.status_code == 403 and "read-only" in refused.get_data(as_text=True)
    read = web.test_client().get(f"/api/v1/series/{WS_SLUG}", headers=bearer(found.group(1)))
    assert read.status_code == 200
