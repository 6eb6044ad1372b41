"""History and speakers' links in real headless Chromium (Debian's): fields found by labels.

A speaker fixes their talk through the secret link; a forged start-time field is refused;
the organiser reads the change in the talk's history and restores the earlier version.
Screenshots go to EVENTFEED_SHOTS when set.
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

from events import history, importer
from events.models import Change, Event
from tests.support.browsing import owner_signin, serving, sign_in, watch
from tests.web.test_organise_browser import shot
from tests.web.test_pages_browser import CHROMIUM, browser  # noqa: F401  (fixture by name)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")

SLUG = "kyoto-topology"


@pytest.fixture
def site(make_app: Callable[..., Flask]) -> Iterator[tuple[Flask, str]]:
    """The app served on 127.0.0.1, its base URL that address (speaker links use it)."""
    with serving(lambda root: make_app(base_url=root)) as served:
        yield served


def test_speaker_link_then_history_and_restore_in_chromium(
    browser: Any,  # noqa: F811  (the fixture)
    site: tuple[Flask, str],
    sessions: sessionmaker[Session],
    write_file: Callable[[str, str | bytes], Path],
    html_checker: Any,
) -> None:
    _, root = site
    data = {
        "series": [
            {
                "slug": SLUG,
                "name": "Kyoto topology",
                "timezone": "Asia/Tokyo",
                "events": [
                    {
                        "id": "k1",
                        "title": "Knots",
                        "speakers": [{"name": "Mei Sato", "affiliation": "Kyoto"}],
                        "start": "2031-05-01 15:00",
                        "end": "16:00",
                    }
                ],
            }
        ]
    }
    with history.acting(history.Actor("import via CLI", "import")):
        importer.import_files(sessions, [write_file("k.yaml", yaml.safe_dump(data))])
    now = datetime.now(UTC)
    token = owner_signin(sessions, SLUG, "mei@example.org", now)
    problems: list[str] = []
    organiser = watch(browser.new_context(locale="en-GB").new_page(), problems)
    sign_in(organiser, root, token)
    organiser.goto(f"{root}/organise/talks/k1")
    organiser.get_by_role("link", name="Speaker link…").click()
    organiser.get_by_label("The link works for").select_option("7")
    organiser.get_by_role("button", name="Make a link").click()
    link = organiser.get_by_label("Speaker link").input_value()
    assert link.startswith(f"{root}/speaker/")
    html_checker.assert_valid(organiser.content(), "speaker link made")
    shot(organiser, "speaker-link-made")

    speaker = watch(browser.new_context(locale="en-GB").new_page(), problems)
    speaker.goto(link)
    html_checker.assert_valid(speaker.content(), "speaker page")
    speaker.get_by_label("Title").fill("Knots and braids")
    speaker.get_by_label("Affiliation of Mei Sato").fill("RIMS, Kyoto University")
    speaker.get_by_label("Slides link").fill("https://example.org/knots.pdf")
    speaker.get_by_label("Abstract (Markdown; inline LaTeX with $…$)").fill("Braids $B_n$.")
    shot(speaker, "speaker-page")
    speaker.get_by_role("button", name="Save").click()
    speaker.get_by_text("Saved. Thank you!").wait_for()
    shot(speaker, "speaker-saved")

    # A forged field (the start time) added to the form: refused, nothing written.
    speaker.goto(link)
    speaker.evaluate(
        """() => { const i = document.createElement('input'); i.type = 'hidden';
        i.name = 'start'; i.value = '2031-05-01 09:00';
        document.querySelector('form.form').append(i); }"""
    )
    speaker.get_by_label("Title").fill("Moved by the speaker")
    speaker.get_by_role("button", name="Save").click()
    speaker.get_by_text("start: a speaker link cannot change this").wait_for()
    shot(speaker, "speaker-forged-start-refused")
    with sessions() as session:
        talk = session.get(Event, "k1")
        assert talk is not None and talk.title == "Knots and braids"
        assert talk.start_local == "2031-05-01 15:00"

    organiser.goto(f"{root}/organise/talks/k1")
    organiser.get_by_role("link", name="History").click()
    body = organiser.inner_text("main")
    assert "through speaker link" in body and "speaker link (Mei Sato)" in body
    assert "Knots" in body and "Knots and braids" in body and "import via CLI" in body
    html_checker.assert_valid(organiser.content(), "talk history")
    shot(organiser, "talk-history")
    organiser.get_by_role("button", name="Restore this version").last.click()
    organiser.get_by_role("status").filter(has_text="Restored the version after change").wait_for()
    shot(organiser, "talk-history-restored")
    with sessions() as session:
        talk = session.get(Event, "k1")
        assert talk is not None and talk.title == "Knots" and talk.slides is None
        assert talk.speakers[0].get("affiliation") == "Kyoto"
        last = session.scalars(select(Change).order_by(Change.id.desc())).first()
        assert last is not None and last.action == "restored" and last.who == "mei@example.org"
    organiser.goto(f"{root}/organise/series/{SLUG}")
    organiser.get_by_role("link", name="History").click()
    series_log = organiser.inner_text("main")
    assert "talk k1" in series_log and series_log.count("one row per talk") == 1
    html_checker.assert_valid(organiser.content(), "series history")
    shot(organiser, "series-history")
    organiser.goto(f"{root}/organise/series/{SLUG}")
    organiser.get_by_role("link", name="Subscribers").click()
    assert "not tracked" in organiser.inner_text("main")
    shot(organiser, "subscribers")
    # The refused save answers 422, which Chromium reports on its console; nothing else.
    assert [p for p in problems if "status of 422" not in p] == []
