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


# The workspace and the reader's own pages: (name, path, a text the page shows, per language).
OWN_PAGES = [
    ("workspace", "/organise", {"pt-PT": "Os seus ciclos", "zh-Hans": "您的系列"}),
    ("talk-form", f"/organise/talks/{TALK}", {"pt-PT": "Hora de início", "zh-Hans": "开始时间"}),
    (
        "new-talk",
        f"/organise/series/{SEMINAR}/talks/new",
        {"pt-PT": "Adicionar outro orador", "zh-Hans": "添加另一位报告人"},
    ),
    (
        "announce",
        f"/organise/talks/{TALK}/announce",
        {"pt-PT": "Nesta língua dos emails", "zh-Hans": "邮件语言"},
    ),
    (
        "series-settings",
        f"/organise/series/{SEMINAR}/settings",
        {"pt-PT": "Fuso horário", "zh-Hans": "时区"},
    ),
    (
        "subscribe",
        f"/series/{SEMINAR}/subscribe",
        {"pt-PT": "Receber emails", "zh-Hans": "接收邮件"},
    ),
    ("manage", "/manage/{token}", {"pt-PT": "A sua subscrição", "zh-Hans": "您的订阅"}),
    ("topic", "/topics/ml", {"pt-PT": "Próximas palestras", "zh-Hans": "即将举行的报告"}),
]


@pytest.fixture
def own_pages(site: tuple[Any, str], request: pytest.FixtureRequest) -> tuple[str, str]:
    """An owner of the Beijing seminar (their session cookie), a subscriber and a topic."""
    from sqlalchemy import select

    from events import accounts, topics
    from events.clock import SYSTEM_CLOCK
    from events.models import Series
    from mail import subscribers

    app = request.getfixturevalue("app")
    sessions = request.getfixturevalue("sessions")
    now = SYSTEM_CLOCK.now()
    with sessions() as session, session.begin():
        series = session.scalar(select(Series).where(Series.slug == SEMINAR))
        assert series is not None
        owner = accounts.set_role(session, series, "owner@example.org", "owner", now)
        reader = subscribers.add_confirmed(
            session, "reader@example.org", [SEMINAR], "Europe/Lisbon", now
        )
        topics.add_topic(session, "ml", "Machine learning", description="Learning from data.")
        owner_id, token = owner.id, reader.token
    client = app.test_client()
    with client.session_transaction() as held:
        held["organiser"] = {"id": owner_id, "epoch": 0}
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return cookie.value, token


@pytest.mark.parametrize("lang", ["pt-PT", "zh-Hans"])
def test_workspace_and_subscription_pages_without_sideways_scroll(
    site: tuple[Any, str], own_pages: tuple[str, str], lang: str
) -> None:
    """The workspace (its own base template), subscribe, manage and topic pages speak the
    browser's language, carry the switcher and `<html lang>`, and fit a phone's width."""
    chromium, root = site
    cookie, token = own_pages
    shots = Path(os.environ.get("EVENTFEED_SHOTS", str(SCREENSHOTS)))
    shots.mkdir(parents=True, exist_ok=True)
    sizes = [(390, 844, "phone")]
    if "EVENTFEED_SHOTS" in os.environ:
        sizes.append((1280, 900, "desktop"))
    for width, height, device in sizes:
        context = chromium.new_context(
            timezone_id="Europe/Lisbon",
            viewport={"width": width, "height": height},
            locale={"pt-PT": "pt-PT", "zh-Hans": "zh-CN"}[lang],
        )
        context.add_cookies([{"name": "session", "value": cookie, "url": root}])
        page = context.new_page()
        for name, path, texts in OWN_PAGES:
            answer = page.goto(root + path.format(token=token))
            assert answer is not None and answer.status == 200, f"{path}: {answer}"
            assert page.locator("html").get_attribute("lang") == lang
            assert texts[lang] in page.locator("main").inner_text(), f"{path} ({lang})"
            assert page.locator("nav.languages [aria-current]").inner_text() in (
                "Português",
                "中文",
            )
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            wide = page.evaluate(WIDE_ELEMENTS) if overflow > 0 else []
            assert overflow <= 0, f"{path} ({lang}) scrolls sideways by {overflow}px: {wide}"
            target = shots / f"{name}-{lang}-{device}.png"
            page.screenshot(path=str(target), full_page=device == "phone")
        context.close()


# The elements reaching past the viewport's right edge (for the failure message).
WIDE_ELEMENTS = """() => Array.from(document.querySelectorAll("body *"))
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 8).map(e => e.tagName + (e.id ? "#" + e.id : "") + "." + e.className + " "
    + Math.round(e.getBoundingClientRect().width) + "px")"""
