"""iCalendar (RFC 5545/7986) feeds: records in, bytes out, built on icalendar 7.

A feed is assembled from pieces so that a later cache can store each piece:

- `render_vevent(event, ...)` gives one VEVENT; it depends only on the event (and its
  series), so it is byte-identical between fetches of an unchanged event (DTSTAMP is the
  event's `updated_at`, never "now").
- `vtimezones(zone_names, years)` gives RRULE-form VTIMEZONEs (never RDATE lists, which
  ical.js and Outlook misread), built by the `ical` package from the system tz database.
- `render_calendar(events, info=..., ...)` writes the calendar header, the VTIMEZONEs of
  every zone used, the VEVENTs and the footer; `assemble(...)` does the same from pieces.

Times carry the event's own zone (`DTSTART;TZID=Asia/Shanghai:...`); UTC events, and the
rare wall time that happens twice when clocks go back (RFC 5545 reads it as the first
occurrence, ical.js as the second), are written in UTC (`...Z`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from ical.calendar import Calendar as IcalCalendar
from ical.calendar_stream import IcsCalendarStream
from ical.timezone import IcsTimezoneInfo, Timezone
from ical.tzif import timezoneinfo
from icalendar import Calendar, vDuration, vText, vUri
from icalendar import Event as VEvent

from events import times
from events.access import Audience, MeetingView, visible_meeting
from events.models import CONTAINER_KINDS, Event
from feeds import display, i18n
from feeds.i18n import N_
from feeds.links import Links
from feeds.text import plain_text

PRODID = "-//EventFeed//EventFeed Calendar 1.0//EN"
REFRESH_INTERVAL = timedelta(hours=6)
CRLF = b"\r\n"
STATUS = {"confirmed": "CONFIRMED", "tentative": "TENTATIVE", "cancelled": "CANCELLED"}


@dataclass(frozen=True)
class CalendarInfo:
    """What the calendar header says: its name, description (plain text) and page URL.

    `method` is the iTIP METHOD (RFC 5546), for a calendar sent as a scheduling message (an
    email's attachment, which also carries ORGANIZER); subscription feeds and downloads are
    no iTIP messages and carry none (RFC 5546 requires ORGANIZER with METHOD:PUBLISH, and
    libical's iTIP check fails such a feed).
    """

    name: str
    description: str = ""
    url: str | None = None
    method: str | None = None


def uid(event_id: str, domain: str) -> str:
    """Return the UID of an event: '<id>@<domain>', stable forever."""
    return f"{event_id}@{domain}"


def locale_of(event: Event) -> str:
    """Return the locale of a talk's fixed texts: its series' language (`feeds.i18n`)."""
    return i18n.locale_of(event.series.language)


def language_parameter(event: Event) -> dict[str, Any]:
    """Return the LANGUAGE parameter of a talk's SUMMARY and DESCRIPTION (RFC 5545 3.2.10).

    The series' language tag, that of the title and abstract (English ones say so too).
    """
    tag = event.series.language
    return {"LANGUAGE": tag} if tag else {}


def summary(event: Event) -> str:
    """Return 'Title — Speaker1, Speaker2' (LaTeX as Unicode; no dash without speakers).

    A cancelled talk's starts with 'Cancelled: ', for clients that ignore STATUS (calcurse
    shows it as a normal appointment; Google deletes it). Fixed texts are in the series'
    language ('Cancelada: ', '已取消：').
    """
    _ = i18n.texts(locale_of(event)).gettext
    if event.kind == "tba":
        name = plain_text(event.series.name)
        text = f"{name} — {plain_text(event.title)}" if event.status == "cancelled" else None
        tba = _("speaker TBA")
        text = text or f"{name} — {tba}"
    else:
        speakers = list(event.speakers)
        if event.kind in CONTAINER_KINDS:
            speakers += [s for item in event.items for s in item.speakers]
        names = display.speaker_names(speakers)
        title = plain_text(event.title)
        text = f"{title} — {names}" if names else title
    return _("Cancelled: %(talk)s") % {"talk": text} if event.status == "cancelled" else text


def programme(event: Event) -> str:
    """Return a session's or workshop's items as plain-text lines in its own zone."""
    lines = []
    for item in event.items:
        start = display.clock(item.start_utc, event.timezone)
        end = display.clock(item.end_utc, event.timezone)
        names = display.speaker_names(item.speakers)
        title = plain_text(item.title) + (f" — {names}" if names else "")
        lines.append(f"{start}–{end} {title}")
    return "\n".join(lines)


def meeting_lines(view: MeetingView | None, locale: str = i18n.ENGLISH) -> list[str]:
    """Return the meeting details an audience may see, as plain-text lines in `locale`."""
    if view is None:
        return []
    _ = i18n.texts(locale).gettext
    platform = view.platform or _("Online meeting")
    if view.withheld:
        return [f"{platform}: {i18n.withheld(view.reveal_minutes, locale, capital=False)}"]
    lines = [f"{platform}:"]
    if view.url:
        lines.append(_("Join: %(value)s") % {"value": view.url})
    if view.id:
        lines.append(_("Meeting ID: %(value)s") % {"value": view.id})
    if view.passcode:
        lines.append(_("Passcode: %(value)s") % {"value": view.passcode})
    if view.alternate_id:
        lines.append(_("Alternate meeting ID: %(value)s") % {"value": view.alternate_id})
    return lines if len(lines) > 1 else []


# A talk's links as feeds label them (in the series' language).
LINK_LABELS = (
    ("livestream", N_("Livestream")),
    ("recording", N_("Recording")),
    ("slides", N_("Slides")),
    ("homepage", N_("Talk homepage")),
)


def event_links(event: Event, links: Links) -> list[tuple[str, str]]:
    """Return the (label, URL) pairs of a talk: livestream, recording, slides, pages."""
    _ = i18n.texts(locale_of(event)).gettext
    found = [(_(label), getattr(event, name)) for name, label in LINK_LABELS]
    found.append((_("Talk page"), links.event_page(event.id)))
    return [(label, url) for label, url in found if url]


def description(
    event: Event, *, links: Links, audience: Audience, now: datetime | None = None
) -> str:
    """Return the plain-text DESCRIPTION: status, time, speakers, abstract, meeting, links.

    Fixed texts and dates are in the series' language (`locale_of`).
    """
    locale = locale_of(event)
    _ = i18n.texts(locale).gettext
    parts: list[str] = []
    if event.status == "cancelled":
        parts.append(_("CANCELLED: this talk will not take place."))
    elif event.status == "tentative":
        parts.append(_("Tentative: the time or details may still change."))
    parts.append(display.talk_span(event, "UTC", locale))
    if event.kind == "tba" and event.status != "cancelled":
        parts.append(
            _("Speaker to be announced: this slot of the series' schedule has no talk yet.")
        )
    if event.kind in CONTAINER_KINDS and event.items:
        parts.append(programme(event))
    if event.speakers:
        label = i18n.texts(locale).ngettext(
            "Speaker: %(names)s", "Speakers: %(names)s", len(event.speakers)
        )
        parts.append(label % {"names": display.speakers_text(event.speakers, "; ")})
    if event.abstract.strip():
        parts.append(plain_text(event.abstract).strip())
    meeting = meeting_lines(
        visible_meeting(event.meeting, audience, start=event.start_utc, now=now), locale
    )
    if meeting:
        parts.append("\n".join(meeting))
    parts.append("\n".join(f"{label}: {url}" for label, url in event_links(event, links)))
    parts.append(_("Series: %(series)s") % {"series": event.series.name})
    # Calendars show one SUMMARY: titles in the talk's other languages close the description.
    others = [
        f"[{tag}] {plain_text(text['title'])}"
        for tag, text in sorted(event.translations.items())
        if text.get("title")
    ]
    if others:
        parts.append("\n".join(others))
    return "\n\n".join(parts)


def _zones_of(event: times.Timed) -> set[str]:
    zones = set()
    for instant in (event.start_utc, event.end_utc):
        moment = times.unambiguous_or_utc(instant, event.timezone)
        if moment.tzinfo is not UTC:
            zones.add(event.timezone)
    return zones


def vevent(
    event: Event, *, links: Links, domain: str, audience: Audience, now: datetime | None = None
) -> VEvent:
    """Return the VEVENT of one talk as an icalendar component (meeting details as at `now`)."""
    component = VEvent()
    component.add("uid", uid(event.uid_key, domain))
    component.add("dtstamp", times.utc(event.updated_at))
    component.add("created", times.utc(event.created_at))
    component.add("last-modified", times.utc(event.updated_at))
    component.add("sequence", event.sequence)
    component.add("status", STATUS.get(event.status, "CONFIRMED"))
    component.add("dtstart", times.unambiguous_or_utc(event.start_utc, event.timezone))
    component.add("dtend", times.unambiguous_or_utc(event.end_utc, event.timezone))
    language = language_parameter(event)
    component.add("summary", summary(event), parameters=language)
    component.add(
        "description",
        vText(description(event, links=links, audience=audience, now=now)),
        parameters=language,
    )
    place = display.place_text(event.location, i18n.texts(locale_of(event)).gettext("Online"))
    if place:
        component.add("location", place)
    component.add("url", vUri(links.event_page(event.id)), parameters={"VALUE": "URI"})
    if event.tags:
        component.add("categories", list(event.tags))
    view = visible_meeting(event.meeting, audience, start=event.start_utc, now=now)
    if view is not None and view.url and not view.withheld:
        label = view.platform or i18n.texts(locale_of(event)).gettext("Online meeting")
        # FEATURE is a list (AUDIO,VIDEO), not one string; icalendar's stub says str only.
        parameters: dict[str, Any] = {"VALUE": "URI", "FEATURE": ["AUDIO", "VIDEO"]}
        parameters["LABEL"] = label
        component.add("conference", vUri(view.url), parameters=parameters)
    if event.status == "cancelled":
        component.add("transp", "TRANSPARENT")
    return component


def render_vevent(
    event: Event, *, links: Links, domain: str, audience: Audience, now: datetime | None = None
) -> bytes:
    """Return one VEVENT as bytes (CRLF, folded); identical for an unchanged event (and,
    for a `revealed` meeting, an unchanged reveal state at `now`)."""
    return bytes(vevent(event, links=links, domain=domain, audience=audience, now=now).to_ical())


def _rrule_form(zone_name: str, first_year: int) -> str:
    """Return the `ical` package's RRULE-form VTIMEZONE text (yearly rules from the tzif)."""
    # The observances start in the year before the first event, so a January talk already
    # falls after the first STANDARD onset (ical.js uses nothing before the first DTSTART).
    zone = Timezone.from_tzif(zone_name, start=datetime(first_year - 1, 1, 1))  # noqa: DTZ001
    holder = IcalCalendar()
    holder.timezones.append(zone)
    stream = IcsCalendarStream()
    stream.calendars.append(holder)
    text = stream.ics()
    lines = text.replace("\r\n", "\n").split("\n")
    begin = lines.index("BEGIN:VTIMEZONE")
    end = lines.index("END:VTIMEZONE")
    return "\r\n".join(lines[begin : end + 1]) + "\r\n"


@cache
def _rule_since(zone_name: str) -> int:
    """Return the first year in which the zone follows only its yearly rule (the tzif footer).

    Past its last listed change a zone repeats one yearly pattern forever, so what holds for
    two years from then holds for every later year: no check or listing needs more.
    """
    try:
        info = timezoneinfo.read(zone_name)
    except (ValueError, LookupError, OSError):  # not in the tzif data: check every year
        return times.MAX_YEAR + 1
    if not info.transitions:
        return times.MIN_YEAR
    last = datetime.fromtimestamp(info.transitions[-1].transition_time, UTC)
    return last.year + 1


def _checked_years(zone_name: str, first_year: int, last_year: int) -> list[int]:
    """Return the years whose every day a VTIMEZONE is checked on: bounded, however far."""
    until = min(last_year, max(first_year, _rule_since(zone_name)) + 1)
    return sorted({*range(first_year, until + 1), last_year})


def _days(years: Iterable[int]) -> Iterable[datetime]:
    for year in years:
        day = datetime(year, 1, 1, 12, tzinfo=UTC)
        while day.year == year:
            yield day
            day += timedelta(days=1)


def _rules_agree(text: str, zone_name: str, first_year: int, last_year: int) -> bool:
    """Return True when the VTIMEZONE text gives zoneinfo's offset on every day of the span.

    Days are checked up to two years into the zone's final yearly rule, and in the last year.
    """
    parsed = IcsCalendarStream.calendar_from_ics(
        "BEGIN:VCALENDAR\r\nPRODID:-//check//EN\r\nVERSION:2.0\r\n" + text + "END:VCALENDAR\r\n"
    )
    ics_zone = IcsTimezoneInfo.from_timezone(parsed.timezones[0])
    tz = times.zone(zone_name)
    for day in _days(_checked_years(zone_name, first_year, last_year)):
        local = day.astimezone(tz)
        if ics_zone.utcoffset(local.replace(tzinfo=None)) != local.utcoffset():
            return False
    return True


def _observances(text: str) -> list[str]:
    """Return the observance lines (STANDARD/DAYLIGHT blocks) of one VTIMEZONE's text."""
    lines = text.replace("\r\n", "\n").strip().split("\n")
    return [line for line in lines[1:-1] if not line.startswith("TZID:")]


def _listed_form(zone_name: str, first_year: int, last_year: int) -> str:
    """Return a VTIMEZONE with one observance per offset change up to the zone's final rule.

    Used when the zone's current yearly rule does not describe the whole span (a country
    that dropped or changed DST, or a zone whose changes follow no yearly rule). Changes are
    listed (no RDATE lists) until the zone's last listed change; from then on, when the span
    reaches further, its final yearly rule follows as RRULE observances, so a talk in a far
    year costs no more than one next year.
    """
    tz = times.zone(zone_name)
    start = datetime(first_year - 1, 1, 1, tzinfo=UTC)
    stop = datetime(last_year + 1, 12, 31, tzinfo=UTC)
    tail: list[str] = []
    cut = max(first_year, _rule_since(zone_name) + 1)
    if last_year > cut:
        stop = datetime(cut, 1, 1, tzinfo=UTC)
        try:
            tail = _observances(_rrule_form(zone_name, cut + 1))
        except ValueError:  # no POSIX rule: list every change of the span
            stop, tail = datetime(last_year + 1, 12, 31, tzinfo=UTC), []
    lines = ["BEGIN:VTIMEZONE", f"TZID:{zone_name}"]
    before = start.astimezone(tz)
    onsets = [(start, before.utcoffset())] + [
        (t, (t - timedelta(minutes=1)).astimezone(tz).utcoffset())
        for t in times.offset_transitions(zone_name, start, stop)
    ]
    for instant, offset_from in onsets:
        local = instant.astimezone(tz)
        offset_to = local.utcoffset()
        assert offset_from is not None and offset_to is not None
        kind = "DAYLIGHT" if local.dst() else "STANDARD"
        wall = (instant + offset_from).replace(tzinfo=None)
        lines += [
            f"BEGIN:{kind}",
            f"DTSTART:{wall:%Y%m%dT%H%M%S}",
            f"TZOFFSETFROM:{times.format_offset(offset_from, compact=True)}",
            f"TZOFFSETTO:{times.format_offset(offset_to, compact=True)}",
            f"TZNAME:{local.tzname()}",
            f"END:{kind}",
        ]
    lines += [*tail, "END:VTIMEZONE"]
    return "\r\n".join(lines) + "\r\n"


@cache
def vtimezone(zone_name: str, first_year: int, last_year: int) -> bytes:
    """Return the VTIMEZONE of a zone for events from `first_year` to `last_year`.

    The RRULE form (a STANDARD and a DAYLIGHT block with yearly rules) from the `ical`
    package, checked day by day against zoneinfo over the span; when the current rule does
    not hold for the whole span, one observance per offset change instead.
    """
    try:
        text = _rrule_form(zone_name, first_year)
        if _rules_agree(text, zone_name, first_year, last_year):
            return text.encode("utf-8")
    except ValueError:
        pass  # a zone without a POSIX rule
    return _listed_form(zone_name, first_year, last_year).encode("utf-8")


def vtimezones(zone_names: Iterable[str], years: tuple[int, int]) -> bytes:
    """Return the VTIMEZONEs of the zones (sorted, UTC skipped) for events in `years`."""
    return b"".join(
        vtimezone(name, years[0], years[1])
        for name in sorted(set(zone_names))
        if name not in times.UTC_ZONES
    )


def calendar_header(info: CalendarInfo) -> bytes:
    """Return the VCALENDAR header lines (without END:VCALENDAR)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if info.method:
        cal.add("method", info.method)
    cal.add("name", vText(info.name))
    # VALUE=TEXT makes parsers that treat X- properties as opaque (ical.js, icalendar)
    # unescape commas, semicolons and newlines too.
    cal.add("x-wr-calname", vText(info.name), parameters={"VALUE": "TEXT"})
    if info.description.strip():
        cal.add("description", vText(info.description.strip()))
        cal.add("x-wr-caldesc", vText(info.description.strip()), parameters={"VALUE": "TEXT"})
    if info.url:
        cal.add("url", vUri(info.url), parameters={"VALUE": "URI"})
    cal.add("refresh-interval", vDuration(REFRESH_INTERVAL), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    text = bytes(cal.to_ical())
    footer = b"END:VCALENDAR" + CRLF
    assert text.endswith(footer)
    return text[: -len(footer)]


def assemble(info: CalendarInfo, timezones: bytes, vevents: Sequence[bytes]) -> bytes:
    """Return a whole calendar from its header info, VTIMEZONE bytes and VEVENT pieces."""
    return calendar_header(info) + timezones + b"".join(vevents) + b"END:VCALENDAR" + CRLF


def zone_years(events: Sequence[times.Timed]) -> tuple[set[str], tuple[int, int]]:
    """Return the zones the events' times use and the (first, last) year they span."""
    zones: set[str] = set()
    for event in events:
        zones |= _zones_of(event)
    if not events:
        return zones, (0, 0)
    years = [e.start_utc.year for e in events] + [e.end_utc.year for e in events]
    return zones, (min(years), max(years))


def piece_zone_years(
    talks: Sequence[times.Timed], vevents: Sequence[bytes]
) -> tuple[set[str], tuple[int, int]]:
    """Return what `zone_years` returns, reading the zones off rendered VEVENTs (faster).

    A VEVENT uses its talk's zone exactly when a DTSTART or DTEND line carries a TZID
    (text values escape newlines, so such a line cannot come from a description).
    """
    zones = {
        talk.timezone
        for talk, piece in zip(talks, vevents, strict=True)
        if b"\r\nDTSTART;TZID=" in piece or b"\r\nDTEND;TZID=" in piece
    }
    if not talks:
        return zones, (0, 0)
    first = min(min(t.start_utc.year, t.end_utc.year) for t in talks)
    last = max(max(t.start_utc.year, t.end_utc.year) for t in talks)
    return zones, (first, last)


def render_calendar(
    events: Sequence[Event],
    *,
    info: CalendarInfo,
    links: Links,
    domain: str,
    audience: Audience,
    now: datetime | None = None,
) -> bytes:
    """Return a whole iCalendar feed of the events (in the given order) as bytes."""
    zones, years = zone_years(events)
    pieces = [
        render_vevent(e, links=links, domain=domain, audience=audience, now=now) for e in events
    ]
    return assemble(info, vtimezones(zones, years), pieces)
