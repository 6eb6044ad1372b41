"""Rich results and sharing: schema.org Event JSON-LD (read by extruct), OpenGraph and
Twitter tags, Google Calendar and Outlook links, sitemap.xml and robots.txt."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import extruct
import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from events import topics
from events.models import Event, Series

BASE = "https://events.example.org"
EVENT_FIELDS = {"@context", "@type", "name", "startDate", "endDate", "eventStatus"}
SCHEMA = "https://schema.org/"


def structured(client: FlaskClient, path: str) -> dict[str, Any]:
    answer = client.get(path)
    assert answer.status_code == 200
    found: dict[str, Any] = extruct.extract(
        answer.get_data(as_text=True),
        base_url=BASE + path,
        syntaxes=["json-ld", "opengraph"],
        uniform=True,
    )
    return found


def only_event(found: dict[str, Any]) -> dict[str, Any]:
    (event,) = found["json-ld"]
    assert event["@type"] == "Event"
    assert event.keys() >= EVENT_FIELDS
    return event


@pytest.fixture
def talks(make_series: Callable[..., Series], make_event: Callable[..., Event]) -> None:
    make_series(slug="bj", name="Joint Seminar", timezone="Asia/Shanghai", language="zh")
    make_event(
        series="bj",
        id="hybrid",
        title="冷冻电镜原理 with $L^2$ estimates",
        speakers=[
            {"name": "王宇航", "affiliation": "北京深势科技有限公司"},
            {"name": "Ana Lima", "homepage": "https://ana.example"},
        ],
        start="2021-11-27 09:30",
        end="2021-11-27 11:30",
        location="Room 2 — Online",
        meeting={"url": "https://meeting.example/secret", "passcode": "974114"},
    )
    make_event(
        series="bj",
        id="open",
        title="Open meeting",
        start="2021-12-04 09:30",
        end="2021-12-04 10:30",
        location="Online",
        meeting={"url": "https://meeting.example/open", "access": "public"},
    )
    make_event(
        series="bj",
        id="room",
        title="In the room",
        status="cancelled",
        start="2021-12-11 09:30",
        end="2021-12-11 10:30",
        location={"room": "Room 2", "address": "1 Main Street"},
        speakers=[],
        abstract="",
    )
    make_series(slug="quiet", name="Quiet", visibility="unlisted")
    make_event(series="quiet", id="quiet-talk", title="Quiet talk")


def test_talk_page_carries_a_schema_org_event(client: FlaskClient, talks: None) -> None:
    event = only_event(structured(client, "/events/hybrid"))
    assert event["name"] == "冷冻电镜原理 with L^2 estimates"
    assert event["startDate"] == "2021-11-27T09:30:00+08:00"
    assert event["endDate"] == "2021-11-27T11:30:00+08:00"
    start = datetime.fromisoformat(event["startDate"])
    assert start.astimezone(UTC) == datetime(2021, 11, 27, 1, 30, tzinfo=UTC)
    assert event["eventStatus"] == SCHEMA + "EventScheduled"
    assert event["eventAttendanceMode"] == SCHEMA + "MixedEventAttendanceMode"
    place, virtual = event["location"]
    assert place == {"@type": "Place", "name": "Room 2"}
    # The meeting is for subscribers: the public gets the talk page, never the link.
    assert virtual == {"@type": "VirtualLocation", "url": BASE + "/events/hybrid"}
    assert [p["name"] for p in event["performer"]] == ["王宇航", "Ana Lima"]
    assert event["performer"][0]["affiliation"]["name"] == "北京深势科技有限公司"
    assert event["organizer"] == {
        "@type": "Organization",
        "name": "Joint Seminar",
        "url": BASE + "/series/bj",
    }
    assert event["inLanguage"] == "zh"
    html = client.get("/events/hybrid").get_data(as_text=True)
    assert "meeting.example/secret" not in html and "974114" not in html


def test_public_meeting_link_and_offline_cancelled_talk(client: FlaskClient, talks: None) -> None:
    online = only_event(structured(client, "/events/open"))
    assert online["eventAttendanceMode"] == SCHEMA + "OnlineEventAttendanceMode"
    assert online["location"] == {"@type": "VirtualLocation", "url": "https://meeting.example/open"}
    cancelled = only_event(structured(client, "/events/room"))
    assert cancelled["eventStatus"] == SCHEMA + "EventCancelled"
    assert cancelled["eventAttendanceMode"] == SCHEMA + "OfflineEventAttendanceMode"
    assert cancelled["location"] == {
        "@type": "Place",
        "name": "Room 2",
        "address": "1 Main Street",
    }
    assert "performer" not in cancelled


def test_opengraph_and_twitter_tags(client: FlaskClient, talks: None) -> None:
    (og,) = structured(client, "/events/hybrid")["opengraph"]
    assert og["og:title"] == "冷冻电镜原理 with L^2 estimates"
    assert og["og:url"] == BASE + "/events/hybrid"
    assert og["og:description"].startswith("王宇航, Ana Lima")
    html = client.get("/events/hybrid").get_data(as_text=True)
    assert '<meta name="twitter:card" content="summary">' in html
    assert f'<link rel="canonical" href="{BASE}/events/hybrid">' in html


def test_calendar_links_carry_the_right_instants(client: FlaskClient, talks: None) -> None:
    html = client.get("/events/hybrid").get_data(as_text=True)
    links = {}
    for label in ("Add to Google Calendar", "Add to Outlook", "Outlook.com"):
        anchor = html[: html.index(f">{label}</a>")]
        href = anchor[anchor.rindex('href="') + 6 :].split('"', 1)[0].replace("&amp;", "&")
        links[label] = urlsplit(href)
    google = parse_qs(links["Add to Google Calendar"].query)
    assert google["dates"] == ["20211127T013000Z/20211127T033000Z"]
    hosts = {"Add to Outlook": "outlook.office.com", "Outlook.com": "outlook.live.com"}
    for label, host in hosts.items():
        outlook = links[label]
        query = parse_qs(outlook.query)
        assert outlook.netloc == host and outlook.path == "/calendar/0/deeplink/compose"
        assert query["startdt"] == ["2021-11-27T01:30:00Z"]
        assert query["enddt"] == ["2021-11-27T03:30:00Z"]
        assert query["subject"] == ["冷冻电镜原理 with L^2 estimates"]
        assert query["rru"] == ["addevent"]
    assert 'href="/events/hybrid.ics"' in html or "/events/hybrid.ics" in html


def test_sitemap_lists_public_pages_only(client: FlaskClient, talks: None) -> None:
    answer = client.get("/sitemap.xml")
    assert answer.status_code == 200 and answer.mimetype == "application/xml"
    root = ET.fromstring(answer.data)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    urls = [loc.text for loc in root.findall("s:url/s:loc", ns)]
    assert urls[:2] == [BASE + "/", BASE + "/series/bj"]
    assert set(urls[2:]) == {BASE + f"/events/{t}" for t in ("hybrid", "open", "room")}
    assert all(u and "quiet" not in u for u in urls)
    assert root.find("s:url[2]/s:lastmod", ns) is not None


def test_sitemap_lists_topics(client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        topics.add_topic(session, "math", "Mathematics")
    root = ET.fromstring(client.get("/sitemap.xml").data)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    urls = [loc.text for loc in root.findall("s:url/s:loc", ns)]
    assert urls == [BASE + "/", BASE + "/topics", BASE + "/topics/math"]


def test_robots_txt(client: FlaskClient) -> None:
    answer = client.get("/robots.txt")
    assert answer.mimetype == "text/plain"
    lines = answer.get_data(as_text=True).splitlines()
    assert lines[0] == "User-agent: *"
    assert {"Disallow: /manage/", "Disallow: /s/", "Disallow: /api/"} <= set(lines)
    assert lines[-1] == f"Sitemap: {BASE}/sitemap.xml"


def test_unlisted_pages_ask_not_to_be_indexed(client: FlaskClient, talks: None) -> None:
    noindex = '<meta name="robots" content="noindex">'
    assert noindex in client.get("/events/quiet-talk").get_data(as_text=True)
    assert noindex in client.get("/series/quiet").get_data(as_text=True)
    assert noindex not in client.get("/events/hybrid").get_data(as_text=True)
    assert noindex not in client.get("/series/bj").get_data(as_text=True)
