"""Schedules in Chromium: the workshop timetable in two browser zones, on a phone too."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import demo, importer
from events.models import Event
from server import sample_data_path
from tests.web.test_pages_browser import CHROMIUM, SCREENSHOTS, browser, live_url

__all__ = ["browser", "live_url"]  # fixtures shared with the other browser tests

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")
WORKSHOP_ZONE = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def living(sessions: sessionmaker[Session]) -> Event:
    """Load the living demo data (today's clock); return the workshop with its items."""
    now = datetime.now(UTC)
    parsed = importer.parse_bytes(
        "demo", json.dumps(demo.document(sample_data_path(), now)).encode(), "json", now=now
    )
    with sessions() as session, session.begin():
        importer.apply(session, parsed, now, progress=False)
    with sessions() as session:
        workshop = session.scalars(select(Event).where(Event.kind == "workshop")).one()
        workshop.items  # noqa: B018  (load the items before the session closes)
        session.expunge_all()
        return workshop


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "Europe/Lisbon"])
def test_workshop_timetable_in_its_zone_then_the_browser_zone(
    browser: Any, live_url: str, living: Event, zone: str
) -> None:
    context = browser.new_context(timezone_id=zone, locale="en-GB")
    page = context.new_page()
    page.goto(f"{live_url}/events/{living.id}")
    page.wait_for_selector(f'body[data-viewer-zone="{zone}"]')
    first = living.items[0]
    rows = page.locator(".tt-item .tt-time")
    assert rows.count() == len(living.items) == 20
    assert rows.first.inner_text() == "08:30–08:40"  # the workshop's own zone first
    assert page.locator(".tt-item.kind-lunch .tt-time").inner_text() == "12:30–14:00"
    page.get_by_role("link", name="Show in your zone").click()
    page.wait_for_load_state("load")
    local = first.start_utc.astimezone(ZoneInfo(zone))
    assert rows.first.inner_text().startswith(f"{local:%H:%M}–")
    assert zone.split("/")[1] in page.locator(".zone-toggle").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"schedules-timetable-in-{zone.split('/')[1].lower()}.png"
    page.screenshot(path=str(shot), full_page=True)
    page.get_by_role("link", name="Show in the workshop's zone").click()
    page.wait_for_load_state("load")
    assert rows.first.inner_text() == "08:30–08:40"
    context.close()


def test_timetable_reads_on_a_phone_and_screenshots(
    browser: Any, live_url: str, living: Event
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone = browser.new_context(
        timezone_id="Europe/Lisbon", viewport={"width": 390, "height": 844}, device_scale_factor=1
    )
    page = phone.new_page()
    page.goto(f"{live_url}/events/{living.id}")
    page.wait_for_selector('body[data-viewer-zone="Europe/Lisbon"]')
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator(".timetable").screenshot(path=str(SCREENSHOTS / "schedules-timetable-phone.png"))
    phone.close()
    desk = browser.new_context(timezone_id="Europe/Lisbon", viewport={"width": 1280, "height": 900})
    page = desk.new_page()
    for name, path in [
        ("timetable", f"/events/{living.id}"),
        ("lisbon-tba", "/series/lisbon-ml-seminars"),
        ("beijing-sessions", "/series/ml-joint-seminar"),
    ]:
        page.goto(live_url + path)
        page.wait_for_selector('body[data-viewer-zone="Europe/Lisbon"]')
        page.screenshot(path=str(SCREENSHOTS / f"schedules-{name}.png"), full_page=True)
    assert page.locator("li.talk.is-block").count() >= 2
    # A session's own page: a block with two talks.
    blocks = page.locator("li.talk.is-block")
    pair = next(
        i for i in range(blocks.count()) if blocks.nth(i).locator(".block-item").count() > 1
    )
    blocks.nth(pair).locator("h3 a").click()
    page.wait_for_load_state("load")
    assert page.locator(".tt-item").count() >= 2
    page.screenshot(path=str(SCREENSHOTS / "schedules-session.png"), full_page=True)
    desk.close()
