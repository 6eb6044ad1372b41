"""Feed texts in the series' language (issue 20): 'Cancelled', 'speaker TBA' and the other
fixed texts of iCalendar, RSS, Atom and JSON Feed, with CLDR dates, and the language declared
(iCalendar LANGUAGE=, RSS <language>, Atom xml:lang, JSON Feed language). Read back by the
parsers (ical.js, icalendar, the strict `ical`, feedparser)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
from flask import Flask
from icalendar import Calendar
from sqlalchemy.orm import Session, sessionmaker

from events import importer
from events.clock import FrozenClock
from tests.support.parsers import all_parsers

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
WriteFile = Callable[[str, "str | bytes"], Path]
WEEKLY = {"every": "week", "on": "saturday", "start": "09:30", "duration": 60}


def load(
    sessions: sessionmaker[Session],
    write_file: WriteFile,
    language: str,
    zone: str,
    events: list[dict[str, Any]],
) -> None:
    """Import a series in `language` with two Saturday slots and `events`, at NOW."""
    series = {
        "slug": "s",
        "name": "Seminário" if language == "pt" else "讨论班",
        "timezone": zone,
        "language": language,
        "schedule": {**WEEKLY, "from": "2027-03-06", "count": 2},
        "events": events,
    }
    path = write_file(f"doc-{language}.json", json.dumps({"series": [series]}))
    importer.import_files(sessions, [path], clock=FrozenClock(NOW))


def fetch(app: Flask, url: str) -> bytes:
    response = app.test_client().get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data()


CANCELLED = {
    "id": "t1",
    "title": "Teoria de nós",
    "speakers": ["Ana Silva", "Rui Costa"],
    "start": "2027-03-13 09:30",
    "end": "2027-03-13 10:30",
    "status": "cancelled",
}


def test_portuguese_series_feeds(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    app = make_app(clock=FrozenClock(NOW))
    load(sessions, write_file, "pt", "Europe/Lisbon", [CANCELLED])
    ics = fetch(app, "/series/s.ics")
    calendar = Calendar.from_ical(ics)
    by_uid = {str(e["UID"]).split("@")[0]: e for e in calendar.walk("VEVENT")}
    tba = by_uid["s-20270306"]
    assert str(tba["SUMMARY"]) == "Seminário — orador a anunciar"
    assert tba["SUMMARY"].params["LANGUAGE"] == "pt"
    assert "Orador a anunciar: este horário da série ainda não tem palestra." in str(
        tba["DESCRIPTION"]
    )
    cancelled = by_uid["t1"]
    assert str(cancelled["SUMMARY"]) == "Cancelada: Teoria de nós — Ana Silva, Rui Costa"
    text = str(cancelled["DESCRIPTION"])
    assert text.startswith("CANCELADA: esta palestra não se vai realizar.")
    assert "sábado, 13 de março de 2027, 09:30–10:30 (hora de Lisboa)" in text
    assert "Oradores: Ana Silva; Rui Costa" in text and "Série: Seminário" in text
    assert cancelled["DESCRIPTION"].params["LANGUAGE"] == "pt"
    for parser, found in all_parsers(ics).items():  # every parser reads the same texts
        assert "Cancelada: Teoria de nós — Ana Silva, Rui Costa" in [e.summary for e in found], (
            parser
        )

    rss = feedparser.parse(fetch(app, "/series/s.rss"))
    assert rss.feed.language == "pt"
    titles = [e.title for e in rss.entries]
    assert (
        "Cancelada: Ana Silva, Rui Costa: Teoria de nós — sábado, 13 de março de 2027, "
        "09:30 (hora de Lisboa)" in titles
    )
    atom = fetch(app, "/series/s.atom").decode()
    assert 'xml:lang="pt"' in atom
    assert "esta palestra não se vai realizar" in atom
    feed = json.loads(fetch(app, "/series/s.json"))
    assert feed["language"] == "pt"
    [item] = [i for i in feed["items"] if i["id"].endswith("/t1")]
    assert item["summary"].startswith("Cancelada. sábado, 13 de março de 2027")
    assert "<strong>Quando:</strong>" in item["content_html"]


def test_chinese_series_feeds(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    app = make_app(clock=FrozenClock(NOW))
    load(sessions, write_file, "zh", "Asia/Shanghai", [{**CANCELLED, "title": "纽结理论"}])
    calendar = Calendar.from_ical(fetch(app, "/series/s.ics"))
    by_uid = {str(e["UID"]).split("@")[0]: e for e in calendar.walk("VEVENT")}
    assert str(by_uid["s-20270306"]["SUMMARY"]) == "讨论班 — 报告人待定"
    cancelled = by_uid["t1"]
    assert str(cancelled["SUMMARY"]) == "已取消：纽结理论 — Ana Silva, Rui Costa"
    assert cancelled["SUMMARY"].params["LANGUAGE"] == "zh"
    text = str(cancelled["DESCRIPTION"])
    assert text.startswith("已取消：本报告将不再举行。")
    assert "2027年3月13日 星期六 09:30–10:30（北京时间）" in text
    assert "报告人：Ana Silva; Rui Costa" in text and "系列：讨论班" in text
    feed = json.loads(fetch(app, "/series/s.json"))
    assert feed["language"] == "zh"
    [item] = [i for i in feed["items"] if i["id"].endswith("/t1")]
    assert item["title"].startswith("已取消：Ana Silva, Rui Costa: 纽结理论 — 2027年3月13日 星期六")


def test_english_series_feeds_declare_english(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session], write_file: WriteFile
) -> None:
    app = make_app(clock=FrozenClock(NOW))
    load(sessions, write_file, "en", "Europe/Lisbon", [CANCELLED])
    ics = fetch(app, "/series/s.ics")
    assert b"SUMMARY;LANGUAGE=en:" in ics and b"DESCRIPTION;LANGUAGE=en:" in ics
    calendar = Calendar.from_ical(ics)
    by_uid = {str(e["UID"]).split("@")[0]: e for e in calendar.walk("VEVENT")}
    assert str(by_uid["t1"]["SUMMARY"]) == "Cancelled: Teoria de nós — Ana Silva, Rui Costa"
    assert str(by_uid["s-20270306"]["SUMMARY"]).endswith(" — speaker TBA")
