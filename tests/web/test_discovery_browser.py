"""Discovery in Chromium: the search box finds a Chinese and an accented query (typed into
the header's search box, submitted with Enter), the topic page lists talks across series;
and a workspace draft is never found. Screenshots go to EVENTFEED_SHOTS when set."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from events import accounts, search, store
from events.models import Event, Series
from tests.support.browsing import serving
from tests.support.topical import add_math_topics, day
from tests.web.test_pages_browser import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def talks(
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    with sessions() as session, session.begin():
        add_math_topics(session)
    make_series(slug="bj", name="北京机器学习联合讨论班", timezone="Asia/Shanghai", language="zh")
    make_series(slug="lx", name="Seminário de Equações", timezone="Europe/Lisbon", language="pt")
    make_event(
        series="bj",
        id="cn",
        title="基于机器学习的偏微分方程求解",
        speakers=[{"name": "王宇航", "affiliation": "北京大学"}],
        start=day(3, "09:30"),
        end="11:00",
        topics=["math-ap"],
    )
    make_event(
        series="lx",
        id="pt",
        title="Equações de evolução não lineares",
        speakers=[{"name": "José Álvarez", "affiliation": "Universidade de Lisboa"}],
        start=day(4, "14:00"),
        end="15:00",
        topics=["Mathematics › Analysis of PDEs"],
    )
    make_event(series="lx", id="other", title="Teoria de números", start=day(5), end="13:00")


def test_a_draft_is_never_found(
    client: FlaskClient, sessions: sessionmaker[Session], talks: None
) -> None:
    with sessions() as session, session.begin():
        ana = accounts.add_organiser(session, "ana@example.org", datetime.now(UTC))
        data = {
            "id": "draft-1",
            "title": "Quaternionic zebra draft",
            "start": day(6),
            "end": "13:00",
        }
        accounts.save_draft(session, store.get_series(session, "lx"), data, ana, datetime.now(UTC))
    with sessions() as session:
        assert search.search(session, "zebra", datetime.now(UTC)).events == []
    assert "Quaternionic" not in client.get("/search?q=zebra").get_data(as_text=True)
    assert client.get("/api/v1/search?q=zebra").get_json()["items"] == []


sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def live_url(make_app: Callable[..., Flask]) -> Iterator[str]:
    with serving(lambda root: make_app(base_url=root)) as (_, root):
        yield root


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")
def test_search_and_topic_pages_in_chromium(live_url: str, talks: None, tmp_path: Path) -> None:
    shots = Path(os.environ.get("EVENTFEED_SHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        for query, found, name in [
            ("机器学习", "基于机器学习的偏微分方程求解", "search-chinese"),
            ("EQUACOES ALVAREZ", "Equações de evolução não lineares", "search-accented"),
        ]:
            page.goto(live_url + "/")
            box = page.get_by_role("search").get_by_role("searchbox")
            box.fill(query)
            box.press("Enter")
            page.wait_for_url("**/search?*")
            titles = page.locator("main ul.talks > li").all_inner_texts()
            assert len(titles) == 1 and found in titles[0], (query, titles)
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        page.goto(live_url + "/topics/math")
        assert page.locator("h1").inner_text() == "Mathematics"
        listed = " ".join(page.locator("main ul.talks > li").all_inner_texts())
        assert "基于机器学习" in listed and "Equações de evolução" in listed
        assert "Teoria de números" not in listed
        page.screenshot(path=str(shots / "topic-page.png"), full_page=True)
        browser.close()
