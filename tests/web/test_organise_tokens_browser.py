"""API tokens in real headless Chromium (Debian's): made by keyboard, shown once, usable."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from events import importer
from tests.support.browsing import owner_signin, sign_in, watch
from tests.web.test_history_browser import site  # noqa: F401  (fixture by name)
from tests.web.test_organise_browser import shot
from tests.web.test_pages_browser import CHROMIUM, browser  # noqa: F401  (fixture by name)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")

SLUG = "kyoto-topology"


def api_patch(root: str, secret: str, title: str) -> tuple[int, dict[str, Any]]:
    """PATCH the talk's title through the editor API with `secret`; return status and body."""
    with urllib.request.urlopen(f"{root}/api/v1/events/k1") as answer:
        etag = answer.headers["ETag"]
    request = urllib.request.Request(
        f"{root}/api/v1/events/k1",
        data=json.dumps({"title": title}).encode(),
        method="PATCH",
        headers={
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/json",
            "If-Match": etag,
        },
    )
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_a_token_made_in_chromium_is_shown_once_and_works_with_the_api(
    browser: Any,  # noqa: F811  (the fixture)
    site: tuple[Flask, str],  # noqa: F811  (the fixture)
    sessions: sessionmaker[Session],
    write_file: Callable[[str, str | bytes], Path],
    html_checker: Any,
) -> None:
    _, root = site
    talk = {"id": "k1", "title": "Knots", "start": "2031-05-01 15:00", "end": "16:00"}
    data = {"series": [{"slug": SLUG, "name": "Kyoto topology", "timezone": "Asia/Tokyo"}]}
    data["series"][0]["events"] = [talk]  # type: ignore[index]
    importer.import_files(sessions, [write_file("k.yaml", yaml.safe_dump(data))])
    now = datetime.now(UTC)
    token = owner_signin(sessions, SLUG, "mei@example.org", now)
    problems: list[str] = []
    page = browser.new_context(locale="en-GB").new_page()
    watch(page, problems)
    sign_in(page, root, token)
    page.goto(f"{root}/organise/tokens")
    page.get_by_label("Label (what the token is for)").focus()
    page.keyboard.type("sync script")
    page.get_by_label("Series").select_option(SLUG)
    page.get_by_label("Access").select_option("read-write")
    page.get_by_label("Label (what the token is for)").press("Enter")
    secret = page.get_by_label("Token", exact=True).input_value()
    assert secret.startswith("eft_")
    html_checker.assert_valid(page.content(), "tokens with a new secret")
    shot(page, "token-shown-once")
    status, body = api_patch(root, secret, "Knots and braids")
    assert status == 200 and body["title"] == "Knots and braids"
    page.goto(f"{root}/organise/tokens")  # shown once: gone after a reload, listed by prefix
    assert page.get_by_label("Token", exact=True).count() == 0
    listing = page.locator("table").inner_text()
    assert secret not in page.content() and secret[:12] in listing and "sync script" in listing
    page.get_by_role("button", name="Revoke").click()
    assert api_patch(root, secret, "Again")[0] == 401
    assert problems == []
