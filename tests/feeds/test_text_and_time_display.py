"""Shared display helpers: abstracts as text/HTML, readable times, access policy, links."""

from __future__ import annotations

import pytest

from events.access import visible_meeting
from feeds import display, links, text
from tests.support.htmlcheck import active_parts
from tests.support.zones import LISBON_FALL_BACK_AMBIGUOUS, SHANGHAI, utc

MEETING = {
    "platform": "Tencent Meeting",
    "url": "https://meeting.tencent.com/dm/x",
    "id": "329744341",
    "passcode": "974114",
    "alternate_id": "553 2421 7498",
}


def test_active_parts_detects_what_it_should() -> None:
    assert active_parts('<p><script>x</script><img onerror="y"><a href="javascript:z">') == [
        "script",
        "img@onerror",
        "a@href=javascript:z",
    ]


def test_latex_becomes_readable_text() -> None:
    assert text.plain_text("The $\\infty$-Laplacian") == "The ∞-Laplacian"
    assert text.plain_text("width $36d(2d + 1)$ and $\\sigma$") == "width 36d(2d + 1) and σ"
    assert text.plain_text("costs $5 and $6") == "costs $5 and $6" or "$" in text.plain_text(
        "costs $5 and $6"
    )


def test_markdown_html_renders_math_as_mathml() -> None:
    html = text.markdown_html("The $\\infty$-Laplacian, **bold**")
    assert "<math" in html and "∞" in html
    assert "<strong>bold</strong>" in html


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "$\\href{javascript:alert(1)}{x}$",
    ],
)
def test_markdown_html_never_carries_active_content(payload: str) -> None:
    assert active_parts(text.markdown_html(f"Abstract {payload} end")) == []


def test_dual_span_matches_the_email_example() -> None:
    start, end = SHANGHAI.start_utc, SHANGHAI.end_utc
    assert (
        display.dual_span(start, end, "Asia/Shanghai", "Europe/Lisbon")
        == "Sat 27 Nov 2021, 09:30–11:30 Beijing time (01:30–03:30 Lisbon time)"
    )
    assert (
        display.dual_span(start, end, "Asia/Shanghai", "America/New_York")
        == "Sat 27 Nov 2021, 09:30–11:30 Beijing time (Fri 26 Nov 2021, 20:30–22:30 New York time)"
    )


def test_span_on_a_dst_day_uses_the_right_offsets() -> None:
    case = LISBON_FALL_BACK_AMBIGUOUS
    assert display.span(case.start_utc, case.end_utc, "Europe/Lisbon") == (
        "Sun 25 Oct 2026, 01:30–02:30 Lisbon time"
    )
    assert display.utc_offset(case.start_utc, "Europe/Lisbon") == "UTC+01:00"
    assert display.utc_offset(case.end_utc, "Europe/Lisbon") == "UTC+00:00"
    assert display.span(utc(2026, 6, 1, 23), utc(2026, 6, 2, 1), "UTC") == (
        "Mon 01 Jun 2026, 23:00 – Tue 02 Jun 2026, 01:00 UTC"
    )


def test_access_policy() -> None:
    public = visible_meeting({**MEETING, "access": "public"}, "public")
    assert public is not None and public.passcode == "974114"
    withheld = visible_meeting({**MEETING, "access": "subscribers"}, "public")
    assert withheld is not None and withheld.withheld
    assert (withheld.url, withheld.id, withheld.passcode, withheld.alternate_id) == (None,) * 4
    subscriber = visible_meeting({**MEETING, "access": "subscribers"}, "subscriber")
    assert subscriber is not None and subscriber.url == MEETING["url"]
    assert visible_meeting({**MEETING, "access": "hidden"}, "subscriber") is None


def test_links() -> None:
    site = links.Links("https://events.example.org/")
    feed = site.series_feed("ml-joint-seminar", "ics")
    assert feed == "https://events.example.org/series/ml-joint-seminar.ics"
    assert links.webcal(feed) == "webcal://events.example.org/series/ml-joint-seminar.ics"
    assert "cid=webcal%3A%2F%2Fevents.example.org" in links.google_calendar_subscribe(feed)
    assert site.site_feed("ics", {"series": "a,b"}) == (
        "https://events.example.org/calendar.ics?series=a%2Cb"
    )
