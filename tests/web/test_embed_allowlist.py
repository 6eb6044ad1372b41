"""The per-series embed allow-list (`embed_origins`): the embed's CSP names those origins
(default: any site), the workspace edits it with per-field errors, import/export/API carry
it; and in Chromium a page on an allowed second local port shows the embed while a page on
another port is refused."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from events import accounts, exporter, store, topics
from events.models import Event, Series
from tests.support.apiutil import bearer, issue_token
from tests.support.browsing import host_pages, serving
from tests.support.topical import day
from tests.web.test_organise import NOW, organiser, post, signed_in
from tests.web.test_pages_browser import CHROMIUM, CHROMIUM_ARGS

ALLOWED = ["https://math.example.edu", "http://127.0.0.1:8081"]


def _frame_ancestors(answer: Any) -> str:
    found = re.search(r"frame-ancestors ([^;]*)", answer.headers["Content-Security-Policy"])
    assert found is not None
    return found[1].strip()


def test_default_any_site_and_a_list_names_only_its_origins(
    client: FlaskClient,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    make_series(slug="open", name="Open seminar")
    make_series(slug="closed", name="Closed seminar", embed_origins=ALLOWED, topics=["numbers"])
    make_event(series="closed", id="c1", title="A closed talk", start=day(2), end="13:00")
    assert _frame_ancestors(client.get("/embed/series/open")) == "*"
    closed = client.get("/embed/series/closed")
    assert closed.status_code == 200 and "A closed talk" in closed.get_data(as_text=True)
    assert _frame_ancestors(closed) == " ".join(ALLOWED)
    assert "X-Frame-Options" not in closed.headers
    # Topic embeds gather many series: no per-series list applies.
    with sessions() as session, session.begin():
        topics.add_topic(session, "numbers", "Numbers")
    assert _frame_ancestors(client.get("/embed/topics/numbers")) == "*"
    topic_page = html.unescape(client.get("/topics/numbers").get_data(as_text=True))
    assert '<iframe src="https://events.example.org/embed/topics/numbers"' in topic_page
    assert "/assets/embed-host.js" in topic_page
    # Every other page of the series still refuses framing.
    page = client.get("/series/closed")
    assert _frame_ancestors(page) == "'none'" and page.headers["X-Frame-Options"] == "DENY"


def test_import_export_and_api_carry_the_list(
    client: FlaskClient, sessions: sessionmaker[Session], make_series: Callable[..., Series]
) -> None:
    make_series(slug="closed", name="Closed seminar", embed_origins=ALLOWED)
    with sessions() as session:
        text = exporter.export_series(session, ["closed"])
    assert yaml.safe_load(text)["series"][0]["embed_origins"] == ALLOWED
    answer = client.get("/api/v1/series/closed")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["embed_origins"] == ALLOWED
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "embed_origins" in str(spec)
    token = issue_token(sessions, "closed")
    url = "/api/v1/series/closed"
    match = {"If_Match": client.get(url).headers["ETag"]}
    bad = client.patch(url, json={"embed_origins": ["ftp://x.org"]}, headers=bearer(token, **match))
    assert bad.status_code == 422 and "embed_origins.0" in bad.get_data(as_text=True)
    good = client.patch(
        url, json={"embed_origins": ["HTTP://X.org:81/"]}, headers=bearer(token, **match)
    )
    assert good.status_code == 200, good.get_data(as_text=True)
    assert good.get_json()["embed_origins"] == ["http://x.org:81"]
    assert _frame_ancestors(client.get("/embed/series/closed")) == "http://x.org:81"


SETTINGS = "/organise/series/lisbon-ml/settings"
FIELDS = {
    "name": "Lisbon ML",
    "slug": "lisbon-ml",
    "timezone": "Europe/Lisbon",
    "language": "en",
    "visibility": "public",
    "attendance": "in_person",
    "meeting_access": "subscribers",
}


def test_workspace_field_validates_each_origin_and_keeps_topics(
    web: Flask, sessions: sessionmaker[Session], make_series: Callable[..., Series]
) -> None:
    make_series(slug="lisbon-ml", name="Lisbon ML", topics=["numbers", "analysis"])
    me = organiser(sessions, "ana@example.org")
    with sessions() as session, session.begin():
        series = store.get_series(session, "lisbon-ml")
        accounts.set_role(session, series, "ana@example.org", "owner", NOW)
    client = signed_in(web, me)
    form = client.get(SETTINGS).get_data(as_text=True)
    assert '<label for="embed_origins">Sites allowed to embed this schedule</label>' in form
    assert 'id="embed-code"' in form and "/embed/series/lisbon-ml" in form

    bad = post(client, SETTINGS, {**FIELDS, "embed_origins": "https://ok.org\nhttps://x.org/p"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'id="embed_origins-error"' in page and "&#39;https://x.org/p&#39;: an origin" in page
    assert 'href="#embed_origins"' in page  # the error summary links the field
    with sessions() as session:
        assert store.get_series(session, "lisbon-ml").embed_origins == []

    good = post(client, SETTINGS, {**FIELDS, "embed_origins": "HTTPS://Dept.Example.org/\n"})
    assert good.status_code == 302, good.get_data(as_text=True)
    with sessions() as session:
        saved = store.get_series(session, "lisbon-ml")
        assert saved.embed_origins == ["https://dept.example.org"]
        assert saved.topics == ["numbers", "analysis"]  # the form does not wipe them
    assert "https://dept.example.org" in client.get(SETTINGS).get_data(as_text=True)
    cleared = post(client, SETTINGS, {**FIELDS, "embed_origins": ""})
    assert cleared.status_code == 302
    assert _frame_ancestors(web.test_client().get("/embed/series/lisbon-ml")) == "*"


@pytest.fixture
def web(make_app: Callable[..., Flask]) -> Flask:
    """An app (the system clock: the embed lists upcoming talks)."""
    return make_app()


# --- in Chromium: an allowed and a refused host page ----------------------------------------

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def live_url(make_app: Callable[..., Flask]) -> Iterator[str]:
    with serving(lambda root: make_app(base_url=root)) as (_, root):
        yield root


@pytest.fixture
def hosts() -> Iterator[Callable[[str], str]]:
    """Start host servers (each its own origin), each serving the page given."""
    with host_pages() as start:
        yield start


def _host_page(embed: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host</title></head>'
        f'<body><h1>Department</h1><iframe id="embed" src="{embed}" title="Seminar" '
        'style="width: 500px; height: 300px"></iframe></body></html>'
    )


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")
def test_chromium_shows_the_embed_on_an_allowed_origin_only(
    live_url: str,
    hosts: Callable[[str], str],
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
    tmp_path: Path,
) -> None:
    embed = f"{live_url}/embed/series/closed?tz=UTC"
    allowed = hosts(_host_page(embed))
    refused = hosts(_host_page(embed))
    make_series(slug="closed", name="Closed seminar", embed_origins=[allowed])
    make_event(series="closed", id="c1", title="A framed talk", start=day(2), end="13:00")
    shots = Path(os.environ.get("EVENTFEED_SHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        policies: list[str] = []
        console: list[str] = []
        page.on(
            "response",
            lambda r: (
                policies.append(r.headers.get("content-security-policy", ""))
                if "/embed/series/" in r.url
                else None
            ),
        )
        page.on("console", lambda m: console.append(m.text))

        page.goto(allowed)
        frame = page.frame_locator("#embed")
        frame.locator(".embed-talk").first.wait_for()
        assert "A framed talk" in frame.locator(".embed-talk").first.inner_text()
        assert f"frame-ancestors {allowed}" in policies[-1]
        page.screenshot(path=str(shots / "embed-allowed-origin.png"))

        page.goto(refused)
        page.wait_for_function(
            "() => document.getElementById('embed').contentWindow !== null", timeout=5000
        )
        page.wait_for_timeout(500)  # let the (refused) frame settle
        handle = page.locator("#embed").element_handle()
        inner = handle.content_frame() if handle is not None else None
        assert inner is not None
        assert inner.url.startswith("chrome-error") or inner.locator(".embed-talk").count() == 0
        assert f"frame-ancestors {allowed}" in policies[-1] and refused not in policies[-1]
        assert any("frame-ancestors" in text for text in console), console
        page.screenshot(path=str(shots / "embed-refused-origin.png"))
        browser.close()
