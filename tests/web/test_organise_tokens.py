"""API tokens in the workspace: created for a series you own, shown once, usable, revocable."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from events import accounts
from events.clock import FrozenClock
from tests.support.apiutil import bearer
from tests.web.test_organise import csrf, make_series_via_form, organiser, post, signed_in

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SLUG = "lisbon-number-theory"
SECRET = re.compile(r'id="new-token"[^>]*value="(eft_[A-Za-z0-9_-]+)"')


@pytest.fixture
def web(make_app: Callable[..., Flask]) -> Flask:
    """An app on a clock frozen on 1 March 2026."""
    return make_app(clock=FrozenClock(NOW))


def api_import(web: Flask, secret: str) -> Any:
    body = yaml.safe_dump(
        {"events": [{"id": "x1", "title": "By API", "start": "2026-04-01 10:00", "end": "11:00"}]}
    )
    return web.test_client().post(
        f"/api/v1/import?series={SLUG}",
        data=body,
        headers=bearer(secret, Content_Type="text/yaml"),
    )


def test_a_token_is_shown_once_works_and_can_be_revoked(
    web: Flask, sessions: sessionmaker[Session], html_checker: Any
) -> None:
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    made = post(owner, "/organise/tokens", {"label": "sync script", "series": SLUG})
    assert made.status_code == 200
    html = made.get_data(as_text=True)
    html_checker.assert_valid(html, "tokens with a new secret")
    found = SECRET.search(html)
    assert found, html
    secret = found.group(1)
    again = owner.get("/organise/tokens").get_data(as_text=True)
    assert secret not in again and secret[:12] in again and "sync script" in again
    assert api_import(web, secret).status_code == 200
    token_id = re.search(r"/organise/tokens/(\d+)/revoke", again)
    assert token_id
    outsider = signed_in(web, organiser(sessions, "other@example.org"))
    url = f"/organise/tokens/{token_id.group(1)}/revoke"
    stranger = outsider.post(url, data={"csrf_token": csrf(outsider, "/organise/tokens")})
    assert stranger.status_code == 404
    assert outsider.get("/organise/tokens").get_data(as_text=True).count(secret[:12]) == 0
    assert api_import(web, secret).status_code == 200
    revoked = owner.post(url, data={"csrf_token": csrf(owner, "/organise/tokens")})
    assert revoked.status_code == 302
    assert api_import(web, secret).status_code == 401
    assert "revoked" in owner.get("/organise/tokens").get_data(as_text=True)


def test_only_owned_series_can_be_scoped(web: Flask, sessions: sessionmaker[Session]) -> None:
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    post(owner, f"/organise/series/{SLUG}/people", {"email": "ed@example.org", "role": "editor"})
    with sessions() as session:
        found = accounts.by_email(session, "ed@example.org")
        assert found is not None
    editor = signed_in(web, found.id)
    page = editor.get("/organise/tokens").get_data(as_text=True)
    assert "You own no series" in page
    other = signed_in(web, organiser(sessions, "other@example.org"))
    make_series_via_form(other, name="Other seminar")
    refused = post(other, "/organise/tokens", {"label": "x", "series": SLUG})
    assert refused.status_code == 422
    assert "eft_" not in refused.get_data(as_text=True)
