"""The iCalendar renderer, read back by ical.js, the strict `ical` package and icalendar."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import icalendar
import pytest

from events.models import Event
from feeds import ical
from feeds.ical import CalendarInfo, render_calendar, render_vevent
from feeds.links import Links
from tests.conftest import BASE_URL
from tests.support import zones
from tests.support.parsers import all_parsers, icaljs

LINKS = Links(BASE_URL)
DOMAIN = "events.example.org"
INFO = CalendarInfo(
    name="Lisbon Machine Learning Seminar",
    description="Talks on machine learning.\nHeld online; commas, semicolons; and \\ too.",
    url=LINKS.series_page("lisbon-ml"),
)


def _render(events: list[Event], audience: Any = "public") -> bytes:
    return render_calendar(events, info=INFO, links=LINKS, domain=DOMAIN, audience=audience)


def test_every_zone_case_gives_the_stored_instants_in_every_parser(
    make_event: Callable[..., Event],
) -> None:
    events = [
        make_event(id=case.name, timezone=case.timezone, start=case.start, end=case.end)
        for case in zones.ALL_CASES
    ]
    ics = _render(events)
    assert b"RDATE" not in ics
    assert ics.count(b"RRULE:FREQ=YEARLY") >= 4  # Lisbon and New York: STANDARD + DAYLIGHT
    expected = {f"{case.name}@{DOMAIN}": case for case in zones.ALL_CASES}
    for parser, parsed in all_parsers(ics).items():
        assert {p.uid for p in parsed} == set(expected), parser
        for p in parsed:
            case = expected[p.uid]
            assert (p.start, p.end) == (case.start_utc, case.end_utc), (parser, case.name)


def test_calendar_header_and_event_properties(make_event: Callable[..., Event]) -> None:
    event = make_event(
        id="hybrid",
        title="Sur les équations; a, b",
        speakers=[
            {"name": "王宇航", "affiliation": "北京深势科技有限公司"},
            {"name": "Ana Lima", "affiliation": "IST, Lisbon"},
        ],
        abstract="Line one, with commas; and semicolons.\n\nSecond paragraph: $\\infty$-Laplacian "
        + "long text " * 200,
        location="Room 2.1 — Online",
        meeting={"platform": "Zoom", "url": "https://zoom.example/j/1", "access": "public"},
        recording="https://video.example/r",
        tags=["pde", "analysis"],
    )
    ics = _render([event])
    text = ics.decode()
    for line in (
        "VERSION:2.0",
        "REFRESH-INTERVAL;VALUE=DURATION:PT6H",
        "X-PUBLISHED-TTL:PT6H",
        "URL;VALUE=URI:https://events.example.org/series/lisbon-ml",
        "NAME:Lisbon Machine Learning Seminar",
        "X-WR-CALNAME;VALUE=TEXT:Lisbon Machine Learning Seminar",
        "STATUS:CONFIRMED",
        "SEQUENCE:0",
        "CATEGORIES:pde,analysis",
        "DTSTART;TZID=Europe/Lisbon:20260115T120000",
    ):
        assert line in text.split("\r\n"), line
    assert "CONFERENCE;FEATURE=AUDIO,VIDEO;LABEL=Zoom;VALUE=URI:https://zoom.example/j/1" in (
        text.replace("\r\n ", "")
    )
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    calendar, (parsed,) = icaljs(ics)
    assert calendar["description"] == calendar["caldesc"] == INFO.description
    assert calendar["calname"] == calendar["name"] == INFO.name
    assert str(icalendar.Calendar.from_ical(ics)["X-WR-CALDESC"]) == INFO.description
    assert parsed.summary == "Sur les équations; a, b — 王宇航, Ana Lima"
    assert parsed.location == "Room 2.1 — Online"
    assert "王宇航 (北京深势科技有限公司); Ana Lima (IST, Lisbon)" in parsed.description
    assert "Line one, with commas; and semicolons.\n\nSecond paragraph: ∞-Laplacian" in (
        parsed.description
    )
    assert "Join: https://zoom.example/j/1" in parsed.description
    assert "Recording: https://video.example/r" in parsed.description
    assert "Talk page: https://events.example.org/events/hybrid" in parsed.description
    for parser, events in all_parsers(ics).items():
        assert events[0].description == parsed.description, parser
        assert events[0].summary == parsed.summary, parser


def test_vevent_is_stable_between_renders(make_event: Callable[..., Event]) -> None:
    event = make_event(title="The $\\infty$-Laplacian")
    assert icaljs(_render([event]))[1][0].summary == "The ∞-Laplacian — Maria Costa"
    first = render_vevent(event, links=LINKS, domain=DOMAIN, audience="public")
    assert first == render_vevent(event, links=LINKS, domain=DOMAIN, audience="public")
    stamp = event.updated_at.strftime("%Y%m%dT%H%M%SZ").encode()
    assert b"DTSTAMP:" + stamp in first


@pytest.mark.parametrize("audience", ["public", "subscriber"])
def test_meeting_details_follow_the_access_policy(
    make_event: Callable[..., Event], audience: Any
) -> None:
    meeting = {
        "platform": "Tencent Meeting",
        "url": "https://meeting.example/secret-link",
        "id": "329744341",
        "passcode": "974114",
        "access": "subscribers",
    }
    hidden = {**meeting, "url": "https://meeting.example/hidden", "passcode": "hidden-pass"}
    events = [
        make_event(id="subs", meeting=meeting),
        make_event(id="hidden", meeting={**hidden, "access": "hidden"}),
    ]
    text = _render(events, audience).decode().replace("\r\n ", "")
    assert "hidden-pass" not in text and "meeting.example/hidden" not in text
    secret_shown = "974114" in text and "secret-link" in text
    assert secret_shown == (audience == "subscriber")
    if audience == "public":
        assert "join details are sent to subscribers" in text
        assert "CONFERENCE" not in text


def test_zones_whose_rules_changed_get_a_listed_vtimezone(
    make_event: Callable[..., Event],
) -> None:
    # Mexico dropped DST in October 2022: the current yearly rule is wrong for 2021.
    cases = {
        "mx-2021-summer": ("America/Mexico_City", "2021-07-01 10:00", "11:00", (15, 16)),
        "mx-2023-summer": ("America/Mexico_City", "2023-07-01 10:00", "11:00", (16, 17)),
        "mx-2022-winter": ("America/Mexico_City", "2022-12-01 10:00", "11:00", (16, 17)),
    }
    events = [
        make_event(id=name, timezone=zone, start=start, end=end)
        for name, (zone, start, end, _) in cases.items()
    ]
    ics = _render(events)
    assert b"RDATE" not in ics and b"TZID:America/Mexico_City" in ics
    for parser, parsed in all_parsers(ics).items():
        for p in parsed:
            hours = cases[p.uid.split("@")[0]][3]
            assert (p.start.hour, p.end.hour) == hours, (parser, p.uid)
            assert p.start_zone in ("America/Mexico_City", "UTC") or "Mexico" in p.start_zone


def test_talks_at_the_edge_of_the_year_range_render_fast_and_right(
    make_event: Callable[..., Event],
) -> None:
    # Issue 14: a talk in 9000 cost 31.9 s per render; years are now bounded (1900-2200) and
    # a VTIMEZONE is checked and listed only up to the zone's final yearly rule, then carries
    # that rule as RRULE observances: every parser must still read every talk right.
    cases = {
        "ny-2000": ("America/New_York", "2000-07-01 10:00", "11:00"),
        "ny-2009-winter": ("America/New_York", "2009-01-15 10:00", "11:00"),
        "ny-2026": ("America/New_York", "2026-07-01 10:00", "11:00"),
        "ny-2200": ("America/New_York", "2200-12-31 22:00", "23:00"),
        "lisbon-1920": ("Europe/Lisbon", "1920-01-01 10:00", "11:00"),
        "utc-1900": ("UTC", "1900-01-01 00:00", "01:00"),
        "lisbon-2200": ("Europe/Lisbon", "2200-07-01 10:00", "11:00"),
    }
    events = [
        make_event(id=name, timezone=zone, start=start, end=end)
        for name, (zone, start, end) in cases.items()
    ]
    ical.vtimezone.cache_clear()
    ics = _render(events)  # timed by the next test, on a span a shared machine cannot blur
    assert b"RDATE" not in ics
    stored = {f"{e.id}@{DOMAIN}": (e.start_utc, e.end_utc) for e in events}
    for parser, parsed in all_parsers(ics).items():
        assert {p.uid for p in parsed} == set(stored), parser
        for p in parsed:
            assert (p.start, p.end) == stored[p.uid], (parser, p.uid)


def test_one_far_talk_with_a_near_one_renders_in_milliseconds(
    make_event: Callable[..., Event],
) -> None:
    make_event(id="near", timezone="Europe/Lisbon", start="2026-03-01 10:00", end="11:00")
    far = make_event(id="far", timezone="Europe/Lisbon", start="2200-12-31 10:00", end="11:00")
    near = make_event(id="near2", timezone="Europe/Lisbon", start="2026-03-02 10:00", end="11:00")
    ical.vtimezone.cache_clear()
    started = time.perf_counter()
    _render([near, far])
    assert time.perf_counter() - started < 0.5  # 2.4 s before
