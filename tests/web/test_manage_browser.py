"""The management page in Debian's Chromium: by keyboard with the script, by a plain form post
without it, under the site's CSP; screenshots go to tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import topics
from events.clock import SYSTEM_CLOCK
from events.models import Subscriber
from mail import subscribers
from tests.web.test_pages_browser import (  # noqa: F401  (fixtures, asked for by name)
    CHROMIUM,
    SEMINAR,
    browser,
    live_url,
    sample,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")


@pytest.fixture
def site(request: pytest.FixtureRequest, sessions: sessionmaker[Session]) -> tuple[Any, str]:
    """Chromium and the management page URL of a confirmed Lisbon reader of the seminar."""
    request.getfixturevalue("sample")
    with sessions() as session, session.begin():
        found = subscribers.add_confirmed(
            session, "reader@example.org", [SEMINAR], "Europe/Lisbon", SYSTEM_CLOCK.now()
        )
        token = found.token
    root = request.getfixturevalue("live_url")
    return request.getfixturevalue("browser"), f"{root}/manage/{token}"


def saved(sessions: sessionmaker[Session]) -> tuple[str, str, int, bool]:
    """Return the reader's (zone, frequency, reminder hours, cancellations)."""
    with sessions() as session:
        subscriber = session.scalars(select(Subscriber)).one()
        sub = subscriber.subscriptions[0]
        return subscriber.timezone, sub.frequency, sub.reminder_hours, sub.cancellations


def tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the focus")


def test_manage_page_by_keyboard_takes_the_devices_zone(
    site: tuple[Any, str], sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    chromium, url = site
    context = chromium.new_context(
        timezone_id="Asia/Shanghai", viewport={"width": 900, "height": 1300}
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))
    page.goto(url)
    page.wait_for_load_state("load")
    tab_to(page, "#timezone")
    page.keyboard.press("Tab")  # the suggestion button the script added after the field
    assert page.evaluate("document.activeElement.textContent").startswith("Use Asia/Shanghai")
    page.keyboard.press("Enter")
    tab_to(page, f"input[name='frequency-{SEMINAR}']:checked")
    page.keyboard.press("ArrowDown")  # every announcement → daily digest
    tab_to(page, f"#reminder-{SEMINAR}")
    page.keyboard.press("ArrowUp")  # 1 day → 1 hour
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # untick "Tell me when a talk is cancelled"
    page.screenshot(path=str(tmp_path / "manage-keyboard.png"), full_page=True)
    tab_to(page, "button[value='save']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Saved." in page.content()
    page.screenshot(path=str(tmp_path / "manage-saved.png"), full_page=True)
    assert saved(sessions) == ("Asia/Shanghai", "daily", 1, False)
    assert errors == []
    context.close()


def test_manage_page_without_javascript_posts_the_form(
    site: tuple[Any, str], sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    chromium, url = site
    context = chromium.new_context(java_script_enabled=False, timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.goto(url)
    assert page.locator(".zone-suggestion").count() == 0
    page.get_by_label("A weekly digest of new and changed talks (Mondays)").check()
    page.get_by_label("Reminder before each talk").select_option("0")
    page.screenshot(path=str(tmp_path / "manage-nojs.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    assert saved(sessions) == ("Europe/Lisbon", "weekly", 0, True)
    with page.expect_navigation():
        page.get_by_role("button", name="Pause all emails").click()
    assert "all emails paused" in page.content()
    with page.expect_navigation():
        page.get_by_role("button", name="Resume emails").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Unsubscribe from Joint Seminar").click()
    assert "You no longer follow" in page.content()
    with sessions() as session:
        assert session.scalars(select(Subscriber)).one().subscriptions == []
    context.close()


def test_topic_page_get_emails_by_keyboard_then_the_same_manage_page(
    site: tuple[Any, str], sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    chromium, url = site
    root = url.split("/manage/")[0]
    with sessions() as session, session.begin():
        topics.add_topic(session, "ml", "Machine learning")
    context = chromium.new_context(timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.goto(f"{root}/topics/ml")
    with page.expect_navigation():
        page.get_by_role("link", name="Get emails").click()
    assert page.locator("#timezone").input_value() == "Asia/Shanghai"  # from site.js
    tab_to(page, "#email")
    page.keyboard.type("topic-reader@example.org")
    tab_to(page, "input[name='frequency']:checked")
    page.keyboard.press("ArrowDown")  # each new talk → daily digest
    page.screenshot(path=str(tmp_path / "topic-subscribe.png"), full_page=True)
    tab_to(page, "button[type='submit']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Check your inbox" in page.content()
    with sessions() as session, session.begin():
        reader = session.scalars(
            select(Subscriber).where(Subscriber.email == "topic-reader@example.org")
        ).one()
        assert [(s.key, s.frequency) for s in reader.subscriptions] == [("topic:ml", "daily")]
        reader.confirmed_at = reader.subscriptions[0].confirmed_at = SYSTEM_CLOCK.now()
        token = reader.token
    page.goto(f"{root}/manage/{token}")
    assert page.get_by_label("A daily digest of new and changed talks").first.is_checked()
    page.screenshot(path=str(tmp_path / "topic-manage.png"), full_page=True)
    context.close()


def _subscription(sessions: sessionmaker[Session], email: str) -> tuple[str, int, bool, bool]:
    """Return the (frequency, reminder hours, cancellations, confirmed) asked for by `email`."""
    with sessions() as session:
        reader = session.scalars(select(Subscriber).where(Subscriber.email == email)).one()
        (sub,) = reader.subscriptions
        return sub.frequency, sub.reminder_hours, sub.cancellations, sub.confirmed_at is not None


def test_series_subscribe_form_by_keyboard_offers_each_subscriptions_choices(
    site: tuple[Any, str], sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    chromium, url = site
    root = url.split("/manage/")[0]
    context = chromium.new_context(
        timezone_id="Asia/Shanghai", viewport={"width": 900, "height": 1200}
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))
    page.goto(f"{root}/series/{SEMINAR}/subscribe")
    assert page.locator("#timezone").input_value() == "Asia/Shanghai"  # from site.js
    # the defaults: every announcement, a day ahead, cancellations told
    assert page.get_by_label("Every announcement: an email for each new talk").is_checked()
    assert page.get_by_label("Reminder before each talk").input_value() == "24"
    assert page.get_by_label("Tell me when a talk is cancelled").is_checked()
    tab_to(page, "#email")
    page.keyboard.type("keyboard-reader@example.org")
    tab_to(page, "input[name='frequency']:checked")
    page.keyboard.press("ArrowDown")  # every announcement → daily digest
    page.keyboard.press("ArrowDown")  # → weekly digest
    tab_to(page, "#reminder_hours")
    page.keyboard.press("ArrowUp")  # 1 day → 1 hour
    tab_to(page, "input[name='cancellations']")
    page.keyboard.press("Space")  # untick cancellations
    page.screenshot(path=str(tmp_path / "series-subscribe.png"), full_page=True)
    tab_to(page, "button[type='submit']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Check your inbox" in page.content()
    assert _subscription(sessions, "keyboard-reader@example.org") == ("weekly", 1, False, False)
    with sessions() as session:
        reader = session.scalars(
            select(Subscriber).where(Subscriber.email == "keyboard-reader@example.org")
        ).one()
        signed = subscribers.confirmation_token(reader)
    page.goto(f"{root}/subscriptions/confirm/{signed}")
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, send me these emails").click()
    assert "Subscription confirmed." in page.content()
    page.screenshot(path=str(tmp_path / "series-confirmed.png"), full_page=True)
    assert _subscription(sessions, "keyboard-reader@example.org") == ("weekly", 1, False, True)
    assert errors == []
    context.close()


def test_series_subscribe_form_without_javascript(
    site: tuple[Any, str], sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    chromium, url = site
    root = url.split("/manage/")[0]
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{root}/series/{SEMINAR}/subscribe")
    page.get_by_label("Email address").fill("plain-reader@example.org")
    page.get_by_label("Your timezone").fill("Europe/Lisbon")
    page.get_by_label("Daily digest of new and changed talks").check()
    page.get_by_label("Reminder before each talk").select_option("0")
    page.screenshot(path=str(tmp_path / "series-subscribe-nojs.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Get emails").click()
    assert "Check your inbox" in page.content()
    assert _subscription(sessions, "plain-reader@example.org") == ("daily", 0, True, False)
    context.close()
