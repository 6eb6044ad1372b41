"""Public web pages: home, series and talk pages, shown in the series' and the viewer's zone.

The viewer's zone comes from `?tz=Area/City` (validated; remembered in the `tz` cookie), else
from the cookie, else none: pages then show the series' zone and UTC. A small script detects
the browser's zone, stores it in the cookie and reloads once, so the server-side rendering
stays the one source of truth and pages work without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from typing import Any
from urllib.parse import unquote, urlencode

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, load_only, selectinload
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response as WerkzeugResponse

from events import filters, languages, listings, queries, search, times, topics
from events.access import MeetingView, visible_meeting
from events.errors import UnknownTimezone
from events.models import CONTAINER_KINDS, Event, Series
from events.times import resolve_zone
from feeds import display, structured
from feeds.formats import FORMATS
from feeds.links import Links, google_calendar_subscribe, webcal
from feeds.text import markdown_html, plain_text, readable
from web import page_cache
from web.context import db, now, settings
from web.i18n import current_locale, select_language

bp = Blueprint(
    "pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)

TZ_COOKIE = "tz"
TZ_COOKIE_MAX_AGE = 365 * 24 * 3600
HOME_UPCOMING = 12
HOME_RECENT = 8
SERIES_PAGE = 20
MAX_PAGE = 10_000


@dataclass(frozen=True)
class ZoneTime:
    """One talk's span in one zone, split so each instant can carry a <time> element."""

    zone: str
    label: str
    offset: str
    start_day: str
    start_clock: str
    end_day: str | None
    end_clock: str

    def text(self) -> str:
        """Return the span as feeds.when.span writes it."""
        end = f" – {self.end_day}, {self.end_clock}" if self.end_day else f"–{self.end_clock}"
        return f"{self.start_day}, {self.start_clock}{end} {self.label}"


@dataclass(frozen=True)
class Feed:
    """One alternate representation of a page: a feed or a calendar."""

    url: str
    mime: str
    label: str
    title: str


@dataclass(frozen=True)
class Subscribe:
    """Everything the subscribe box shows for one calendar feed."""

    title: str
    ics: str
    webcal: str
    google: str
    feeds: list[Feed]
    email: str | None = None  # the subscribe-by-email page


def zone_time(start: datetime, end: datetime, zone_name: str) -> ZoneTime:
    """Return a talk's span in a zone, in the page's language; the end date only when it
    differs."""
    locale = current_locale()
    start_day = display.day(start, zone_name, locale)
    end_day = display.day(end, zone_name, locale)
    offset = display.utc_offset(start, zone_name)
    end_offset = display.utc_offset(end, zone_name)
    if end_offset != offset:
        offset = f"{offset} → {end_offset}"
    return ZoneTime(
        zone=zone_name,
        label=display.zone_label(zone_name, locale),
        offset=offset,
        start_day=start_day,
        start_clock=display.clock(start, zone_name),
        end_day=None if end_day == start_day else end_day,
        end_clock=display.clock(end, zone_name),
    )


def zone_label(zone_name: str) -> str:
    """Return the zone's name in the page's language ('Lisbon time', 'hora de Lisboa')."""
    return display.zone_label(zone_name, current_locale())


def day_time(day: str, clock: str) -> str:
    """Join a date and a time as the page's language writes them."""
    return display.day_time(day, clock, current_locale())


def place_text(location: Any) -> str:
    """Return a talk's place in one line, 'Online' in the page's language."""
    return display.place_text(location, online=_("Online"))


def ui_lang() -> str:
    """Return the page language's BCP 47 tag, for `lang` attributes ('en', 'pt-PT', 'zh-Hans')."""
    return select_language().tag


def talk_text(event: Event, key: str) -> languages.Shown:
    """Return a talk's `title` or `abstract` in the page's language, else the original."""
    return languages.pick(
        ui_lang(), event.series.language, getattr(event, key), event.translations, key
    )


def series_text(series: Series, key: str) -> languages.Shown:
    """Return a series' `name` or `description` in the page's language, else the original."""
    return languages.pick(
        ui_lang(), series.language, getattr(series, key), series.translations, key
    )


def title_text(text: str) -> str:
    """Return a title for display: radicals fixed and inline LaTeX as Unicode ('∞-Laplacian')."""
    return plain_text(readable(text))


def rich_text(markdown: str) -> str:
    """Return sanitised HTML with MathML for an abstract or description."""
    return markdown_html(readable(markdown))


def iso_utc(instant: datetime) -> str:
    """Return an instant as '2021-11-27T01:30:00Z' for <time datetime>."""
    return times.rfc3339(instant)


def talk_times(event: Event, viewer_zone: str | None) -> list[ZoneTime]:
    """Return the spans to show by the zone rule: the talk's zone, then the viewer's (or UTC)."""
    zones = display.talk_zones(event.timezone, viewer_zone or "UTC")
    return [zone_time(event.start_utc, event.end_utc, z) for z in zones if z is not None]


def google_calendar_event(event: Event, page_url: str) -> str:
    """Return Google Calendar's 'add this event' link, with the times in UTC."""
    start, end = times.basic_utc(event.start_utc), times.basic_utc(event.end_utc)
    speakers = ", ".join(s["name"] for s in event.speakers)
    details = "\n\n".join(
        part for part in (speakers, plain_text(event.abstract)[:1200], page_url) if part
    )
    query = {
        "action": "TEMPLATE",
        "text": title_text(event.title),
        "dates": f"{start}/{end}",
        "details": details,
        "location": display.place_text(event.location) or page_url,
    }
    return "https://calendar.google.com/calendar/render?" + urlencode(query)


OUTLOOK_HOSTS = {"office": "outlook.office.com", "live": "outlook.live.com"}


def outlook_event(event: Event, page_url: str, service: str) -> str:
    """Return Outlook on the web's 'add this event' link: 'office' (Microsoft 365) or 'live'.

    startdt/enddt are UTC instants with a Z; Outlook shows them in the user's own zone.
    """
    speakers = ", ".join(s["name"] for s in event.speakers)
    body = "\n\n".join(
        part for part in (speakers, plain_text(event.abstract)[:1200], page_url) if part
    )
    query = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": title_text(event.title),
        "startdt": times.rfc3339(event.start_utc),
        "enddt": times.rfc3339(event.end_utc),
        "body": body,
        "location": display.place_text(event.location) or page_url,
    }
    return f"https://{OUTLOOK_HOSTS[service]}/calendar/0/deeplink/compose?" + urlencode(query)


@dataclass(frozen=True)
class TopicChip:
    """A topic shown on a page: a taxonomy topic (with its page) or a free keyword."""

    label: str
    slug: str | None


def topic_chips(names: list[str]) -> list[TopicChip]:
    """Return the chips of a `topics` list: taxonomy topics link to their page."""
    if not names:
        return []
    found, keywords = topics.resolve(db(), names)
    return [TopicChip(t.name, t.slug) for t in found] + [TopicChip(k, None) for k in keywords]


def embed_snippet(series: Series) -> str:
    """Return the HTML an organiser pastes to embed a series' schedule (web.embed)."""
    links = Links(settings().base_url)
    return embed_html(
        links.series_embed(series.slug), _("%(name)s: upcoming talks", name=series.name)
    )


def embed_html(url: str, name: str) -> str:
    """Return the iframe and sizing script that embed the schedule at `url` (web.embed)."""
    links = Links(settings().base_url)
    title = escape(name)
    return (
        f'<iframe src="{escape(url)}" title="{title}" '
        'data-eventfeed-embed loading="lazy" style="width: 100%; height: 420px; border: 0">'
        "</iframe>\n"
        f'<script src="{escape(links.asset("embed-host.js"))}" async></script>'
    )


def series_feeds(slug: str, name: str) -> Subscribe:
    """Return the subscribe box of a series."""
    links = Links(settings().base_url)
    ics = links.series_feed(slug, "ics")
    feeds = [
        Feed(links.series_feed(slug, f.ext), f.media_type, f.label, name) for f in FORMATS.values()
    ]
    email = url_for("subscriptions.subscribe_form", slug=slug)
    return Subscribe(name, ics, webcal(ics), google_calendar_subscribe(ics), feeds, email)


def site_feeds() -> Subscribe:
    """Return the subscribe box of all public series."""
    links = Links(settings().base_url)
    ics = links.site_feed("ics")
    title = _("All public series")
    feeds = [Feed(links.site_feed(f.ext), f.media_type, f.label, title) for f in FORMATS.values()]
    email = url_for("subscriptions.subscribe_any_form")
    return Subscribe(title, ics, webcal(ics), google_calendar_subscribe(ics), feeds, email)


def viewer_zone() -> str | None:
    """Return the viewer's zone from ?tz= or the cookie (validated), noting a bad ?tz= value."""
    if "viewer_zone" in g:
        found: str | None = g.viewer_zone
        return found
    zone: str | None = None
    g.tz_notice = None
    g.tz_from_param = False
    asked = request.args.get("tz", "").strip()
    if asked:
        try:
            zone = resolve_zone(asked)
            g.tz_from_param = True
        except UnknownTimezone:
            g.tz_notice = _("Unknown timezone “%(zone)s”: ignored.", zone=asked[:64])
    if zone is None:
        cookie = unquote(request.cookies.get(TZ_COOKIE, "")).strip()
        if cookie:
            try:
                zone = resolve_zone(cookie)
            except UnknownTimezone:
                zone = None
    g.viewer_zone = zone
    return zone


@bp.after_app_request
def _remember_zone(response: Response) -> Response:
    """Store a valid ?tz= choice in the cookie; pages vary with that cookie."""
    if g.get("tz_from_param") and g.get("viewer_zone"):
        response.set_cookie(
            TZ_COOKIE, g.viewer_zone, max_age=TZ_COOKIE_MAX_AGE, samesite="Lax", httponly=False
        )
    if g.get("page_rendered"):
        response.vary.add("Cookie")
    return response


def render_page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """Render a page of the site (base template: zone bar, stylesheet, site.js)."""
    return _render(template, status, **context)


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    zone = viewer_zone()
    g.page_rendered = True
    body = render_template(
        template,
        viewer_zone=zone,
        viewer_label=zone_label(zone) if zone else None,
        tz_notice=g.get("tz_notice"),
        links=Links(settings().base_url),
        **context,
    )
    return body, status


for _helper in (
    talk_times,
    iso_utc,
    rich_text,
    title_text,
    talk_text,
    series_text,
    place_text,
    zone_label,
    day_time,
    ui_lang,
    display.clock,
):
    bp.add_app_template_global(_helper)


def _public_series() -> list[Series]:
    """Return the public series with the columns a list shows (no JSON columns to decode)."""
    shown = (
        Series.id,
        Series.slug,
        Series.name,
        Series.language,
        Series.translations,
        Series.visibility,
    )
    query = select(Series).options(load_only(*shown))
    return list(db().scalars(query.where(Series.visibility == "public").order_by(Series.name)))


def page_number(name: str) -> int:
    """Return the page number in `?name=N` (default 1); anything but a positive integer is 404."""
    value = request.args.get(name, "1")
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise NotFound("There is no such page.")
    return int(value)


@bp.app_template_global()
def paged_url(**pages: int) -> str:
    """Return this page's URL with the given page numbers (page 1 leaves the parameter out)."""
    args = {k: v for k, v in request.args.items() if k not in pages and k != "tz"}
    args.update({k: str(v) for k, v in pages.items() if v > 1})
    return request.path + (f"?{urlencode(args)}" if args else "")


def _found(page: listings.Page) -> listings.Page:
    """Return the page, or raise 404 for an empty page after the first."""
    if page.number > 1 and not page.events:
        raise NotFound("There is no such page.")
    return page


def _day_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, "").strip())
    except ValueError:
        return None


def talk_filter() -> filters.TalkFilter:
    """Return the home page's filters from the query (invalid values are ignored)."""
    mode = request.args.get("mode", "")
    language = request.args.get("language", "").strip()
    return filters.TalkFilter(
        topic=request.args.get("topic", "").strip() or None,
        start=_day_arg("from"),
        end=_day_arg("to"),
        mode=mode if mode in filters.MODES else None,
        language=language[:35] or None,
    )


HOME_ARGS = {"page": page_cache.page_number}
SERIES_ARGS = {
    "upcoming": page_cache.page_number,
    "past": page_cache.page_number,
    "recorded": page_cache.exactly("1"),
}
TALK_ARGS = {"in": page_cache.exactly("mine")}


def _home_stamp(moment: datetime) -> Callable[[Session], str]:
    def stamp(session: Session) -> str:
        site = queries.site_stamps(session, queries.FeedFilter())
        return page_cache.home_stamp(
            site.summary,
            page_cache.taxonomy_stamp(session),
            page_cache.clock_stamp(session, moment),
        )

    return stamp


@bp.get("/")
def home() -> tuple[str, int]:
    """Show upcoming talks across public series (a page at a time, filtered) and the series.

    Stored per version (web.page_cache) unless filtered."""
    moment = now()
    number = page_number("page")
    wanted = talk_filter()
    key = None if wanted.active else page_cache.request_key(HOME_ARGS, viewer_zone())
    return page_cache.stored_page(key, _home_stamp(moment), lambda: _home(moment, number, wanted))


def _home(moment: datetime, number: int, wanted: filters.TalkFilter) -> tuple[str, int]:
    where = filters.conditions(db(), wanted, viewer_zone() or "UTC")
    upcoming = _found(
        listings.upcoming(db(), moment, number=number, size=HOME_UPCOMING, where=where)
    )
    recent: list[Event] = []
    if not wanted.active and upcoming.number == 1 and len(upcoming.events) < HOME_RECENT:
        recent = listings.past(db(), moment, size=HOME_RECENT).events
    all_series = _public_series()
    outlooks = listings.outlooks(db(), [s.id for s in all_series], moment)
    sub = site_feeds()
    return _render(
        "home.html",
        upcoming=upcoming,
        recent=recent,
        all_series=all_series,
        outlooks=outlooks,
        subscribe=sub,
        alternates=sub.feeds,
        page_url=Links(settings().base_url).home(),
        wanted=wanted,
        taxonomy=topics.taxonomy(db()),
        languages=filters.languages(db()),
    )


@bp.get("/series/<slug>")
def series_page(slug: str) -> tuple[str, int]:
    """Show a series: description, organisers, upcoming and past talks (paged), subscribe box.

    Stored per version (web.page_cache)."""
    moment = now()

    def stamp(session: Session) -> str | None:
        series = page_cache.series_stamp(session, slug)
        if series is None:
            return None
        return page_cache.series_page_stamp(
            series, page_cache.taxonomy_stamp(session), page_cache.clock_stamp(session, moment)
        )

    key = page_cache.request_key(SERIES_ARGS, viewer_zone())
    return page_cache.stored_page(key, stamp, lambda: _series_page(slug, moment))


def _series_page(slug: str, moment: datetime) -> tuple[str, int]:
    series = db().scalar(select(Series).where(Series.slug == slug))
    if series is None:
        raise NotFound(f"There is no series “{slug}”.")
    upcoming = listings.upcoming(
        db(), moment, number=page_number("upcoming"), size=SERIES_PAGE, series_id=series.id
    )
    recorded = request.args.get("recorded") == "1"
    past = listings.past(
        db(),
        moment,
        number=page_number("past"),
        size=SERIES_PAGE,
        series_id=series.id,
        recorded=recorded,
    )
    _found(upcoming)
    _found(past)
    sub = series_feeds(series.slug, series.name)
    return _render(
        "series.html",
        embed_snippet=embed_snippet(series),
        topic_chips=topic_chips(series.topics),
        series=series,
        upcoming=upcoming,
        past=past,
        recorded=recorded,
        subscribe=sub,
        alternates=sub.feeds + site_feeds().feeds,
        page_url=Links(settings().base_url).series_page(series.slug),
    )


@bp.get("/events/<event_id>")
def event_page(event_id: str) -> tuple[str, int]:
    """Show one talk with everything about it and add-to-calendar buttons."""
    if event_id.endswith(".ics"):
        # /events/<id>.ics is the feeds blueprint's download; never shadow it.
        raise NotFound("There is no such talk.")

    def stamp(session: Session) -> str | None:
        series = page_cache.talk_series_stamp(session, event_id)
        if series is None:
            return None
        return page_cache.talk_page_stamp(series, page_cache.taxonomy_stamp(session))

    key = page_cache.request_key(TALK_ARGS, viewer_zone())
    return page_cache.stored_page(key, stamp, lambda: _event_page(event_id))


def _event_page(event_id: str) -> tuple[str, int]:
    event = db().get(Event, event_id, options=[selectinload(Event.series)])
    if event is None:
        raise NotFound(f"There is no talk “{event_id}”.")
    links = Links(settings().base_url)
    page_url = links.event_page(event.id)
    meeting: MeetingView | None = visible_meeting(event.meeting, "public")
    sub = series_feeds(event.series.slug, event.series.name)
    zone = viewer_zone()
    mine = request.args.get("in") == "mine" and zone is not None
    shown_zone = zone if mine and zone else event.timezone
    return _render(
        "event.html",
        event=event,
        parent=db().get(Event, event.parent_id) if event.parent_id else None,
        timetable=timetable(event, shown_zone) if event.kind in CONTAINER_KINDS else [],
        shown_zone=shown_zone,
        in_mine=mine,
        series=event.series,
        meeting=meeting,
        ics_url=links.event_ics(event.id),
        google_url=google_calendar_event(event, page_url),
        outlook_url=outlook_event(event, page_url, "office"),
        outlook_live_url=outlook_event(event, page_url, "live"),
        jsonld=structured.event_jsonld(
            event, event.series, page_url, links.series_page(event.series.slug)
        ),
        share_description=structured.summary(event),
        topic_chips=topic_chips([*event.topics, *event.series.topics]),
        subscribe=sub,
        alternates=sub.feeds,
        page_url=page_url,
    )


@dataclass(frozen=True)
class Row:
    """One line of a timetable: the item, its span in the zone shown, and a day heading."""

    item: Event
    span: ZoneTime
    day: str | None


KIND_LABELS = {
    "talk": _l("Talk"),
    "invited-talk": _l("Invited talk"),
    "contributed-talk": _l("Contributed talk"),
    "poster-spotlights": _l("Poster spotlights"),
    "poster-session": _l("Poster session"),
    "break": _l("Break"),
    "lunch": _l("Lunch"),
    "opening": _l("Opening"),
    "closing": _l("Closing"),
    "discussion": _l("Discussion"),
    "session": _l("Session"),
    "workshop": _l("Workshop"),
    "conference-day": _l("Conference day"),
    "tba": _l("TBA"),
}


@bp.app_template_global()
def kind_label(kind: str) -> str:
    """Return the label of an entry's kind ('Invited talk')."""
    label = KIND_LABELS.get(kind)
    return str(label) if label is not None else kind.replace("-", " ").capitalize()


def timetable(event: Event, zone_name: str) -> list[Row]:
    """Return a block's items in a zone, with the day written when it changes (or when, in
    the viewer's zone, it is not the block's own day)."""
    rows = []
    day = display.day(event.start_utc, event.timezone, current_locale())
    for item in event.items:
        span = zone_time(item.start_utc, item.end_utc, zone_name)
        rows.append(Row(item, span, span.start_day if span.start_day != day else None))
        day = span.start_day
    return rows


@bp.get("/series/<slug>/next")
def next_talk(slug: str) -> WerkzeugResponse | tuple[str, int]:
    """Go to the series' next talk (or session); say so when none is scheduled."""
    series = db().scalar(select(Series).where(Series.slug == slug))
    if series is None:
        raise NotFound(f"There is no series “{slug}”.")
    found = listings.next_entry(db(), series.id, now())
    if found is not None:
        return redirect(url_for("pages.event_page", event_id=found.id), code=303)
    slot = listings.next_slot(db(), series.id, now())
    message = _("No talk of %(series)s is scheduled yet.", series=series.name)
    if slot is not None:
        when = display.day(slot.start_utc, series.timezone, current_locale())
        message += " " + _(
            "The next slot, %(when)s, has its speaker still to be announced.", when=when
        )
    return not_found_page(message)


SEARCH_PAGE = 20


def search_terms() -> tuple[str, bool]:
    """Return the query (`?q=`, trimmed to 200 characters) and whether past talks are asked."""
    query = " ".join(request.args.get("q", "").split())[: search.MAX_QUERY]
    return query, request.args.get("past", "") not in ("", "0")


@bp.get("/search")
def search_page() -> tuple[str, int]:
    """Show talks matching `?q=`: upcoming first, or past ones with `?past=1` (paged)."""
    query, past = search_terms()
    number = page_number("page")
    results = search.search(db(), query, now(), past=past, number=number, size=SEARCH_PAGE)
    if number > 1 and not results.events:
        raise NotFound("There is no such page.")
    sub = site_feeds()
    return _render(
        "search.html",
        search_query=query,
        past=past,
        results=results,
        subscribe=sub,
        alternates=sub.feeds,
    )


def not_found_page(message: str | None) -> tuple[str, int]:
    """Return the friendly 404 page, with the site's subscribe box."""
    sub = site_feeds()
    return _render("404.html", status=404, message=message, subscribe=sub, alternates=sub.feeds)
