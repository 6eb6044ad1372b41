"""The site's script runs under its own Content-Security-Policy, in Debian's Chromium.

The subscribe form's zone field used to be filled by an inline script, which the CSP
(`script-src 'self'`) blocked: the field stayed empty and the console reported the violation.
The script now lives in /assets/site.js; these tests load the pages in a real browser and
check that it ran and that no page breaks the policy.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events.clock import SYSTEM_CLOCK
from events.models import Subscriber
from mail import subscribers
from tests.web.test_pages_browser import (  # noqa: F401  (fixtures, asked for by name)
    CHROMIUM,
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


def watch(page: Any) -> tuple[list[str], list[str]]:
    """Record the page's console messages and the documents it loads."""
    console: list[str] = []
    documents: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.on(
        "request",
        lambda request: (
            documents.append(request.url) if request.resource_type == "document" else None
        ),
    )
    return console, documents


def test_subscribe_form_takes_the_browsers_zone_without_a_csp_violation(
    site: tuple[Any, str],
) -> None:
    chromium, root = site
    context = chromium.new_context(timezone_id="Asia/Tokyo")
    page = context.new_page()
    console, documents = watch(page)
    page.goto(f"{root}/series/{SEMINAR}/subscribe")
    page.wait_for_load_state("load")  # the deferred script has run by now
    field = page.locator("input[name=timezone]")
    assert field.input_value() == "Asia/Tokyo"
    assert page.locator("datalist#zones option[value='Asia/Tokyo']").count() == 1
    assert console == []  # no "Refused to execute inline script ... Content Security Policy"
    assert len(documents) == 1  # the zone detection of the other pages does not reload it
    context.close()


def test_no_page_breaks_the_content_security_policy(
    site: tuple[Any, str], sessions: sessionmaker[Session]
) -> None:
    """Home, series, talk, 404, subscribe, confirm, manage and unsubscribe pages."""
    chromium, root = site
    with sessions() as session, session.begin():
        subscribers.add_confirmed(
            session, "reader@example.org", [SEMINAR], "Europe/Lisbon", SYSTEM_CLOCK.now()
        )
    with sessions() as session:
        subscriber = session.scalars(select(Subscriber)).one()
        token, signed = subscriber.token, subscribers.confirmation_token(subscriber)
    context = chromium.new_context(timezone_id="Europe/Lisbon")
    page = context.new_page()
    console, _ = watch(page)
    page.add_init_script(
        "window.__csp = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    for path in (
        "/",
        f"/series/{SEMINAR}",
        f"/events/{TALK}",
        "/no-such-page",
        f"/series/{SEMINAR}/subscribe",
        f"/subscriptions/confirm/{signed}",
        f"/manage/{token}",
        f"/unsubscribe/{token}",
    ):
        page.goto(root + path)
        page.wait_for_load_state("load")
        assert page.evaluate("window.__csp") == [], path
    assert [m for m in console if "Content Security Policy" in m] == []
    context.close()
