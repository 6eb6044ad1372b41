"""The organiser workspace in real headless Chromium (Debian's), from the sign-in email on.

One browser session walks the whole flow a newcomer takes: ask for a sign-in link, catch it
on a real SMTP server (aiosmtpd on loopback, delivered by the real sender), follow it,
create a Europe/Lisbon series, add a talk at 09:30 Beijing time and publish it, then find
it at the right instant in the series .ics (parsed by ical.js) and on the public page seen
from New York. On the way: the DST gap and overlap answers, a draft nobody else sees, the
stale-edit conflict, keyboard use, and every page valid HTML with no CSP violation.
Fields are found by their visible labels. Screenshots go to EVENTFEED_SHOTS when set.
"""

from __future__ import annotations

import os
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from mail import sender
from tests.support.browsing import serving
from tests.support.mailtools import SmtpServer, text_part
from tests.support.parsers import icaljs
from tests.web.test_pages_browser import CHROMIUM, browser  # noqa: F401  (fixture by name)
from web.context import state
from web.pages import rich_text

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")

SHOTS = os.environ.get("EVENTFEED_SHOTS")
EMAIL = "ana@example.org"


@pytest.fixture
def site(make_app: Callable[..., Flask], smtp: SmtpServer) -> Iterator[tuple[Flask, str]]:
    """The app served on 127.0.0.1 (its base URL is that address, as links in emails are)."""
    mail_from = "EventFeed <noreply@example.org>"
    with serving(
        lambda root: make_app(base_url=root, smtp_url=smtp.url, mail_from=mail_from)
    ) as served:
        yield served


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot when EVENTFEED_SHOTS names a folder."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def fetch(url: str) -> bytes:
    """GET a URL as a feed reader would (no cookies)."""
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310  (loopback http)
        body: bytes = answer.read()
        return body


def fill_talk(page: Any, **values: str) -> None:
    """Fill talk form fields by their labels."""
    for label, value in values.items():
        page.get_by_label(label, exact=True).fill(value)


def test_an_organiser_publishes_a_beijing_talk_in_a_lisbon_series(
    browser: Any,  # noqa: F811  (the fixture)
    site: tuple[Flask, str],
    smtp: SmtpServer,
    sessions: sessionmaker[Session],
    html_checker: Any,
) -> None:
    app, root = site
    settings = state(app).settings
    started = time.monotonic()
    context = browser.new_context(timezone_id="Europe/Lisbon", locale="en-GB")
    page = context.new_page()
    problems: list[str] = []
    expected = re.compile(r"Failed to load resource: .* status of (409|422) ")
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" and not expected.match(m.text) else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    checked: list[str] = []

    def valid(where: str) -> None:
        html_checker.assert_valid(page.content(), where)
        checked.append(where)

    # Sign in by keyboard: tab to the Email field, type, Enter.
    page.goto(f"{root}/organise")
    assert page.url.startswith(f"{root}/login")
    valid("login")
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "email":
            break
    page.keyboard.type(EMAIL)
    page.keyboard.press("Enter")
    page.get_by_text("Check your inbox").wait_for()
    report = sender.send_batch(sessions, settings, progress=False)
    assert report.sent == 1, report.errors
    (message,) = smtp.inbox.to(EMAIL)
    link = re.search(rf"{re.escape(root)}/login/\S+", text_part(message))
    assert link, text_part(message)
    page.goto(link.group(0))
    page.get_by_role("heading", name="Your series").wait_for()
    valid("workspace home (empty)")

    # A new Europe/Lisbon series.
    page.get_by_role("link", name="New series").click()
    page.get_by_label("Series name").fill("Lisbon Number Theory")
    page.get_by_label("Timezone").fill("Europe/Lisbon")
    page.get_by_label("Description").fill("Talks on *numbers*, $\\zeta(s)$.")
    live = page.locator('[data-preview-of="description"] .prose')
    live.locator("em").wait_for()  # the live preview, rendered by the server while typing
    with app.app_context():
        assert live.inner_html() == rich_text("Talks on *numbers*, $\\zeta(s)$.")
    valid("series form")
    shot(page, "series-form")
    page.get_by_role("button", name="Create series").click()
    page.get_by_role("heading", name="Lisbon Number Theory").wait_for()

    # A talk at 09:30 Beijing time, published.
    page.get_by_role("link", name="Add a talk").click()
    fill_talk(
        page,
        **{
            "Title": "Modular forms and q-series",
            "Speaker name": "Wang Yu",
            "Affiliation": "Peking University",
            "Date": "2027-01-15",
            "Start time": "09:30",
            "End time": "10:30",
            "Timezone": "Beijing time",
            "Abstract": "On **$q$-series**.",
        },
    )
    page.locator('[data-preview-of="abstract"] .prose strong math').wait_for()
    preview = page.locator("[data-when-preview] li")
    preview.first.wait_for()
    shown = preview.all_inner_texts()
    assert any("Series" in t and "01:30" in t and "Europe/Lisbon" in t for t in shown), shown
    assert any("Talk" in t and "09:30" in t and "Asia/Shanghai" in t for t in shown), shown
    assert any("Your browser" in t and "Europe/Lisbon" in t for t in shown), shown
    page.get_by_role("button", name="Publish").click()
    page.get_by_text("Published.").wait_for()
    talk_url = page.url
    talk_id = talk_url.rsplit("/", 1)[1]

    _, events = icaljs(fetch(f"{root}/series/lisbon-number-theory.ics"))
    (event,) = events
    assert event.summary.startswith("Modular forms and q-series")
    assert event.start == datetime(2027, 1, 15, 1, 30, tzinfo=UTC)
    assert event.start_zone == "Asia/Shanghai"

    # The DST gap: 01:30 on 28 March 2027 does not exist in Lisbon.
    page.goto(f"{root}/organise/series/lisbon-number-theory/talks/new")
    fill_talk(
        page,
        **{
            "Title": "Draft in the gap",
            "Speaker name": "Rui Costa",
            "Date": "2027-03-28",
            "Start time": "01:30",
            "End time": "02:30",
            "Timezone": "Europe/Lisbon",
        },
    )
    page.get_by_role("button", name="Save draft").click()
    error = page.locator("#start_time-error")
    error.wait_for()
    assert "Nearest valid times: 00:30, 02:00, 02:30" in error.inner_text()
    assert page.get_by_label("Start time").get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "error-summary"  # announced
    valid("talk form with an error")
    shot(page, "talk-form-error")
    page.get_by_label("Start time").fill("02:00")
    page.get_by_label("End time").fill("03:00")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("Draft saved.").wait_for()

    # The overlap: 01:30 on 31 October 2027 happens twice in Lisbon; choose the later one.
    page.goto(f"{root}/organise/series/lisbon-number-theory/talks/new")
    fill_talk(
        page,
        **{
            "Title": "Talk in the overlap",
            "Speaker name": "Rui Costa",
            "Date": "2027-10-31",
            "Start time": "01:30",
            "End time": "02:30",
            "Timezone": "Europe/Lisbon",
        },
    )
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("happens twice").first.wait_for()
    page.get_by_label("The second (later) one").check()
    page.get_by_role("button", name="Publish").click()
    page.get_by_text("Published.").wait_for()
    _, events = icaljs(fetch(f"{root}/series/lisbon-number-theory.ics"))
    starts = {e.summary.split(" — ")[0]: e.start for e in events}
    assert starts["Talk in the overlap"] == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)

    # The draft is nowhere public.
    assert b"Draft in the gap" not in fetch(f"{root}/series/lisbon-number-theory.ics")
    assert b"Draft in the gap" not in fetch(f"{root}/series/lisbon-number-theory")
    assert b"Draft in the gap" not in fetch(f"{root}/calendar.ics")
    assert b"Draft in the gap" not in fetch(f"{root}/api/v1/events")
    page.goto(f"{root}/organise")
    assert "Drafts\n1" in page.locator(".facts").first.inner_text()
    valid("workspace home")
    shot(page, "workspace-home")

    # A stale edit: a second tab saves first; this tab's save shows both versions.
    page.goto(talk_url)
    other = context.new_page()
    other.goto(talk_url)
    other.get_by_label("Title", exact=True).fill("Modular forms, revised")
    other.get_by_role("button", name="Save changes").click()
    other.get_by_text("Saved.").wait_for()
    page.get_by_label("Title", exact=True).fill("Modular forms and mock theta functions")
    page.get_by_role("button", name="Save changes").click()
    conflict = page.get_by_role("heading", name="Someone saved this talk while you were editing it")
    conflict.wait_for()
    table = page.locator("table.compare").inner_text()
    assert "Modular forms and mock theta functions" in table and "Modular forms, revised" in table
    assert f"{EMAIL} saved it at" in page.locator("#conflict").inner_text()
    valid("conflict page")
    shot(page, "conflict")
    assert b"Modular forms, revised" in fetch(f"{root}/events/{talk_id}")  # nothing overwritten

    # The public page, seen from New York.
    visitor = browser.new_context(timezone_id="America/New_York", locale="en-GB")
    public = visitor.new_page()
    public.goto(f"{root}/series/lisbon-number-theory")
    public.wait_for_selector('body[data-viewer-zone="America/New_York"]')
    item = public.locator("li.talk").filter(has_text="Modular forms, revised")
    times = item.locator(".zt").all_inner_texts()
    assert times == [
        "Fri 15 Jan 2027, 09:30–10:30 Beijing time (UTC+08:00)",
        "Thu 14 Jan 2027, 20:30–21:30 New York time (UTC-05:00)",
    ], times
    assert "Draft in the gap" not in public.content()
    visitor.close()
    context.close()
    assert problems == []
    assert len(checked) == 6
    elapsed = time.monotonic() - started
    print(f"organiser browser flow: {elapsed:.1f} s")
