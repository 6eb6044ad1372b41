"""The embeddable schedule: framing rules, options, no cookies; and in Chromium, embedded in a
page of another origin (a second local port) from the series page's own snippet: it renders
in the viewer's zone, resizes to its content, and that origin can fetch public feeds (CORS)
but not personal ones, nor frame any other page."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from events.models import Event
from mail import subscribers
from tests.conftest import BASE_URL
from tests.support.browsing import host_pages, serving
from tests.support.topical import day
from tests.web.test_pages_browser import CHROMIUM, CHROMIUM_ARGS

SHOTS = Path("/work/notes/shots/19")


@pytest.fixture
def schedule(make_event: Callable[..., Event]) -> None:
    for n in range(1, 7):
        make_event(
            id=f"next-{n}",
            title=f"Talk number {n} on viscosity solutions",
            speakers=[{"name": f"Speaker {n}"}],
            start=day(n, "12:00"),
            end=day(n, "13:00"),
            status="cancelled" if n == 2 else "confirmed",
        )


def test_embed_may_be_framed_and_sets_no_cookie(client: FlaskClient, schedule: None) -> None:
    answer = client.get("/embed/series/lisbon-ml?tz=Asia/Tokyo")
    assert answer.status_code == 200
    assert "frame-ancestors *" in answer.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in answer.headers
    assert "Set-Cookie" not in answer.headers
    page = answer.get_data(as_text=True)
    assert "Times in Japan" in page or "Asia/Tokyo" in page
    assert page.count('<li class="embed-talk') == 6
    assert 'target="_blank"' in page and "site-header" not in page
    assert "embed.js" in page and "site.js" not in page


@pytest.mark.parametrize("path", ["/", "/series/lisbon-ml", "/events/next-1", "/search?q=x"])
def test_every_other_page_refuses_framing(client: FlaskClient, schedule: None, path: str) -> None:
    answer = client.get(path)
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


def test_embed_options(client: FlaskClient, schedule: None) -> None:
    dark = client.get("/embed/series/lisbon-ml?theme=dark&accent=C0FFEE&limit=2")
    page = dark.get_data(as_text=True)
    assert 'class="embed theme-dark"' in page and "--accent: #c0ffee" in page
    assert page.count('<li class="embed-talk') == 2 and "All talks and subscribe" in page
    odd = client.get("/embed/series/lisbon-ml?theme=neon&accent=red;x:url(y)&limit=x&tz=Mars/Base")
    page = odd.get_data(as_text=True)
    assert odd.status_code == 200 and "theme-auto" in page and "url(y)" not in page
    assert "Times in each talk’s own zone" in page
    assert client.get("/embed/series/no-such").status_code == 404


def test_series_page_offers_the_snippet(client: FlaskClient, schedule: None) -> None:
    page = client.get("/series/lisbon-ml").get_data(as_text=True)
    found = re.search(r'<textarea id="embed-code"[^>]*>(.*?)</textarea>', page, re.S)
    assert found is not None
    snippet = html.unescape(found[1])
    assert f'<iframe src="{BASE_URL}/embed/series/lisbon-ml"' in snippet
    assert f'<script src="{BASE_URL}/assets/embed-host.js" async></script>' in snippet


# --- in Chromium, on another origin -------------------------------------------------------

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def live_url(make_app: Callable[..., Flask]) -> Iterator[str]:
    """Serve an app whose base URL is its own address (the snippet must point at it)."""
    with serving(lambda root: make_app(base_url=root)) as (_, root):
        yield root


def host_page(snippet: str, app_url: str, token: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Department</title>
<style>body {{ font-family: sans-serif; background: #fafafa; }} .col {{ width: 520px; }}</style>
</head><body><h1>Department of Mathematics</h1><div class="col">
<h2>Our seminar</h2>
{snippet}
<h2>Framing another page</h2>
<iframe id="other" src="{app_url}/series/lisbon-ml" title="not embeddable"></iframe>
<pre id="cors">pending</pre><pre id="personal">pending</pre>
</div>
<script>
fetch("{app_url}/series/lisbon-ml.json").then(r => r.json())
  .then(j => {{ document.getElementById("cors").textContent = "items " + j.items.length; }})
  .catch(e => {{ document.getElementById("cors").textContent = "blocked"; }});
fetch("{app_url}/s/{token}.ics").then(r => r.text())
  .then(t => {{ document.getElementById("personal").textContent = "read"; }})
  .catch(e => {{ document.getElementById("personal").textContent = "blocked"; }});
</script></body></html>"""


@pytest.fixture
def host_url() -> Iterator[Callable[[str], str]]:
    """A second local server (another origin) serving the host page given."""
    with host_pages() as start:
        yield lambda page: start(page) + "/"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")
def test_embed_in_a_page_of_another_origin(
    live_url: str,
    host_url: Callable[[str], str],
    schedule: None,
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, session.begin():
        token = subscribers.add_confirmed(
            session, "r@example.org", ["lisbon-ml"], "UTC", datetime.now(UTC)
        ).token
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(
            timezone_id="Asia/Tokyo", viewport={"width": 900, "height": 1400}
        )
        page = context.new_page()
        page.goto(f"{live_url}/series/lisbon-ml")
        snippet = page.locator("#embed-code").input_value()
        context.clear_cookies()  # the series page remembered the zone; the embed must not
        url = host_url(host_page(snippet, live_url, token))
        page.goto(url)
        frame = page.frame_locator("iframe[data-eventfeed-embed]")
        frame.locator(".embed-talk").first.wait_for()
        # The frame asked for the browser's zone (no cookie) and shows Tokyo times.
        assert "Asia/Tokyo" in frame.locator(".embed-zone").inner_text()
        assert frame.locator(".embed-talk").count() == 6
        # Resized to its content by the host script (the snippet says 420px).
        iframe = page.locator("iframe[data-eventfeed-embed]")
        page.wait_for_function(
            "() => document.querySelector('iframe[data-eventfeed-embed]').style.height !== '420px'"
        )
        inner = frame.locator("html").evaluate("e => Math.ceil(e.getBoundingClientRect().height)")
        box = iframe.bounding_box()
        assert box is not None and abs(box["height"] - inner) <= 2 and inner > 420
        # CORS: the public feed is readable from this origin, the personal one is not.
        page.wait_for_function("() => document.getElementById('cors').textContent !== 'pending'")
        page.wait_for_function(
            "() => document.getElementById('personal').textContent !== 'pending'"
        )
        assert page.locator("#cors").inner_text() == "items 6"
        assert page.locator("#personal").inner_text() == "blocked"
        # Any other page refuses to be framed.
        handle = page.locator("#other").element_handle()
        other = handle.content_frame() if handle is not None else None
        assert other is not None
        assert other.url.startswith("chrome-error") or other.locator("h1").count() == 0
        assert context.cookies(live_url) == []
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "embed-in-host-page.png"), full_page=True)
        context.close()
        browser.close()
