"""Human-readable times, places and people, for every output (pages, feeds, emails).

**The zone rule.** Every human-readable time of a talk leads with the talk's own zone (the
zone its organiser gave it: where it happens, what its announcement says), then, in
parentheses, the reader's zone when it is known and different:
'Sat 27 Nov 2021, 09:30–11:30 Beijing time (01:30–03:30 Lisbon time)'. The reader is the
viewer of a page (browser zone), the subscriber of an email (their zone); feeds have no
reader, so their bodies give UTC second and their titles the talk's zone alone.
`talk_zones` decides it; `talk_span` and `talk_moment` are what outputs call.

Times are converted by `events.times` (zoneinfo), so what is shown always equals the stored
instant, across DST changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from babel.dates import format_date, get_timezone_location

from events import times
from events.models import Location, Speaker

# How organisers and readers name a zone; otherwise the zone's city ("Lisbon time").
ZONE_NAMES = {
    "Asia/Shanghai": "Beijing time",
    "UTC": "UTC",
    "Etc/UTC": "UTC",
}


# The same in the other interface languages (Babel locales). What a reader there says:
# '北京时间' (CLDR would say 上海时间), 'hora de Lisboa'. Other zones: CLDR's city name.
LOCAL_ZONE_NAMES = {
    "pt_PT": {
        "Asia/Shanghai": "hora de Pequim",
        "Europe/Lisbon": "hora de Lisboa",
        "UTC": "UTC",
        "Etc/UTC": "UTC",
    },
    "zh_Hans": {
        "Asia/Shanghai": "北京时间",
        "Europe/Lisbon": "里斯本时间",
        "UTC": "UTC",
        "Etc/UTC": "UTC",
    },
}

# Other zones: CLDR's city name in the locale ('hora de Nova Iorque', '纽约时间').
ZONE_CITY_PATTERNS = {"pt_PT": "hora de {city}", "zh_Hans": "{city}时间"}

# Dates in each locale, as CLDR patterns (English keeps its own compact 'Sat 27 Nov 2021').
DAY_PATTERNS = {
    "pt_PT": "EEEE, d 'de' MMMM 'de' y",
    "zh_Hans": "y年M月d日 EEEE",
}
# How a date and a time of day are joined: 'Sat 27 Nov 2021, 09:30', '2027年3月13日 星期六 09:30'.
DAY_TIME_SEPARATORS = {"zh_Hans": " "}

ENGLISH = "en"


def zone_label(zone_name: str, locale: str = ENGLISH) -> str:
    """Return a reader's name for a zone: 'Beijing time', 'hora de Lisboa', '北京时间'."""
    if locale != ENGLISH and locale in LOCAL_ZONE_NAMES:
        named = LOCAL_ZONE_NAMES[locale].get(zone_name)
        if named is not None:
            return named
        try:
            city = get_timezone_location(times.zone(zone_name), locale=locale, return_city=True)
        except (LookupError, ValueError):  # pragma: no cover - every IANA zone has a city
            city = None
        if city:
            return ZONE_CITY_PATTERNS[locale].format(city=city)
    if zone_name in ZONE_NAMES:
        return ZONE_NAMES[zone_name]
    city = zone_name.rsplit("/", 1)[-1].replace("_", " ")
    return f"{city} time"


def utc_offset(instant: datetime, zone_name: str) -> str:
    """Return the zone's offset at that instant as 'UTC+08:00'."""
    return times.utc_offset_label(instant, zone_name)


def day(instant: datetime, zone_name: str, locale: str = ENGLISH) -> str:
    """Return the date in `locale` (a Babel locale, pages' `web.i18n`).

    'Sat 27 Nov 2021' (en), 'sábado, 27 de novembro de 2021' (pt_PT), '2021年11月27日 星期六'
    (zh_Hans).
    """
    local = times.local(instant, zone_name)
    pattern = DAY_PATTERNS.get(locale)
    if pattern is None:
        return local.strftime("%a %d %b %Y")
    return format_date(local.date(), pattern, locale=locale)


def day_time(day_text: str, clock_text: str, locale: str = ENGLISH) -> str:
    """Join a date and a time of day as the locale writes them ('Sat 27 Nov 2021, 09:30')."""
    return f"{day_text}{DAY_TIME_SEPARATORS.get(locale, ', ')}{clock_text}"


def clock(instant: datetime, zone_name: str) -> str:
    """Return the time of day as '09:30'."""
    return times.local(instant, zone_name).strftime("%H:%M")


# How other locales write a span's zone (after the times) and join the reader's zone's span.
ZONE_WRAPS = {"pt_PT": "{text} ({zone})", "zh_Hans": "{text}（{zone}）"}
SECOND_ZONE_SEPARATORS = {"pt_PT": "; ", "zh_Hans": "；"}


def _with_zone(text: str, zone_name: str, locale: str) -> str:
    """Return 'text Beijing time', 'text (hora de Lisboa)', 'text（北京时间）'."""
    label = zone_label(zone_name, locale)
    wrap = ZONE_WRAPS.get(locale)
    return wrap.format(text=text, zone=label) if wrap else f"{text} {label}"


def _second(main: str, second: str, locale: str) -> str:
    """Join the talk's zone's text and the reader's: 'A (B)', 'A; B', 'A；B'."""
    separator = SECOND_ZONE_SEPARATORS.get(locale)
    return f"{main}{separator}{second}" if separator else f"{main} ({second})"


def span(
    start: datetime,
    end: datetime,
    zone_name: str,
    *,
    with_date: bool = True,
    locale: str = ENGLISH,
) -> str:
    """Return 'Sat 27 Nov 2021, 09:30–11:30 Beijing time' (both dates when they differ).

    In other locales: 'sábado, 27 de novembro de 2021, 09:30–11:30 (hora de Pequim)',
    '2021年11月27日 星期六 09:30–11:30（北京时间）'.
    """
    first_day, last_day = day(start, zone_name, locale), day(end, zone_name, locale)
    first = (
        day_time(first_day, clock(start, zone_name), locale)
        if with_date
        else clock(start, zone_name)
    )
    if first_day == last_day:
        text = f"{first}–{clock(end, zone_name)}"
    else:
        text = f"{first} – {day_time(last_day, clock(end, zone_name), locale)}"
    return _with_zone(text, zone_name, locale)


def dual_span(
    start: datetime,
    end: datetime,
    zone_name: str,
    reader_zone: str | None,
    locale: str = ENGLISH,
) -> str:
    """Return the span in `zone_name`, then in the reader's zone (in parentheses in English)."""
    main = span(start, end, zone_name, locale=locale)
    if not reader_zone or reader_zone == zone_name:
        return main
    same_date = day(start, zone_name) == day(start, reader_zone)
    return _second(
        main, span(start, end, reader_zone, with_date=not same_date, locale=locale), locale
    )


def talk_zones(talk_zone: str, reader_zone: str | None) -> tuple[str, str | None]:
    """Return (leading zone, second zone or None): the talk's zone, then the reader's."""
    return talk_zone, (reader_zone if reader_zone and reader_zone != talk_zone else None)


def talk_span(talk: times.Timed, reader_zone: str | None, locale: str = ENGLISH) -> str:
    """Return a talk's span by the zone rule (the talk's zone, then the reader's)."""
    lead, second = talk_zones(talk.timezone, reader_zone)
    return dual_span(talk.start_utc, talk.end_utc, lead, second, locale)


def talk_spans(talk: times.Timed, reader_zone: str | None, locale: str = ENGLISH) -> list[str]:
    """Return a talk's span by the zone rule as separate lines, one per zone."""
    return [
        span(talk.start_utc, talk.end_utc, zone, locale=locale)
        for zone in talk_zones(talk.timezone, reader_zone)
        if zone is not None
    ]


def moment(instant: datetime, zone_name: str, locale: str = ENGLISH) -> str:
    """Return 'Sat 27 Nov 2021, 09:30 Beijing time'.

    In other locales: 'sábado, 13 de março de 2027, 09:30 (hora de Lisboa)',
    '2027年3月13日 星期六 09:30（北京时间）'.
    """
    text = day_time(day(instant, zone_name, locale), clock(instant, zone_name), locale)
    return _with_zone(text, zone_name, locale)


def talk_moment(talk: times.Timed, reader_zone: str | None, locale: str = ENGLISH) -> str:
    """Return a talk's start by the zone rule, for titles and subjects.

    'Sat 27 Nov 2021, 09:30 Beijing time (02:30 Lisbon time)'; the reader's date is added
    when it differs from the talk's.
    """
    lead, second = talk_zones(talk.timezone, reader_zone)
    text = moment(talk.start_utc, lead, locale)
    if second is None:
        return text
    other = _with_zone(clock(talk.start_utc, second), second, locale)
    if day(talk.start_utc, second) != day(talk.start_utc, lead):
        other = _with_zone(
            day_time(day(talk.start_utc, second, locale), clock(talk.start_utc, second), locale),
            second,
            locale,
        )
    return _second(text, other, locale)


def place_text(location: Mapping[str, object] | Location | None, online: str = "Online") -> str:
    """Return a location as one line: 'Room 2, Address — Online', 'Online' or ''.

    `online` is the word for an online talk in the reader's language (pages pass theirs).
    """
    if not location:
        return ""
    place = ", ".join(str(location[k]) for k in ("room", "address") if location.get(k))
    if location.get("online"):
        return f"{place} — {online}" if place else online
    return place


# First-strong isolate ... pop directional isolate (Unicode bidi, UAX #9): a right-to-left
# name keeps its place among the names and punctuation around it in plain text.
FSI, PDI = "\u2068", "\u2069"
# Blocks of right-to-left scripts: Hebrew to Arabic Extended, their presentation forms, and
# the supplementary planes' (a regex: C-speed for the many names that have none).
RTL_LETTER = re.compile(
    "[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefe\U00010800-\U00010fff\U0001e800-\U0001efff]"
)


def isolate(text: str) -> str:
    """Return `text` between FSI and PDI when it holds a right-to-left letter, else as is
    (so texts without Arabic or Hebrew script stay byte for byte the same)."""
    if RTL_LETTER.search(text):
        return f"{FSI}{text}{PDI}"
    return text


def speaker_names(speakers: Sequence[Speaker]) -> str:
    """Return 'Name1, Name2' ('' without speakers), right-to-left names isolated."""
    return ", ".join(isolate(str(s["name"])) for s in speakers if s.get("name"))


def speakers_text(speakers: Sequence[Speaker], separator: str = ", ") -> str:
    """Return 'Name (Affiliation), Name' for the speakers of a talk (right-to-left names and
    affiliations isolated)."""
    return separator.join(
        f"{isolate(str(s['name']))} ({isolate(str(s['affiliation']))})"
        if s.get("affiliation")
        else isolate(str(s["name"]))
        for s in speakers
    )
