"""Home, series and talk pages in English, Portuguese and Chinese, in Debian's Chromium.

Long Portuguese strings and CJK text must not break the layout: no page scrolls sideways on
a phone. Screenshots go to test-artifacts/screenshots/; with $EVENTFEED_SHOTS set, to that
folder, desktop ones too:
`EVENTFEED_SHOTS=/tmp/shots bash scripts/test tests/web/test_languages_browser.py`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_pages_browser import (  # noqa: F401  (fixtures, asked for by name)
    CHROMIUM,
    SCREENSHOTS,
    SEMINAR,
    TALK,
    browser,
    live_url,
    sample,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")


@pytest.fixture
def site(request: pytest.FixtureRequest) -> tuple[Any, str]:
    """The browser page tests' Chromium and live server, with the sample data loaded."""
    request.getfixturevalue("sample")
    return request.getfixturevalue("browser"), request.getfixturevalue("live_url")


PAGES = [("home", "/"), ("series", f"/series/{SEMINAR}"), ("talk", f"/events/{TALK}")]
HEADINGS = {"en": "Upcoming talks", "pt-PT": "Próximas palestras", "zh-Hans": "即将举行的报告"}


@pytest.mark.parametrize("lang", ["en", "pt-PT", "zh-Hans"])
def test_pages_in_each_language_without_sideways_scroll(site: tuple[Any, str], lang: str) -> None:
    chromium, root = site
    shots = Path(os.environ.get("EVENTFEED_SHOTS", str(SCREENSHOTS)))
    shots.mkdir(parents=True, exist_ok=True)
    sizes = [(390, 844, "phone")]  # where long strings break layouts
    if "EVENTFEED_SHOTS" in os.environ:  # screenshots for a review: the desktop too
        sizes.append((1280, 900, "desktop"))
    for width, height, device in sizes:
        context = chromium.new_context(
            timezone_id="Europe/Lisbon",
            viewport={"width": width, "height": height},
            locale={"en": "en-GB", "pt-PT": "pt-PT", "zh-Hans": "zh-CN"}[lang],
        )
        page = context.new_page()
        for name, path in PAGES:
            # The browser's own Accept-Language picks the language: no ?lang= needed.
            page.goto(root + path)
            page.wait_for_selector('body[data-viewer-zone="Europe/Lisbon"]')
            assert page.locator("html").get_attribute("lang") == lang
            if name != "talk":
                assert HEADINGS[lang] in page.locator("main").inner_text()
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} ({lang}) scrolls sideways by {overflow}px at {width}px"
            target = shots / f"{name}-{lang}-{device}.png"
            page.screenshot(path=str(target), full_page=device == "phone")
            assert target.stat().st_size > 10_000
        context.close()


def test_switcher_works_without_javascript(site: tuple[Any, str]) -> None:
    chromium, root = site
    context = chromium.new_context(java_script_enabled=False, locale="en-GB")
    page = context.new_page()
    page.goto(f"{root}/series/{SEMINAR}")
    page.locator("nav.languages").get_by_role("link", name="中文").click()
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    page.locator("nav.languages").get_by_role("link", name="Português").click()
    assert page.locator("html").get_attribute("lang") == "pt-PT"
    page.goto(f"{root}/events/{TALK}")  # the cookie keeps the choice
    assert page.locator("html").get_attribute("lang") == "pt-PT"
    context.close()
