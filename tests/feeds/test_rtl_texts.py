"""Right-to-left names in plain-text places (email text and HTML parts, calendar SUMMARY and
DESCRIPTION): each Arabic or Hebrew name and affiliation sits between FSI and PDI (Unicode
isolates), so it cannot swap places with its affiliation or the next name; texts without a
right-to-left letter are unchanged byte for byte."""

from __future__ import annotations

from collections.abc import Callable

import icalendar
import pytest

from events.models import Event
from feeds import display
from feeds.ical import render_calendar
from tests.feeds.test_email_languages import reader
from tests.feeds.test_email_snapshots import build
from tests.feeds.test_ical_feed import DOMAIN, INFO, LINKS
from tests.support.mailtools import html_part, text_part

ARABIC, PLACE, HEBREW = "عمر الخيام", "جامعة القاهرة", "דוד לוי"
FSI, PDI = "\u2068", "\u2069"


def test_isolate_only_right_to_left_texts() -> None:
    assert display.isolate(ARABIC) == f"{FSI}{ARABIC}{PDI}"
    assert display.isolate(HEBREW) == f"{FSI}{HEBREW}{PDI}"
    for text in ("Maria Costa", "王宇航", "Zoë Ångström", "", "Иван"):
        assert display.isolate(text) == text
    speakers = [
        {"name": ARABIC, "affiliation": PLACE},
        {"name": "Maria Costa", "affiliation": "IST"},
        {"name": HEBREW},
    ]
    assert display.speakers_text(speakers) == (  # type: ignore[arg-type]
        f"{FSI}{ARABIC}{PDI} ({FSI}{PLACE}{PDI}), Maria Costa (IST), {FSI}{HEBREW}{PDI}"
    )
    assert display.speaker_names(speakers) == (  # type: ignore[arg-type]
        f"{FSI}{ARABIC}{PDI}, Maria Costa, {FSI}{HEBREW}{PDI}"
    )


@pytest.fixture
def rtl_talk(make_event: Callable[..., Event]) -> Event:
    return make_event(
        id="2026-12-05-rtl",
        title="Number theory",
        speakers=[{"name": ARABIC, "affiliation": PLACE}, {"name": "Maria Costa"}],
        start="2026-12-05 09:30",
        end="2026-12-05 11:30",
    )


@pytest.mark.parametrize("locale", ["pt_PT", "zh_Hans"])
def test_emails_isolate_right_to_left_names(rtl_talk: Event, locale: str) -> None:
    message = build("announcement", rtl_talk, reader(locale))
    isolated = f"{FSI}{ARABIC}{PDI} ({FSI}{PLACE}{PDI}), Maria Costa"
    assert isolated in text_part(message)
    assert isolated in html_part(message)


def test_calendars_isolate_right_to_left_names(rtl_talk: Event) -> None:
    data = render_calendar([rtl_talk], info=INFO, links=LINKS, domain=DOMAIN, audience="public")
    (vevent,) = icalendar.Calendar.from_ical(data).walk("VEVENT")
    assert str(vevent["SUMMARY"]) == f"Number theory — {FSI}{ARABIC}{PDI}, Maria Costa"
    assert f"{FSI}{ARABIC}{PDI} ({FSI}{PLACE}{PDI}); Maria Costa" in str(vevent["DESCRIPTION"])
