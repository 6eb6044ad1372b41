"""A large import in real headless Chromium: upload → preview → apply → progress → summary.

The threshold is lowered to 3 talks; the worker's job runs in the test while the page polls
its JSON status (external script, under the site's CSP) and then shows the summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import import_jobs
from events.models import Event, ImportJob
from mail.worker import run_imports
from tests.support.browsing import serving, sign_in, watch
from tests.web.test_organise_browser import shot
from tests.web.test_organise_import_browser import SLUG, kyoto_owner, talk
from tests.web.test_pages_browser import CHROMIUM, browser  # noqa: F401  (fixture by name)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")

WriteFile = Callable[[str, "str | bytes"], Path]


@pytest.fixture
def site(make_app: Callable[..., Flask]) -> Iterator[tuple[Flask, str]]:
    """The app served on 127.0.0.1, handing files of more than 3 talks to the worker."""
    with serving(lambda _: make_app(import_background_talks=3)) as served:
        yield served


def test_large_import_progress_and_summary_in_chromium(
    browser: Any,  # noqa: F811  (the fixture)
    site: tuple[Flask, str],
    sessions: sessionmaker[Session],
    write_file: WriteFile,
    html_checker: Any,
) -> None:
    _, root = site
    token = kyoto_owner(sessions, write_file, [talk(1), talk(2)])
    big = [talk(1), talk(2, title="Braids")] + [talk(n) for n in range(3, 9)]
    path = write_file("big.yaml", yaml.safe_dump({"events": big}))
    context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-GB")
    page = context.new_page()
    problems: list[str] = []
    watch(page, problems)

    sign_in(page, root, token)
    page.goto(f"{root}/organise/series/{SLUG}/import")
    page.get_by_label("File", exact=True).set_input_files(str(path))
    page.get_by_role("button", name="Preview the import").click()
    page.get_by_role("heading", name="Preview of big.yaml").wait_for()
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("heading", name="Import of big.yaml").wait_for()
    assert "Waiting for the worker" in page.inner_text("main")
    html_checker.assert_valid(page.content(), "import job")
    with sessions() as session:
        job_id = session.scalars(select(ImportJob.id)).one()
        assert session.get(Event, "k8") is None
    with sessions() as session, session.begin():
        session.get_one(ImportJob, job_id).status = "running"
    import_jobs.reporter(sessions, job_id, lambda: datetime.now(UTC))(5, 8)
    bar = page.get_by_label("Talks checked")
    expect(page.locator("#import-done")).to_have_text("5")  # polled, not reloaded
    assert page.eval_on_selector("#import-progress", "bar => bar.value") == 5
    assert bar.get_attribute("max") == "8" and page.inner_text("#import-done") == "5"
    assert "nothing is saved until every talk is written" in page.inner_text("main")
    shot(page, "import-job-progress")
    with sessions() as session, session.begin():  # back in the queue, as a worker would find it
        session.get_one(ImportJob, job_id).status = "queued"
    assert run_imports(sessions, datetime.now(UTC)) == 1
    page.get_by_text("Imported big.yaml: 6 new, 1 changed, 1 unchanged.").wait_for()
    html_checker.assert_valid(page.content(), "import job done")
    shot(page, "import-job-done")
    with sessions() as session:
        assert session.get(Event, "k8") is not None
        assert session.get_one(Event, "k2").title == "Braids"
    assert problems == []
    context.close()
