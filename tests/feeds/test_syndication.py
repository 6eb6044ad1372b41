"""RSS 2.0, Atom and JSON Feed: read back by feedparser and checked against the specs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import feedparser
import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from events import importer
from events.models import Event, Series
from server import sample_data_path
from tests.support.feed_checks import every_calendar_parses  # noqa: F401
from tests.support.htmlcheck import active_parts
from tests.web.test_feeds_http import SECRET, _edit

FORMATS = ["rss", "atom"]
ALL_URLS = [
    "/series/lisbon-ml-seminars.rss",
    "/series/lisbon-ml-seminars.atom",
    "/series/lisbon-ml-seminars.json",
    "/series/ml-joint-seminar.rss",
    "/series/ml-joint-seminar.atom",
    "/series/ml-joint-seminar.json",
    "/feed.rss",
    "/feed.atom",
    "/feed.json",
]


def _parse(client: FlaskClient, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, url
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, (url, parsed.get("bozo_exception"))
    return parsed


@pytest.fixture
def sample(sessions: sessionmaker[Session]) -> None:
    """The shipped sample data."""
    importer.import_files(sessions, [sample_data_path()])


@pytest.mark.usefixtures("sample")
def test_sample_lisbon_series_reads_well_in_a_feed_reader(client: FlaskClient) -> None:
    for fmt in FORMATS:
        feed = _parse(client, f"/series/lisbon-ml-seminars.{fmt}")
        assert feed.entries
        for entry in feed.entries:
            assert entry.published_parsed, entry.id
            if fmt == "atom":
                assert "updated_parsed" in entry and entry.updated_parsed, entry.id
            assert entry.link.startswith("https://events.example.org/events/")
            assert " — " in entry.title and "Lisbon time" in entry.title
            assert ": " in entry.title  # "Speaker: Title"
            body = entry.content[0].value
            assert "Lisbon time" in body and " UTC" in body
            assert entry.id.startswith("tag:events.example.org,2026:event/")
        announced = [e.published_parsed for e in feed.entries]
        assert announced == sorted(announced, reverse=True)
    json_feed = json.loads(client.get("/series/lisbon-ml-seminars.json").data)
    items = {item["id"].rsplit("/", 1)[1]: item for item in json_feed["items"]}
    math = [item for item in items.values() if "<math" in item["content_html"]]
    assert math and all("$n" not in item["content_html"] for item in math)
    titles = [item["title"] for item in items.values() if "Laplacian" in item["title"]]
    assert len(titles) == 2 and all("∞-Laplacian" in t and "$" not in t for t in titles)


def test_abstract_math_speakers_and_links_in_content(
    client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    make_event(
        id="math",
        speakers=[{"name": "Ana Lima", "affiliation": "IST", "homepage": "https://ana.example"}],
        abstract="The $\\infty$-Laplacian and **bold** text.",
        slides="https://slides.example/s.pdf",
        location="Room 2.1 — Online",
        meeting={"platform": "Zoom", "url": "https://zoom.example/j/9", "access": "public"},
    )
    for fmt in FORMATS:
        entry = _parse(client, f"/series/lisbon-ml.{fmt}").entries[0]
        body = entry.content[0].value
        assert "<math" in body and "∞" in body
        assert "<strong>bold</strong>" in body
        assert 'href="https://ana.example"' in body and "(IST)" in body
        assert "https://slides.example/s.pdf" in body
        assert "https://zoom.example/j/9" in body
        assert "Room 2.1 — Online" in body
        assert "Thu 15 Jan 2026, 12:00–13:00 Lisbon time" in body
        assert "Thu 15 Jan 2026, 12:00–13:00 UTC" in body
        assert (
            entry.title
            == "Ana Lima: Deep networks and their limits — Thu 15 Jan 2026, 12:00 Lisbon time"
        )
        assert [t.term for t in entry.tags] == ["deep-learning"]


def test_item_ids_stay_and_cancelled_talks_are_marked(
    client: FlaskClient, sessions: sessionmaker[Session], make_event: Callable[..., Event]
) -> None:
    make_event(id="a", start="2027-03-01 12:00", end="2027-03-01 13:00")
    make_event(id="b", start="2027-03-08 12:00", end="2027-03-08 13:00")
    before = {fmt: _parse(client, f"/series/lisbon-ml.{fmt}") for fmt in FORMATS}
    before_json = json.loads(client.get("/series/lisbon-ml.json").data)
    _edit(sessions, "a", start="2027-03-02 15:00", end="2027-03-02 16:00", title="New title")
    _edit(sessions, "b", status="cancelled")
    for fmt in FORMATS:
        after = _parse(client, f"/series/lisbon-ml.{fmt}")
        assert {e.id for e in after.entries} == {e.id for e in before[fmt].entries}
        by_id = {e.id: e for e in after.entries}
        moved = by_id["tag:events.example.org,2026:event/a"]
        assert "New title" in moved.title and "Tue 02 Mar 2027, 15:00" in moved.title
        old = {e.id: e for e in before[fmt].entries}["tag:events.example.org,2026:event/a"]
        if fmt == "atom":
            assert moved.updated_parsed >= old.updated_parsed
        cancelled = by_id["tag:events.example.org,2026:event/b"]
        assert cancelled.title.startswith("Cancelled: ")
        assert "Cancelled:" in cancelled.content[0].value
    after_json = json.loads(client.get("/series/lisbon-ml.json").data)
    assert {i["id"] for i in after_json["items"]} == {i["id"] for i in before_json["items"]}


def test_atom_has_feed_id_self_link_and_updated(
    client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    make_event()
    feed = _parse(client, "/series/lisbon-ml.atom").feed
    assert feed.id == "https://events.example.org/series/lisbon-ml.atom"
    links = {link.rel: link.href for link in feed.links}
    assert links["self"] == "https://events.example.org/series/lisbon-ml.atom"
    assert links["alternate"] == "https://events.example.org/series/lisbon-ml"
    assert feed.updated_parsed
    rss = _parse(client, "/series/lisbon-ml.rss").feed
    assert rss.link == "https://events.example.org/series/lisbon-ml"
    # Two fetches of an unchanged feed are byte-identical (no "now" anywhere).
    assert client.get("/series/lisbon-ml.rss").data == client.get("/series/lisbon-ml.rss").data
    assert client.get("/series/lisbon-ml.atom").data == client.get("/series/lisbon-ml.atom").data


def test_json_feed_has_every_required_field(
    client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    make_event(id="one")
    make_event(id="two", speakers=[])
    response = client.get("/series/lisbon-ml.json")
    feed = json.loads(response.data)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str) and feed["title"]
    assert feed["feed_url"] == "https://events.example.org/series/lisbon-ml.json"
    assert feed["home_page_url"] == "https://events.example.org/series/lisbon-ml"
    assert isinstance(feed["items"], list) and len(feed["items"]) == 2
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert item.get("content_html") or item.get("content_text")
        assert item["date_published"].endswith("Z") and item["date_modified"].endswith("Z")
        assert all(isinstance(a["name"], str) for a in item["authors"])
        assert item["url"].startswith("https://")


HOSTILE = (
    'Hi <script>alert(1)</script> <img src=x onerror="alert(2)"> '
    '[click](javascript:alert(3)) <a href="javascript:alert(4)">x</a>'
)


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_hostile_abstracts_never_reach_the_output(
    client: FlaskClient, make_event: Callable[..., Event], fmt: str
) -> None:
    make_event(abstract=HOSTILE, title="<script>alert(5)</script> title")
    raw = client.get(f"/series/lisbon-ml.{fmt}").get_data(as_text=True)
    if fmt == "json":
        html = json.loads(raw)["items"][0]["content_html"]
    else:
        html = feedparser.parse(raw).entries[0].content[0].value
    assert active_parts(html) == []
    # Only escaped text remains: a reader sees the characters, nothing runs.
    assert "<script" not in html.lower() and "<img" not in html.lower()


def test_subscribers_passcode_appears_in_no_public_feed(
    client: FlaskClient, make_series: Callable[..., Series], make_event: Callable[..., Event]
) -> None:
    make_series(meeting=SECRET)
    make_event(id="s1", start="2027-01-10 12:00", end="2027-01-10 13:00")
    make_event(
        id="s2", start="2027-01-11 12:00", end="2027-01-11 13:00", meeting={"passcode": "555999"}
    )
    urls = [f"/series/lisbon-ml.{ext}" for ext in ("ics", "rss", "atom", "json")]
    urls += ["/calendar.ics", "/feed.rss", "/feed.atom", "/feed.json", "/events/s1.ics"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        raw = response.get_data(as_text=True).replace("\r\n ", "")
        for secret in ("974114", "555999", "secret-join-link", "329744341", "553 2421 7498"):
            assert secret not in raw, (url, secret)
        assert "sent to subscribers" in raw, url


@pytest.mark.usefixtures("sample")
@pytest.mark.parametrize("url", ALL_URLS)
def test_every_feed_parses_with_dates(client: FlaskClient, url: str) -> None:
    if url.endswith(".json"):
        feed = json.loads(client.get(url).data)
        assert feed["version"] == "https://jsonfeed.org/version/1.1"
        return
    parsed = _parse(client, url)
    for entry in parsed.entries:
        assert entry.published_parsed, (url, entry.id)
