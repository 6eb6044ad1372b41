"""Talks and series in several languages on pages, feeds and the API; stored copies follow
every edit of a translation on the next request."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import feedparser
import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from events import importer, store
from events.clock import SYSTEM_CLOCK, FrozenClock
from events.models import Event, Series
from events.schemas import validate_event, validate_series
from tests.support.apiutil import bearer, issue_token
from tests.support.parsers import icaljs

START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
ZH_TITLE = "冷冻电镜原理及相关算法"
EN_TITLE = "Principles of cryo-electron microscopy"


@pytest.fixture
def site(
    make_app: Callable[..., Flask],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> Flask:
    """A Chinese series with English name and a talk carrying an English title and abstract."""
    make_series(
        slug="bj",
        name="机器学习联合讨论班",
        description="每两周一次。",
        timezone="Asia/Shanghai",
        language="zh",
        translations={"en": {"name": "Joint ML Seminar", "description": "Every two weeks."}},
    )
    make_event(
        "bj",
        id="cryo",
        title=ZH_TITLE,
        abstract="冷冻电镜显微学是结构生物学的重要技术。",
        start="2030-03-13 09:30",
        end="2030-03-13 11:30",
        translations={"en": {"title": EN_TITLE, "abstract": "Cryo-EM is a key technique."}},
    )
    return make_app(clock=FrozenClock(START))


def _lang_of(html: str, text: str) -> str | None:
    """Return the `lang` of the element holding `text` (through plain elements like <p>)."""
    pattern = r'<[a-z0-9]+[^>]*\blang="([^"]+)"[^>]*>\s*(?:<[a-z0-9]+>\s*)*' + re.escape(text)
    found = re.search(pattern, html)
    return found.group(1) if found else None


@pytest.mark.parametrize(
    ("lang", "title", "title_lang", "name"),
    [
        ("en", EN_TITLE, "en", "Joint ML Seminar"),
        ("zh-Hans", ZH_TITLE, "zh", "机器学习联合讨论班"),
        ("pt-PT", ZH_TITLE, "zh", "机器学习联合讨论班"),  # no Portuguese: the original
    ],
)
def test_pages_show_the_readers_language_else_the_original(
    site: Flask, lang: str, title: str, title_lang: str, name: str
) -> None:
    client = site.test_client()
    talk = client.get(f"/events/cryo?lang={lang}").get_data(as_text=True)
    assert f'<html lang="{lang}"' in talk
    assert _lang_of(talk, title) == title_lang, talk
    other = EN_TITLE if title == ZH_TITLE else ZH_TITLE
    assert other not in talk
    abstract = "Cryo-EM is a key technique." if lang == "en" else "冷冻电镜显微学"
    assert _lang_of(talk, abstract) == title_lang
    assert f"<title>{title} · {name}</title>" in talk
    series = client.get(f"/series/bj?lang={lang}").get_data(as_text=True)
    assert _lang_of(series, name) == title_lang
    assert _lang_of(series, title) == title_lang
    home = client.get(f"/?lang={lang}").get_data(as_text=True)
    assert _lang_of(home, title) == title_lang
    assert _lang_of(home, name) == title_lang


def _feed_urls() -> list[str]:
    return ["/series/bj.ics", "/series/bj.rss", "/series/bj.atom", "/series/bj.json"]


def test_feeds_carry_the_series_language_and_the_translations(site: Flask) -> None:
    client = site.test_client()
    rss = client.get("/series/bj.rss").data
    assert b"<language>zh</language>" in rss
    parsed = feedparser.parse(rss)
    assert parsed.feed.language == "zh"
    atom = client.get("/series/bj.atom").data
    assert b'xml:lang="zh"' in atom
    entry = feedparser.parse(atom).entries[0]
    assert ZH_TITLE in entry.title
    assert f'<div class="translation" lang="en"><p><strong>{EN_TITLE}</strong>' in (
        entry.content[0].value
    )
    document = json.loads(client.get("/series/bj.json").data)
    assert document["language"] == "zh" and document["items"][0]["language"] == "zh"
    assert EN_TITLE in document["items"][0]["content_html"]

    ics = client.get("/series/bj.ics").data
    vevent = next(c for c in icalendar.Calendar.from_ical(ics).walk("VEVENT"))
    assert vevent["SUMMARY"].params["LANGUAGE"] == "zh"
    assert vevent["DESCRIPTION"].params["LANGUAGE"] == "zh"
    assert f"[en] {EN_TITLE}" in str(vevent["DESCRIPTION"])
    _, events = icaljs(ics)
    assert events[0].summary.startswith(ZH_TITLE)
    assert f"[en] {EN_TITLE}" in events[0].description


def test_site_atom_marks_entries_of_another_language(site: Flask) -> None:
    atom = site.test_client().get("/feed.atom").data
    assert re.search(rb'<entry xml:lang="zh">', atom), atom[:600]


def _unfolded(data: bytes) -> str:
    """Return a response's text with iCalendar's folded lines joined."""
    return data.replace(b"\r\n ", b"").decode()


def _retranslate(sessions: sessionmaker[Session], title: str) -> None:
    with sessions() as session, session.begin():
        event = store.get_event(session, "cryo")
        data = {**importer.event_input(event), "translations": {"en": {"title": title}}}
        record = validate_event(data, store.series_record(event.series))
        store.upsert_event(session, event.series, record, SYSTEM_CLOCK.now())


def test_an_edited_translation_is_on_the_next_page_and_feed(
    site: Flask, sessions: sessionmaker[Session]
) -> None:
    client = site.test_client()
    pages = ["/events/cryo?lang=en", "/series/bj?lang=en", "/?lang=en"]
    for url in [*pages, *_feed_urls(), "/feed.atom"]:
        first = client.get(url)
        assert first.status_code == 200, url
        assert EN_TITLE in _unfolded(first.data), url
        assert client.get(url).data == first.data, url  # stored
    _retranslate(sessions, "Cryo-EM explained")
    for url in [*pages, *_feed_urls(), "/feed.atom"]:
        again = _unfolded(client.get(url).data)
        assert "Cryo-EM explained" in again and EN_TITLE not in again, url

    with sessions() as session, session.begin():
        series = store.get_series(session, "bj")
        values = {**store.series_record(series).__dict__}
        values["translations"] = {"en": {"name": "Beijing ML Seminar"}}
        record = validate_series({k: v for k, v in values.items() if v is not None})
        store.upsert_series(session, record, SYSTEM_CLOCK.now())
    for url in pages:
        assert "Beijing ML Seminar" in client.get(url).get_data(as_text=True), url


def test_the_api_reads_and_writes_translations(
    site: Flask, sessions: sessionmaker[Session]
) -> None:
    client: FlaskClient = site.test_client()
    editor = issue_token(sessions, "bj")
    read = client.get("/api/v1/events/cryo")
    assert read.get_json()["translations"]["en"]["title"] == EN_TITLE
    assert client.get("/api/v1/series/bj").get_json()["translations"]["en"]["name"]

    def patch(body: dict[str, Any]) -> Any:
        etag = client.get("/api/v1/events/cryo").headers["ETag"]
        return client.patch("/api/v1/events/cryo", headers=bearer(editor, If_Match=etag), json=body)

    bad = patch({"translations": {"klingon!": {"title": "x"}, "en": {"subtitle": "y"}}})
    assert bad.status_code == 422
    errors = {e["field"]: e["message"] for e in bad.get_json()["errors"]}
    assert "BCP 47" in errors["translations.klingon!.[key]"]
    assert "Extra inputs" in errors["translations.en.subtitle"]
    good = patch({"translations": {"pt-pt": {"title": "Princípios da crio-ME"}}})
    assert good.status_code == 200, good.get_json()
    assert good.get_json()["translations"] == {
        "en": {"title": EN_TITLE, "abstract": "Cryo-EM is a key technique."},
        "pt-PT": {"title": "Princípios da crio-ME", "abstract": None},
    }
    removed = patch({"translations": {"en": None}})
    assert list(removed.get_json()["translations"]) == ["pt-PT"]
    shown = client.get("/events/cryo?lang=pt").get_data(as_text=True)
    assert _lang_of(shown, "Princípios da crio-ME") == "pt-PT"
