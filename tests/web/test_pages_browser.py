"""The web pages in a real browser: Debian's headless Chromium driven by Playwright.

The app is served by a werkzeug server thread on 127.0.0.1; the browser's own timezone is
set per context, so these tests see what a visitor in Lisbon or New York sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from events import importer
from events.models import Event
from feeds.links import Links
from server import sample_data_path
from tests.conftest import BASE_URL
from tests.support.browsing import serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SEMINAR = "ml-joint-seminar"
TALK = "2021-11-27-wang"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """Serve `app` from a real HTTP server thread on 127.0.0.1 and return its root URL."""
    with serving(lambda _: app) as (_, root):
        yield root


@pytest.fixture
def sample(sessions: sessionmaker[Session]) -> None:
    """Load the shipped sample data."""
    importer.import_files(sessions, [sample_data_path()], progress=False)


def _talk_times(page: Any, event_id: str) -> list[str]:
    item = page.locator("li.talk").filter(has=page.locator(f'a[href="/events/{event_id}"]'))
    texts: list[str] = item.locator(".zt").all_inner_texts()
    return texts


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Europe/Lisbon", "Sat 27 Nov 2021, 01:30–03:30 Lisbon time (UTC+00:00)"),
        ("America/New_York", "Fri 26 Nov 2021, 20:30–22:30 New York time (UTC-05:00)"),
    ],
)
def test_times_follow_the_browser_zone(
    browser: Any, live_url: str, sample: None, zone: str, expected: str
) -> None:
    """The Beijing-time seminar shows its 09:30 talk at the visitor's local time too."""
    context = browser.new_context(timezone_id=zone, locale="en-GB")
    page = context.new_page()
    loads: list[str] = []
    page.on(
        "request", lambda req: loads.append(req.url) if req.resource_type == "document" else None
    )
    page.goto(f"{live_url}/series/{SEMINAR}")
    page.wait_for_selector(f'body[data-viewer-zone="{zone}"]')
    page.wait_for_load_state("load")
    assert len(loads) == 2  # the first render, then exactly one reload with the zone cookie
    assert _talk_times(page, TALK) == [
        "Sat 27 Nov 2021, 09:30–11:30 Beijing time (UTC+08:00)",
        expected,
    ]
    assert context.cookies()[0]["value"] == zone
    page.goto(f"{live_url}/events/{TALK}")
    page.wait_for_load_state("load")
    assert len(loads) == 3  # the cookie is set: no more reloads
    when = page.locator(".facts .times .zt").all_inner_texts()
    assert when == ["Sat 27 Nov 2021, 09:30–11:30 Beijing time (UTC+08:00)", expected]
    context.close()


def test_copy_button_copies_the_feed_address(browser: Any, live_url: str, sample: None) -> None:
    """The subscribe box's copy button puts the https:// calendar address on the clipboard."""
    context = browser.new_context(timezone_id="Europe/Lisbon")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_url)
    page = context.new_page()
    page.goto(f"{live_url}/series/{SEMINAR}")
    page.get_by_role("button", name="Copy", exact=True).click()
    page.wait_for_selector("text=Address copied to the clipboard.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == Links(BASE_URL).series_feed(SEMINAR, "ics")
    assert copied.startswith("https://")
    webcal = page.get_by_role("link", name="Add to Apple, Outlook or Thunderbird")
    assert webcal.get_attribute("href") == "webcal://events.example.org/series/ml-joint-seminar.ics"
    context.close()


def test_script_payload_in_an_abstract_runs_nothing(
    browser: Any, live_url: str, make_event: Callable[..., Event]
) -> None:
    """Script tags, event handlers and javascript: links in user text never run."""
    make_event(
        id="xss",
        title="<script>window.pwned = 'title'</script>Safe title",
        speakers=[{"name": "<img src=x onerror=\"window.pwned='speaker'\">Eve"}],
        abstract=(
            "<script>window.pwned = 'script'; alert(1)</script>\n\n"
            "<img src=x onerror=\"window.pwned = 'img'; alert(2)\">\n\n"
            "[click](javascript:window.pwned='link') and $x^2$"
        ),
    )
    context = browser.new_context(timezone_id="Europe/Lisbon")
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{live_url}/events/xss")
    page.wait_for_load_state("load")
    assert page.locator('a[href^="javascript"]').count() == 0
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert dialogs == []
    assert page.locator(".abstract script, .abstract img").count() == 0
    assert page.locator(".abstract math").count() == 1
    assert "<script>window.pwned = 'title'</script>Safe title" in page.locator("h1").inner_text()
    context.close()


@pytest.mark.parametrize(("width", "height", "name"), [(1280, 900, "desktop"), (390, 844, "phone")])
def test_screenshots_without_horizontal_scroll(
    browser: Any, live_url: str, sample: None, width: int, height: int, name: str
) -> None:
    """Save screenshots of home, series and talk pages; none scrolls sideways."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        timezone_id="Europe/Lisbon", viewport={"width": width, "height": height}
    )
    page = context.new_page()
    for page_name, path in [
        ("home", "/"),
        ("series", f"/series/{SEMINAR}"),
        ("talk", f"/events/{TALK}"),
        ("talk-en", "/events/2027-03-04-urbano-1"),
    ]:
        page.goto(live_url + path)
        page.wait_for_selector('body[data-viewer-zone="Europe/Lisbon"]')
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width}px"
        target = SCREENSHOTS / f"{page_name}-{name}.png"
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 10_000
    context.close()
