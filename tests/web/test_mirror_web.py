"""A mirrored series through the API, the CLI and the workspace (and in Chromium)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from events import accounts, store
from events.clock import FrozenClock
from events.models import Event, SeriesMirror
from server import cli
from tests.events.test_mirror import FIRST, SECOND, Upstream, upstream  # noqa: F401  (fixture)
from tests.support.apiutil import bearer, issue_token
from tests.support.mailtools import free_port
from tests.web.test_organise import csrf, make_series_via_form, organiser, post, signed_in
from tests.web.test_pages_browser import CHROMIUM, browser  # noqa: F401  (fixture by name)

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
SLUG = "lisbon-number-theory"
ALLOW = "127.0.0.1/32"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def web(make_app: Callable[..., Flask], clock: FrozenClock) -> Flask:
    """An app allowed to fetch from loopback, on a frozen clock."""
    return make_app(clock=clock, mirror_allowed_networks=ALLOW)


def mirror_row(sessions: sessionmaker[Session]) -> SeriesMirror | None:
    with sessions() as session:
        return session.scalars(select(SeriesMirror)).one_or_none()


def count_talks(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return len(session.scalars(select(Event.id)).all())


def test_api_sets_reads_refreshes_and_stops_a_mirror(
    web: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Any],
    upstream: tuple[Upstream, str],  # noqa: F811
) -> None:
    state, base = upstream
    make_series(slug=SLUG)
    make_series(slug="other")
    client = web.test_client()
    writer = issue_token(sessions, SLUG)
    reader = issue_token(sessions, SLUG, read_only=True)
    stranger = issue_token(sessions, "other")
    path = f"/api/v1/series/{SLUG}/mirror"
    assert client.get(path, headers=bearer(writer)).status_code == 404
    bad = client.put(path, json={"url": "file:///etc/passwd"}, headers=bearer(writer))
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "url"
    assert client.put(path, json={"url": base}, headers=bearer(stranger)).status_code == 403
    assert client.put(path, json={"url": base}, headers=bearer(reader)).status_code == 403
    made = client.put(path, json={"url": base + "/export.ics"}, headers=bearer(writer))
    assert made.status_code == 200, made.get_data(as_text=True)
    assert made.get_json()["result"] is None and not state.requests
    done = client.post(path + "/refresh", headers=bearer(writer))
    assert done.status_code == 200
    assert done.get_json()["result"] == "ok" and done.get_json()["message"].startswith("6 new")
    assert count_talks(sessions) == 6
    read = client.get(path, headers=bearer(reader)).get_json()
    assert read["last_good"] == read["last_fetch"] and read["url"] == base + "/export.ics"
    assert client.get(path, headers=bearer(stranger)).status_code == 403
    assert client.delete(path, headers=bearer(reader)).status_code == 403
    assert client.delete(path, headers=bearer(writer)).status_code == 204
    assert mirror_row(sessions) is None and count_talks(sessions) == 6
    document = client.get("/api/v1/openapi.json").get_json()
    assert set(document["paths"]["/series/{slug}/mirror"]) == {"get", "put", "delete"}


def test_cli_mirror_command(
    run: Callable[..., Any],
    cli_env: dict[str, str],
    make_series: Callable[..., Any],
    sessions: sessionmaker[Session],
    upstream: tuple[Upstream, str],  # noqa: F811
) -> None:
    state, base = upstream
    make_series(slug=SLUG)
    bad = run("mirror", SLUG, "ftp://example.org/x.ics")
    assert bad.exit_code == 1 and "Error: only http:// and https://" in bad.output
    assert run("mirror", "nope", base).exit_code == 1
    set_only = run("mirror", SLUG, base + "/export.ics")
    assert set_only.exit_code == 0 and "mirrors " + base in set_only.output
    assert "last fetch: never" in set_only.output and not state.requests
    refused = run("mirror", SLUG, "--refresh")  # loopback not allowed by default
    assert refused.exit_code == 1 and "refused" in refused.output
    env = {**cli_env, "EVENTFEED_MIRROR_ALLOWED_NETWORKS": ALLOW}
    fetched = CliRunner().invoke(cli, ["mirror", SLUG, "--refresh"], env=env)
    assert fetched.exit_code == 0, fetched.output
    assert "ok: " in fetched.output and "result: ok" in fetched.output
    shown = run("mirror", SLUG)
    assert "next fetch: " in shown.output and "last good data: " in shown.output
    assert run("mirror", SLUG, "--remove").exit_code == 0
    assert mirror_row(sessions) is None


def test_workspace_shows_the_mirror_and_refreshes_it(
    web: Flask,
    sessions: sessionmaker[Session],
    upstream: tuple[Upstream, str],  # noqa: F811
    html_checker: Any,
) -> None:
    state, base = upstream
    owner = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(owner)
    page = owner.get(f"/organise/series/{SLUG}").get_data(as_text=True)
    assert "mirrors no external calendar" in page
    url = f"/organise/series/{SLUG}/mirror"
    wrong = post(owner, url, {"url": "javascript:alert(1)"})
    assert wrong.status_code == 422 and "only http://" in wrong.get_data(as_text=True)
    html_checker.assert_valid(wrong.get_data(as_text=True), "mirror form with an error")
    saved = post(owner, url, {"url": base + "/export.ics"})
    assert saved.status_code == 302
    page = owner.get(f"/organise/series/{SLUG}").get_data(as_text=True)
    assert "Last fetch</dt><dd>not yet" in page and "Refresh now" in page
    html_checker.assert_valid(page, "series page with a mirror")
    refresh = f"/organise/series/{SLUG}/mirror/refresh"
    done = owner.post(refresh, data={"csrf_token": csrf(owner, f"/organise/series/{SLUG}")})
    assert done.status_code == 302 and count_talks(sessions) == 6
    page = owner.get(f"/organise/series/{SLUG}").get_data(as_text=True)
    assert "Refreshed: ok — 6 new" in page and "Moving talk" in page
    state.status = 500
    owner.post(refresh, data={"csrf_token": csrf(owner, f"/organise/series/{SLUG}")})
    page = owner.get(f"/organise/series/{SLUG}").get_data(as_text=True)
    assert "the server answered 500" in page and "from the last good fetch" in page
    assert count_talks(sessions) == 6

    # An editor may refresh but not change the mirror; a stranger sees nothing.
    post(owner, f"/organise/series/{SLUG}/people", {"email": "ed@example.org", "role": "editor"})
    with sessions() as session:
        found = accounts.by_email(session, "ed@example.org")
        assert found is not None
    editor = signed_in(web, found.id)
    assert "Change or stop" not in editor.get(f"/organise/series/{SLUG}").get_data(as_text=True)
    assert editor.get(url).status_code == 403
    state.status = 200
    again = editor.post(refresh, data={"csrf_token": csrf(editor, f"/organise/series/{SLUG}")})
    assert again.status_code == 302
    stranger = signed_in(web, organiser(sessions, "x@example.org"))
    assert stranger.get(url).status_code == 404
    home = {"csrf_token": csrf(stranger, "/organise")}
    assert stranger.post(refresh, data=home).status_code == 404
    stop = f"/organise/series/{SLUG}/mirror/stop"
    form = {"csrf_token": csrf(editor, f"/organise/series/{SLUG}")}
    assert editor.post(stop, data=form).status_code == 403
    owner.post(stop, data={"csrf_token": csrf(owner, url)})
    assert mirror_row(sessions) is None and count_talks(sessions) == 6


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")
def test_refresh_now_in_chromium(
    browser: Any,  # noqa: F811
    make_app: Callable[..., Flask],
    clock: FrozenClock,
    sessions: sessionmaker[Session],
    upstream: tuple[Upstream, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    state, base = upstream
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    app = make_app(clock=clock, base_url=root, mirror_allowed_networks=ALLOW)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    shots = Path(os.environ.get("EVENTFEED_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    try:
        client = signed_in(app, organiser(sessions, "owner@example.org"))
        make_series_via_form(client)
        post(client, f"/organise/series/{SLUG}/mirror", {"url": base + "/export.ics"})
        cookie = client.get_cookie("session")
        assert cookie is not None
        context = browser.new_context(timezone_id="Europe/Lisbon", locale="en-GB")
        context.add_cookies([{"name": "session", "value": cookie.value, "url": root}])
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.goto(f"{root}/organise/series/{SLUG}")
        page.get_by_role("button", name="Refresh now").focus()
        page.keyboard.press("Enter")
        page.get_by_text("Refreshed: ok").wait_for()
        assert page.get_by_text("Moving talk").count() == 1
        page.screenshot(path=str(shots / "mirror-ok.png"), full_page=True)
        state.body = SECOND
        clock.advance(timedelta(hours=1))
        page.get_by_role("button", name="Refresh now").click()
        page.get_by_text("1 cancelled").first.wait_for()
        state.status = 500
        page.get_by_role("button", name="Refresh now").click()
        page.get_by_text("from the last good fetch").wait_for()
        page.screenshot(path=str(shots / "mirror-error.png"), full_page=True)
        page.goto(f"{root}/organise/series/{SLUG}/mirror")
        page.screenshot(path=str(shots / "mirror-form.png"), full_page=True)
        assert problems == []
        context.close()
    finally:
        server.shutdown()
        server.server_close()
    with sessions() as session:
        assert store.get_event(session, "indico-event-102").status == "cancelled"
