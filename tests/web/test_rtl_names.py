"""Right-to-left names (Arabic, Hebrew) on Portuguese and Chinese pages: each name, title and
affiliation is isolated (`<bdi>`, `dir="auto"`), so it neither reorders nor swallows the
punctuation and names around it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from events.models import Event, Series
from tests.web.test_pages_browser import (  # noqa: F401  (fixtures, asked for by name)
    CHROMIUM,
    SCREENSHOTS,
    browser,
    live_url,
)

ARABIC_NAME = "عمر الخيام"
ARABIC_PLACE = "جامعة القاهرة"
HEBREW_NAME = "דוד לוי"
HEBREW_TITLE = "על מספרים ראשוניים"
SERIES = "rtl"


@pytest.fixture
def rtl_talk(make_series: Callable[..., Series], make_event: Callable[..., Event]) -> None:
    """A Portuguese series with a Hebrew organiser and a talk by an Arabic speaker."""
    make_series(
        slug=SERIES,
        name="Seminário de Teoria dos Números",
        timezone="Europe/Lisbon",
        language="pt-PT",
        organisers=[HEBREW_NAME, "Ana Silva"],
    )
    make_event(
        SERIES,
        id="rtl-talk",
        title=HEBREW_TITLE,
        speakers=[
            {"name": ARABIC_NAME, "affiliation": ARABIC_PLACE},
            {"name": "Maria Costa", "affiliation": "IST Lisboa"},
        ],
        start="2030-03-13 09:30",
        end="2030-03-13 11:00",
    )


@pytest.mark.parametrize("lang", ["pt", "zh"])
def test_rtl_names_are_isolated_on_every_page(
    app: Flask, rtl_talk: None, lang: str, html_checker: Any
) -> None:
    client = app.test_client()
    talk = client.get("/events/rtl-talk", query_string={"lang": lang}).get_data(as_text=True)
    series = client.get(f"/series/{SERIES}", query_string={"lang": lang}).get_data(as_text=True)
    home = client.get("/", query_string={"lang": lang}).get_data(as_text=True)
    for name, html in (("talk", talk), ("series", series), ("home", home)):
        html_checker.assert_valid(html, f"{name} page ({lang}) with right-to-left names")
        assert f"<bdi>{ARABIC_NAME}</bdi>" in html, name
        assert f"<bdi>{ARABIC_PLACE}</bdi>" in html, name
    assert f'dir="auto">{HEBREW_TITLE}</span>' in talk
    assert f'dir="auto">{HEBREW_TITLE}</a>' in series and f'dir="auto">{HEBREW_TITLE}</a>' in home
    assert f"<bdi>{HEBREW_NAME}</bdi>, <bdi>Ana Silva</bdi>" in series


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")
@pytest.mark.parametrize("lang", ["pt-PT", "zh-Hans"])
def test_rtl_names_keep_their_place_in_chromium(
    request: pytest.FixtureRequest, rtl_talk: None, lang: str
) -> None:
    """In the speakers' line the Arabic name comes first (left, in a left-to-right page),
    then its affiliation in parentheses, then the next speaker: without isolation the name
    and affiliation would form one right-to-left run and swap places."""
    chromium, root = request.getfixturevalue("browser"), request.getfixturevalue("live_url")
    context = chromium.new_context(viewport={"width": 390, "height": 844}, locale=lang)
    page = context.new_page()
    page.goto(f"{root}/series/{SERIES}")
    line = page.locator("li.talk p.speakers").first
    name = line.locator("bdi", has_text=ARABIC_NAME).bounding_box()
    place = line.locator("bdi", has_text=ARABIC_PLACE).bounding_box()
    other = line.locator("bdi", has_text="Maria Costa").bounding_box()
    assert name and place and other
    if abs(name["y"] - place["y"]) < 4:  # on one line: reading order left to right
        assert name["x"] < place["x"], (name, place)
    if abs(place["y"] - other["y"]) < 4:
        assert place["x"] < other["x"], (place, other)
    page.goto(f"{root}/events/rtl-talk")
    heading = page.locator("h1 span[dir=auto]")
    assert heading.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert page.locator("html").evaluate("e => getComputedStyle(e).direction") == "ltr"
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    shots = Path(os.environ.get("EVENTFEED_SHOTS", str(SCREENSHOTS)))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"rtl-talk-{lang}-phone.png"), full_page=True)
    context.close()
