"""The demo shows email: `eventfeed demo` (a real process: server and mail worker) catches
every email, and a reader in Chromium subscribes on a series page, opens the confirmation in
/dev/mail, follows its link and is confirmed, then reads an announcement there."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select

from events.clock import SYSTEM_CLOCK
from events.models import Event, Series
from server import cli
from tests.support.mailtools import free_port
from tests.web.test_pages_browser import (  # noqa: F401  (fixtures, asked for by name)
    CHROMIUM,
    browser,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("EVENTFEED_SHOTS", "/tmp/eventfeed-shots"))


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Run `eventfeed demo` on a fresh instance folder; return its URL and environment."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("EVENTFEED_") or key == "EVENTFEED_SHOTS"
    }
    env["EVENTFEED_INSTANCE_PATH"] = str(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                break
        except OSError:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the demo did not start"
            time.sleep(0.3)
    yield url, {**env, "EVENTFEED_MODE": "demo", "EVENTFEED_BASE_URL": url}
    process.terminate()
    process.communicate(timeout=30)


def open_mail(page: Any, root: str, subject: str) -> None:
    """Open /dev/mail until a message whose subject contains `subject` is listed; open it."""
    for _ in range(60):
        page.goto(root + "/dev/mail")
        found = page.get_by_role("link", name=re.compile(re.escape(subject)))
        if found.count():
            found.first.click()
            return
        time.sleep(0.5)
    raise AssertionError(f"no email {subject!r} in /dev/mail")


def test_subscribe_confirm_and_read_the_announcement_in_the_demo(
    request: pytest.FixtureRequest, demo: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    chromium = request.getfixturevalue("browser")
    root, env = demo
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = chromium.new_context(timezone_id="Asia/Shanghai").new_page()
    page.goto(root + "/series/lisbon-ml-seminars")
    page.get_by_role("link", name="Get emails").click()
    assert page.url == root + "/series/lisbon-ml-seminars/subscribe"
    page.get_by_label("Email address").fill("newcomer@example.org")
    page.screenshot(path=str(SHOTS / "subscribe.png"), full_page=True)
    page.get_by_role("button", name="Get emails").click()
    assert page.get_by_role("heading", name="Check your inbox").count() == 1

    open_mail(page, root, "Confirm your subscription")
    page.screenshot(path=str(SHOTS / "dev-mail-confirmation.png"), full_page=True)
    assert page.get_by_role("link", name="calendar (.ics)").count() == 0
    page.locator('pre.mail-text a[href*="/subscriptions/confirm/"]').click()
    page.get_by_role("button", name="Yes, send me these emails").click()
    assert page.get_by_text("Subscription confirmed.").count() == 1
    page.screenshot(path=str(SHOTS / "confirmed.png"), full_page=True)

    # The organiser announces a talk; the demo's worker builds it for the new reader.
    engine = create_engine(f"sqlite:///{tmp_path / 'eventfeed.sqlite3'}")
    with engine.connect() as connection:
        talk = connection.scalar(
            select(Event.id)
            .join(Event.series)
            .where(Series.slug == "lisbon-ml-seminars", Event.start_utc > SYSTEM_CLOCK.now())
            .where(Event.status != "cancelled")
            .order_by(Event.start_utc)
        )
    engine.dispose()
    assert talk is not None
    result = CliRunner().invoke(cli, ["announce", talk], env=env)
    assert "queued 1 announcement" in result.output, result.output
    open_mail(page, root, "Beijing time")
    page.screenshot(path=str(SHOTS / "dev-mail-announcement.png"), full_page=True)
    assert page.get_by_role("link", name="calendar (.ics)").count() == 1
    assert page.get_by_role("link", name="HTML part").count() == 1
    text = page.locator("pre.mail-text").inner_text()
    assert "Beijing time" in text and "/manage/" in text
