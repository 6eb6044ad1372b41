"""Security helpers: CSRF tokens for forms, the shared rate limiter, token commands."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import Result
from flask import Flask, render_template_string
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import ratelimit, tokens
from events.clock import SYSTEM_CLOCK
from events.models import RateWindow
from tests.support.apiutil import bearer
from web.security import csrf_exempt, rate_limit


@pytest.fixture
def form_app(app: Flask) -> Flask:
    """The app with a small HTML form, an exempt endpoint and a rate-limited endpoint."""

    @app.route("/test-form", methods=["GET", "POST"])
    def test_form() -> str:
        return render_template_string(
            '<form method="post"><input name="csrf_token" value="{{ csrf_token() }}"></form>'
        )

    @app.post("/test-exempt")
    @csrf_exempt
    def test_exempt() -> str:
        return "ok"

    @app.post("/test-limited")
    @csrf_exempt
    @rate_limit("test-subscribe", limit=2, period=3600)
    def test_limited() -> str:
        return "ok"

    return app


def _token_from(html: str) -> str:
    match = re.search(r'value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_forms_need_the_csrf_token_of_their_session(form_app: Flask) -> None:
    client = form_app.test_client()
    assert client.post("/test-form", data={"x": "1"}).status_code == 400
    token = _token_from(client.get("/test-form").get_data(as_text=True))
    assert client.post("/test-form", data={"csrf_token": token}).status_code == 200
    assert client.post("/test-form", headers={"X-CSRF-Token": token}).status_code == 200
    assert client.post("/test-form", data={"csrf_token": token + "x"}).status_code == 400
    other = form_app.test_client()  # another browser: its session does not match the token
    other.get("/test-form")
    assert other.post("/test-form", data={"csrf_token": token}).status_code == 400
    assert client.post("/test-exempt").status_code == 200
    # A bearer header exempts nothing outside the API (it authenticates nobody here).
    assert client.post("/test-form", headers=bearer("eft_x")).status_code == 400


def test_rate_limit_decorator_answers_429_with_retry_after(form_app: Flask) -> None:
    client = form_app.test_client()
    now = SYSTEM_CLOCK.now()
    answers = [client.post("/test-limited") for _ in range(3)]
    if ratelimit.window_of(SYSTEM_CLOCK.now(), 3600) != ratelimit.window_of(now, 3600):
        pytest.skip("an hour boundary passed during the test")  # pragma: no cover
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["Retry-After"]) >= 1


def test_fixed_windows_are_shared_and_reset(sessions: sessionmaker[Session]) -> None:
    start = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    hits = [ratelimit.hit(sessions, "k", 2, 60, start + timedelta(seconds=s)) for s in (0, 1, 2)]
    assert [h.allowed for h in hits] == [True, True, False]
    assert hits[2].retry_after == 58
    later = ratelimit.hit(sessions, "k", 2, 60, start + timedelta(seconds=61))
    assert later.allowed and later.count == 1
    assert ratelimit.hit(sessions, "other", 2, 60, start).allowed
    with sessions() as session:
        windows = session.scalars(select(RateWindow).where(RateWindow.key == "k"))
        assert len(list(windows)) == 1  # old windows of a key are cleared


def test_token_commands_store_only_hashes(
    run: Callable[..., Result], sessions: sessionmaker[Session]
) -> None:
    created = run("token", "create", "--series", "lisbon-ml", "--series", "ml-joint-seminar")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("eft_") and len(secret) > 40
    with sessions() as session:
        stored = tokens.list_tokens(session)
        assert len(stored) == 1
        assert stored[0].token_hash == tokens.hash_token(secret)
        assert secret not in (stored[0].prefix, stored[0].token_hash, stored[0].label)
        assert stored[0].series == ["lisbon-ml", "ml-joint-seminar"]
        editor = tokens.authenticate(session, secret, SYSTEM_CLOCK.now())
    assert editor is not None and editor.may_edit("lisbon-ml") and not editor.may_edit("x")
    admin = run("token", "create", "--admin", "--label", "site script")
    assert admin.exit_code == 0
    listing = run("token", "list").output
    assert "admin" in listing and "lisbon-ml,ml-joint-seminar" in listing
    assert secret not in listing
    revoked = run("token", "revoke", secret[:10])
    assert revoked.exit_code == 0, revoked.output
    with sessions() as session:
        assert tokens.authenticate(session, secret, SYSTEM_CLOCK.now()) is None
    assert "revoked 20" in run("token", "list").output
    assert run("token", "create").exit_code == 1
    assert run("token", "create", "--admin", "--series", "x").exit_code == 1
    assert run("token", "revoke", "eft_nothing-like-this").exit_code == 1
