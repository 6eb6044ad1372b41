"""What real feed readers and calendar clients make of our feeds (issue 14 interop findings).

- Plain text stays text: feedparser reads RSS `<title>`/`<description>` as HTML, so hostile
  markup in a title or abstract must come out as literal characters, never as live tags.
- Item ids are absolute IRIs, the same in every feed (feedparser resolves a relative id
  against each feed's URL, which gave one talk a different id per feed).
- Subscription calendars carry no iTIP METHOD (RFC 5546 requires ORGANIZER with
  METHOD:PUBLISH); emails keep METHOD with ORGANIZER.
- A cancelled talk's SUMMARY says so, for clients that ignore STATUS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import feedparser
import pytest
from flask.testing import FlaskClient
from icalendar import Calendar

from events.models import Event, Series
from feeds.syndication import item_id
from mail.sender import event_calendar
from tests.support.parsers import all_parsers
from web.context import state

TITLE = "Hostile <i>t</i> & co"
ABSTRACT = (
    'Look: <img src="https://tracker.example/p.gif"> and '
    '<a href="https://evil.example/x">click here</a>.'
)
# RFC 4151: tag:<DNS name>,<year[-month[-day]]>:<specific>
TAG_URI = re.compile(
    r"^tag:[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*,"
    r"\d{4}(-\d{2}(-\d{2})?)?:[A-Za-z0-9._~!$&'()*+,;=:@/?%-]+$"
)


class _Text(HTMLParser):
    """The text a reader shows for an HTML value, and the tags it would make live."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def shown(detail: Any) -> tuple[str, list[str]]:
    """Return (text shown, live tags) of a feedparser value by its declared type."""
    if detail.type == "text/plain":
        return detail.value, []
    assert detail.type in ("text/html", "application/xhtml+xml"), detail.type
    parser = _Text()
    parser.feed(detail.value)
    parser.close()
    return "".join(parser.parts), parser.tags


@pytest.fixture
def hostile(make_series: Callable[..., Series], make_event: Callable[..., Event]) -> Event:
    """A public series named with markup, and a talk with a hostile title and abstract."""
    make_series(name="Series <b>bold</b>")
    return make_event(
        id="hostile",
        title=TITLE,
        abstract=ABSTRACT,
        speakers=[],
        start="2099-03-01 12:00",
        end="2099-03-01 13:00",
    )


@pytest.mark.parametrize("url", ["/series/lisbon-ml.rss", "/feed.rss", "/series/lisbon-ml.atom"])
def test_titles_and_descriptions_come_out_as_text(
    client: FlaskClient, hostile: Event, url: str
) -> None:
    feed = feedparser.parse(client.get(url).data)
    assert not feed.bozo, feed.get("bozo_exception")
    [entry] = feed.entries
    title, title_tags = shown(entry.title_detail)
    assert title_tags == []
    assert title.startswith(TITLE + " — ")
    summary, summary_tags = shown(entry.summary_detail)
    assert summary_tags == []  # no tracker image, no link: the markup is text
    assert '<img src="https://tracker.example/p.gif">' in summary
    assert '<a href="https://evil.example/x">click here</a>' in summary
    if url != "/feed.rss":  # the site-wide feed has its own name
        channel, channel_tags = shown(feed.feed.title_detail)
        assert (channel, channel_tags) == ("Series <b>bold</b>", [])
    # The HTML body is where HTML goes, declared and sanitised: still no tracker or link.
    body = entry.content[0]
    assert body.type == "text/html"
    assert "tracker.example" not in re.sub(r"&lt;.*?&gt;", "", body.value)
    _, body_tags = shown(body)
    assert "img" not in body_tags and "i" not in body_tags


def test_json_feed_title_and_summary_are_the_text(client: FlaskClient, hostile: Event) -> None:
    [item] = json.loads(client.get("/series/lisbon-ml.json").data)["items"]
    assert item["title"].startswith(TITLE + " — ")
    assert '<img src="https://tracker.example/p.gif">' in item["summary"]
    assert "<img" not in item["content_html"] and "<i>" not in item["content_html"]


def test_a_talk_has_the_same_valid_id_in_every_feed(
    client: FlaskClient, make_series: Callable[..., Series], make_event: Callable[..., Event]
) -> None:
    """Series and site-wide RSS, Atom and JSON Feed give one talk one `tag:` IRI."""
    make_series(slug="algebra", name="Algebra")
    make_event(
        series="algebra", id="2099-12-17-metodos", start="2099-12-17 12:00", end="2099-12-17 13:00"
    )
    make_event(series="algebra", id="other", start="2099-12-18 12:00", end="2099-12-18 13:00")
    expected = item_id("2099-12-17-metodos", "events.example.org")
    assert expected == "tag:events.example.org,2026:event/2099-12-17-metodos"
    assert TAG_URI.match(expected)
    found: dict[str, set[str]] = {}
    for url in ("/series/algebra.atom", "/series/algebra.rss", "/feed.atom", "/feed.rss"):
        # As a reader that fetched the feed's URL: relative references resolve against it.
        answer = client.get(url)
        headers = {"content-type": answer.content_type}
        headers["content-location"] = f"https://events.example.org{url}"
        feed = feedparser.parse(answer.data, response_headers=headers)
        assert not feed.bozo
        found[url] = {entry.id for entry in feed.entries}
    for url in ("/series/algebra.json", "/feed.json"):
        found[url] = {item["id"] for item in json.loads(client.get(url).data)["items"]}
    for url, ids in found.items():
        assert expected in ids, (url, ids)
        assert all(TAG_URI.match(i) for i in ids), ids
    assert len({frozenset(ids) for ids in found.values()}) == 1


def test_item_ids_on_a_host_that_is_no_dns_name_are_urn_uuids() -> None:
    one = item_id("talk", "::1")
    assert re.match(
        r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$", one
    )
    assert item_id("talk", "::1") == one != item_id("talk-2", "::1")


def itip_problems(ics: bytes) -> list[str]:
    """Return RFC 5546 problems libical's iTIP check reports: METHOD:PUBLISH needs ORGANIZER."""
    calendar = Calendar.from_ical(ics)
    if "METHOD" not in calendar:
        return []
    return [
        f"{event['UID']}: METHOD:{calendar['METHOD']} without ORGANIZER"
        for event in calendar.walk("VEVENT")
        if "ORGANIZER" not in event
    ]


def test_subscription_feeds_carry_no_method_and_emails_carry_organizer(
    client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    event = make_event(id="itip", start="2099-03-01 12:00", end="2099-03-01 13:00")
    for url in ("/series/lisbon-ml.ics", "/calendar.ics", "/events/itip.ics"):
        ics = client.get(url).data
        assert b"\r\nMETHOD:" not in ics, url
        assert itip_problems(ics) == [], url
    settings = state(client.application).settings
    attached = event_calendar(event, event.series, settings).encode()
    assert b"\r\nMETHOD:PUBLISH\r\n" in attached
    assert itip_problems(attached) == []


def test_a_cancelled_talks_summary_says_so(
    client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    """Clients that ignore STATUS (calcurse; Google deletes the event) still see it."""
    make_event(id="off", status="cancelled", start="2099-03-01 12:00", end="2099-03-01 13:00")
    make_event(id="on", start="2099-03-02 12:00", end="2099-03-02 13:00")
    for url in ("/series/lisbon-ml.ics", "/calendar.ics", "/events/off.ics"):
        for name, parsed in all_parsers(client.get(url).data).items():
            summaries = {p.uid.split("@")[0]: (p.status, p.summary) for p in parsed}
            assert summaries["off"] == (
                "CANCELLED",
                "Cancelled: Deep networks and their limits — Maria Costa",
            ), (url, name)
            if "on" in summaries:
                assert summaries["on"][1] == "Deep networks and their limits — Maria Costa"
