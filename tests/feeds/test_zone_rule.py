"""The zone rule across every output, for a Beijing-time talk in a Europe/Lisbon series.

The talk's own zone leads every human-readable time; the reader's zone follows in
parentheses when known (page viewer, email subscriber), UTC where no reader is known
(feed bodies); titles carry the talk's zone alone. The series' zone never leads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from email import message_from_bytes, policy

import feedparser
from flask.testing import FlaskClient
from icalendar import Calendar

from events.models import Event
from feeds import email as mail
from tests.support.mailtools import text_part

BEIJING = "Sat 05 Dec 2026, 09:30–10:30 Beijing time"
BEIJING_START = "Sat 05 Dec 2026, 09:30 Beijing time"
LISBON_SECOND = "(01:30–02:30 Lisbon time)"
UTC_SECOND = "(01:30–02:30 UTC)"


def _talk(make_event: Callable[..., Event]) -> Event:
    return make_event(
        id="beijing-in-lisbon",
        title="Cryo-EM algorithms",
        speakers=[{"name": "Wang Yuhang"}],
        timezone="Beijing time",
        start="2026-12-05 09:30",
        end="10:30",
    )


def test_feeds_and_pages_lead_with_the_talks_zone(
    client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    talk = _talk(make_event)
    assert talk.series.timezone == "Europe/Lisbon" and talk.timezone == "Asia/Shanghai"

    for fmt in ("rss", "atom"):
        entry = feedparser.parse(client.get(f"/series/lisbon-ml.{fmt}").data).entries[0]
        assert entry.title == f"Wang Yuhang: Cryo-EM algorithms — {BEIJING_START}", fmt
        assert "Lisbon time" not in entry.title
        assert entry.summary.startswith(BEIJING), fmt
        content = entry.content[0].value
        assert f"When:</strong> {BEIJING}<br />" in content, fmt
        assert "01:30–02:30 UTC" in content, fmt

    item = json.loads(client.get("/series/lisbon-ml.json").data)["items"][0]
    assert item["title"].endswith(BEIJING_START)
    assert item["summary"].startswith(BEIJING)

    calendar = Calendar.from_ical(client.get("/series/lisbon-ml.ics").data)
    [vevent] = calendar.walk("VEVENT")
    assert str(vevent["DESCRIPTION"]).startswith(f"{BEIJING} {UTC_SECOND}")

    page = client.get("/events/beijing-in-lisbon?tz=America/New_York").get_data(as_text=True)
    times = re.findall(r'<span class="zt (\w+)">.*?<span class="zl">([^<]+)</span>', page)
    assert times == [("primary", "Beijing time"), ("secondary", "New York time")]
    assert "Lisbon time" not in page


def test_emails_lead_with_the_talks_zone_then_the_readers(
    make_event: Callable[..., Event],
) -> None:
    talk = _talk(make_event)
    reader = mail.Reader(
        email="reader@example.pt",
        timezone="Europe/Lisbon",
        manage_url="https://events.example.org/manage/t",
        unsubscribe_url="https://events.example.org/unsubscribe/t",
    )
    envelope = mail.Envelope.new("EventFeed <noreply@events.example.org>", "events.example.org")
    msg = mail.event_email(
        "announcement", talk, talk.series, reader, envelope, event_url="https://x/", ics=None
    )
    parsed = message_from_bytes(mail.to_bytes(msg), policy=policy.default)
    assert parsed["Subject"].endswith(f"{BEIJING_START} (01:30 Lisbon time)")
    assert f"{BEIJING} {LISBON_SECOND}" in text_part(parsed)
