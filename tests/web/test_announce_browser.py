"""Announce in real headless Chromium (Debian's): preview in two zones, send, watch delivery.

The email is caught by an SMTP server on loopback; the delivery counts refresh by polling.
Screenshots go to EVENTFEED_SHOTS when set.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from events import importer
from events.db import transaction
from mail import sender, subscribers
from tests.support.browsing import owner_signin, sign_in, watch
from tests.support.mailtools import SmtpServer, text_part
from tests.web.test_announce import personal
from tests.web.test_history_browser import site  # noqa: F401  (fixture by name)
from tests.web.test_organise_browser import shot
from tests.web.test_pages_browser import CHROMIUM, browser  # noqa: F401  (fixture by name)
from web.context import state

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")

SLUG = "kyoto-topology"


def test_announce_preview_in_two_zones_then_send_in_chromium(
    browser: Any,  # noqa: F811  (the fixture)
    site: tuple[Flask, str],  # noqa: F811  (the fixture)
    sessions: sessionmaker[Session],
    write_file: Callable[[str, str | bytes], Path],
    smtp: SmtpServer,
    html_checker: Any,
) -> None:
    app, root = site
    talk = {"id": "k1", "title": "Knots", "start": "2031-05-01 15:00", "end": "16:00"}
    data = {"series": [{"slug": SLUG, "name": "Kyoto topology", "timezone": "Asia/Tokyo"}]}
    data["series"][0]["events"] = [{**talk, "speakers": [{"name": "Mei Sato"}]}]  # type: ignore[index]
    importer.import_files(sessions, [write_file("k.yaml", yaml.safe_dump(data))])
    now = datetime.now(UTC)
    token = owner_signin(sessions, SLUG, "mei@example.org", now)
    with transaction(sessions) as session:
        subscribers.add_confirmed(session, "ana@example.org", [SLUG], "America/New_York", now)
    problems: list[str] = []
    context = browser.new_context(locale="en-GB", timezone_id="America/New_York")
    page = context.new_page()
    watch(page, problems)
    sign_in(page, root, token)
    page.goto(f"{root}/organise/talks/k1")
    page.get_by_role("link", name="Announce…").click()
    zone = page.get_by_label("Also show it as a subscriber in this zone gets it")
    expect(zone).to_have_value("America/New_York")  # the browser's zone, once announce.js ran
    page.get_by_role("button", name="Show").click()
    page.get_by_role("heading", name="A subscriber in America/New_York").wait_for()
    html_checker.assert_valid(page.content(), "announce")
    frame = page.frame_locator('iframe[title="HTML version for America/New_York"]')
    frame.get_by_text("Knots").first.wait_for()
    page.frame_locator('iframe[title="HTML version for Asia/Tokyo"]').get_by_text(
        "Knots"
    ).first.wait_for()
    subject = page.locator("#subject-2").inner_text()
    assert "15:00" in page.locator("#text-1").text_content()  # type: ignore[operator]
    text = page.locator("#text-2").text_content()
    page.locator('iframe[title="HTML version for America/New_York"]').scroll_into_view_if_needed()
    shot(page, "announce-preview")
    page.get_by_role("button", name="Send now").click()
    page.get_by_text("Queued for 1 subscriber.").wait_for()
    assert page.locator("#count-queued").inner_text() == "1"
    settings = state(app).settings.model_copy(update={"smtp_url": smtp.url})
    assert sender.send_batch(sessions, settings, progress=False).sent == 1
    page.locator("#count-sent", has_text="1").wait_for(timeout=10_000)  # polled, no reload
    assert page.locator("#count-queued").inner_text() == "0"
    shot(page, "announce-sent")
    (delivered,) = smtp.inbox.to("ana@example.org")
    assert str(delivered["Subject"]) == subject
    delivered_text = personal(text_part(delivered), sessions, "ana@example.org")
    assert delivered_text.replace("\r\n", "\n") == text  # HTML parsing makes CRLF LF
    assert problems == []
