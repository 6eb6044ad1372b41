"""Import with preview in real headless Chromium (Debian's): upload → preview → apply.

An upload with an error shows it and offers no Apply; the corrected file's preview shows the
changed field before → after and the talk it leaves out; Apply writes and says what it did.
Fields are found by their visible labels. Screenshots go to EVENTFEED_SHOTS when set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import importer
from events.models import Event
from tests.support.browsing import owner_signin, serving, sign_in, watch
from tests.web.test_organise_browser import shot
from tests.web.test_pages_browser import CHROMIUM, browser  # noqa: F401  (fixture by name)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")

WriteFile = Callable[[str, "str | bytes"], Path]
SLUG = "kyoto-topology"


def talk(n: int, **overrides: Any) -> dict[str, Any]:
    data = {
        "id": f"k{n}",
        "title": f"Knots {n}",
        "start": f"2031-05-{n:02d} 15:00",
        "end": f"2031-05-{n:02d} 16:00",
    }
    return {**data, **overrides}


def kyoto_owner(sessions: sessionmaker[Session], write_file: WriteFile, events: list[Any]) -> str:
    """Import kyoto-topology with `events`; return a sign-in link token of its owner."""
    series = {"slug": SLUG, "name": "Kyoto topology", "timezone": "Asia/Tokyo", "events": events}
    importer.import_files(sessions, [write_file("base.yaml", yaml.safe_dump({"series": [series]}))])
    return owner_signin(sessions, SLUG, "mei@example.org", datetime.now(UTC))


@pytest.fixture
def site(make_app: Callable[..., Flask]) -> Iterator[tuple[Flask, str]]:
    """The app served on 127.0.0.1."""
    with serving(lambda _: make_app()) as served:
        yield served


def test_upload_preview_apply_in_chromium(
    browser: Any,  # noqa: F811  (the fixture)
    site: tuple[Flask, str],
    sessions: sessionmaker[Session],
    write_file: WriteFile,
    html_checker: Any,
) -> None:
    _, root = site
    token = kyoto_owner(sessions, write_file, [talk(1), talk(2), talk(3)])
    bad = write_file("bad.yaml", yaml.safe_dump({"events": [talk(1), talk(4, end="nope")]}))
    good = write_file(
        "good.yaml", yaml.safe_dump({"events": [talk(1), talk(2, title="Braids"), talk(4)]})
    )
    context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-GB")
    page = context.new_page()
    problems: list[str] = []
    watch(page, problems)

    sign_in(page, root, token)
    page.goto(f"{root}/organise/series/{SLUG}")
    page.get_by_role("link", name="Import a file").click()
    html_checker.assert_valid(page.content(), "upload")
    page.get_by_label("File", exact=True).set_input_files(str(bad))
    page.get_by_role("button", name="Preview the import").click()
    page.get_by_role("heading", name="Preview of bad.yaml").wait_for()
    body = page.inner_text("main")
    assert "1 with errors" in body and "field ‘end’" in body
    assert page.get_by_role("button", name="Apply").count() == 0
    html_checker.assert_valid(page.content(), "preview with errors")
    shot(page, "import-preview-errors")

    page.get_by_role("link", name="Upload a corrected file").click()
    page.get_by_label("File", exact=True).set_input_files(str(good))
    page.get_by_role("button", name="Preview the import").click()
    page.get_by_role("heading", name="Preview of good.yaml").wait_for()
    body = page.inner_text("main")
    assert "1 new · 1 changed · 1 unchanged · 0 with errors · 1 not in the file" in body
    assert "Knots 2 → Braids" in body and "Knots 3" in body
    html_checker.assert_valid(page.content(), "preview")
    shot(page, "import-preview")
    with sessions() as session:
        assert session.get(Event, "k4") is None
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("Imported good.yaml: 1 new, 1 changed, 1 unchanged.").wait_for()
    shot(page, "import-applied")
    with sessions() as session:
        stored = {e.id: (e.title, e.status) for e in session.scalars(select(Event))}
    assert stored == {
        "k1": ("Knots 1", "confirmed"),
        "k2": ("Braids", "confirmed"),
        "k3": ("Knots 3", "confirmed"),
        "k4": ("Knots 4", "confirmed"),
    }
    assert problems == []
    context.close()
