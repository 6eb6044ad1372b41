"""Public feeds over HTTP: iCalendar, RSS 2.0, Atom and JSON Feed, per series and site-wide.

| URL | what |
|---|---|
| `/series/<slug>.ics` | one series (public or unlisted), its whole history, capped |
| `/series/<slug>.rss`, `.atom`, `.json` | the same talks as feed items |
| `/events/<id>.ics` | one talk, as a download |
| `/series/<slug>/next.ics` | the series' next talk (a session: its talks), as a download |
| `/calendar.ics?series=a,b&tag=x` | public series, rolling window, optional filters |
| `/topics/<slug>.ics`, `.rss`, `.atom`, `.json` | a topic's talks, all public series (stored) |
| `/feed.rss`, `/feed.atom`, `/feed.json` (same filters) | the same talks as feed items |

Every answer carries an ETag and Last-Modified and honours conditional requests (web.http).

Fast paths (issue 8): a series feed first reads its stamp from the series row (kept by
database triggers: revision and newest talk change) and answers a matching conditional
request with 304 before loading any talk or touching a renderer; the version key behind the
ETag also holds today's date (retention moves daily) and the settings fingerprint. A 200
answer reads the body stored for that version (`rendered_feed`, plain or gzip); only a new
version builds it, a calendar from per-talk VEVENTs stored in the database (events.pieces),
so only changed talks re-render. A stored body is never older than its version: it is built
after the stamp was read.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime

from flask import Blueprint, Response, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from events import listings, queries, times, topics
from events.access import Audience, is_revealed
from events.config import Settings
from events.errors import NotFound
from events.models import BREAK_KINDS, CONTAINER_KINDS, Event, Series
from feeds import cache
from feeds.formats import FORMATS, ICS, READER_RENDERERS
from feeds.ical import CalendarInfo, assemble, piece_zone_years, render_vevent, vtimezones
from feeds.links import Links
from feeds.syndication import MAX_ITEMS, FeedInfo, ItemText, ItemTexts, item_text, ordered
from feeds.text import plain_text
from web import page_cache
from web.context import db, now, settings
from web.http import cached_response, not_found, stored_answer, strong_etag, wants_gzip

bp = Blueprint("feeds", __name__)

ICS_TYPE = ICS.content_type
KEY_LENGTH = 100  # of `rendered_document.key`
RENDERERS = READER_RENDERERS
SITE_TITLE = "EventFeed: all public seminars"


def _links() -> Links:
    return Links(settings().base_url)


def _site_filter() -> queries.FeedFilter:
    return queries.FeedFilter.parse(request.args.get("series"), request.args.get("tag"))


def _shape() -> queries.Shape:
    """Return the calendar shape asked for: `?group=session`, `?breaks=1`."""
    group = request.args.get("group", "").strip().lower() == "session"
    breaks = request.args.get("breaks", "").strip().lower() in ("1", "true", "yes", "on")
    return queries.Shape(group=group, breaks=breaks)


def shape_query(fmt: str) -> str:
    """Return the query string `_shape` reads as the shape of a stored feed format
    ('ics-s-b': `group=session&breaks=1`; 'ics': '')."""
    keys = fmt.split("-")[1:]
    return "&".join(query for key, query in SHAPE_QUERIES if key in keys)


SHAPE_QUERIES = (("s", "group=session"), ("b", "breaks=1"))  # in `queries.Shape.key` order
READER = queries.Shape(reader=True)


def _site_title(feed_filter: queries.FeedFilter) -> str:
    parts = []
    if feed_filter.series:
        parts.append("series " + ", ".join(feed_filter.series))
    if feed_filter.tags:
        parts.append("tagged " + ", ".join(feed_filter.tags))
    return SITE_TITLE + (f" ({'; '.join(parts)})" if parts else "")


def _site_description() -> str:
    days = settings().feed_window_days
    return f"Talks of the public seminar series: the last {days} days and everything ahead."


def _render_public(
    events: Sequence[Event], audience: Audience = "public", moment: datetime | None = None
) -> dict[str, bytes]:
    links = _links()
    domain = settings().domain
    return {
        e.id: render_vevent(e, links=links, domain=domain, audience=audience, now=moment)
        for e in events
    }


def _piece_version(
    event: Event, fingerprint: str, audience: Audience, moment: datetime | None
) -> str:
    """Return the version a talk's stored piece is kept under.

    A subscriber's piece of a talk whose meeting is `revealed` at `moment` is kept under
    its own version, so a piece rendered before the reveal is never served after it.
    """
    key = cache.event_version(event, fingerprint)
    if audience == "subscriber" and is_revealed(event.meeting, event.start_utc, moment):
        key += "|revealed"
    return key


def reader_texts(
    events: Sequence[Event], audience: Audience = "public", moment: datetime | None = None
) -> ItemTexts:
    """Return the item texts of the talks a reader feed shows (`syndication.ordered`), from
    stored per-talk pieces: only talks changed since they were stored are rendered."""
    shown = ordered(events)
    fingerprint = cache.settings_fingerprint(settings())
    links = _links()
    by_id = {e.id: e for e in shown}
    stored = cache.pieces(
        db(),
        [(e.id, _piece_version(e, fingerprint, audience, moment)) for e in shown],
        kind="reader",
        audience=audience,
        render_missing=lambda ids: {
            i: item_text(by_id[i], links=links, audience=audience, now=moment).to_bytes()
            for i in ids
        },
    )
    return {e.id: ItemText.from_bytes(piece) for e, piece in zip(shown, stored, strict=True)}


def calendar(
    events: list[Event],
    info: CalendarInfo,
    audience: Audience = "public",
    moment: datetime | None = None,
) -> bytes:
    """Return a calendar of loaded talks, assembled from stored VEVENT pieces."""
    fingerprint = cache.settings_fingerprint(settings())
    by_id = {e.id: e for e in events}

    vevents = cache.pieces(
        db(),
        [(e.id, _piece_version(e, fingerprint, audience, moment)) for e in events],
        kind="vevent",
        audience=audience,
        render_missing=lambda ids: _render_public([by_id[i] for i in ids], audience, moment),
    )
    zones, years = piece_zone_years(events, vevents)
    return assemble(info, vtimezones(zones, years), vevents)


# Per process and database: the talk stamps and VEVENTs each series calendar (series id,
# shape) was last assembled from, with the series part of their versions. A piece depends
# only on its talk's stamp and that part, so a talk whose stamp is unchanged keeps its piece
# without a version key or memo look-up; the others go through `cache.pieces` as before.
_LAST_CALENDARS: weakref.WeakKeyDictionary[
    cache.PieceMemo, dict[tuple[int, str], tuple[str, dict[str, tuple[queries.TalkStamp, bytes]]]]
] = weakref.WeakKeyDictionary()
LAST_CALENDARS_KEPT = 64  # series calendars per process (their pieces are the memo's)


def _series_calendar(
    series: Series, talks: list[queries.TalkStamp], info: CalendarInfo, shape: str = ""
) -> bytes:
    """Return a series calendar from talk stamps: only stale talks are loaded and rendered."""
    session = db()
    fingerprint = cache.settings_fingerprint(settings())
    # cache.version_key, with the series part formatted once for all talks
    suffix = f"|{series.updated_at.isoformat()}|{fingerprint}"
    joined = {
        t.id: (t.piece_version, t.piece)
        for t in talks
        if t.piece_version is not None and t.piece is not None
    }
    memo = cache.piece_memo(session)
    lasts = _LAST_CALENDARS.setdefault(memo, {})
    last = lasts.get((series.id, shape))
    kept = last[1] if last is not None and last[0] == suffix and not joined else {}
    vevents: list[bytes | None] = []
    stale: list[queries.TalkStamp] = []
    for talk in talks:
        found = kept.get(talk.id)
        if found is not None and (found[0] is talk or found[0] == talk):
            vevents.append(found[1])
        else:
            vevents.append(None)
            stale.append(talk)
    fresh = cache.pieces(
        session,
        [(t.id, f"{t.sequence}|{t.updated_at.isoformat()}{suffix}") for t in stale],
        kind="vevent",
        audience="public",
        render_missing=lambda ids: _render_public(queries.events_by_id(session, ids)),
        stored=joined or None,  # not joined in: from this process's memo, else one query
    )
    fill = iter(fresh)
    pieces = [piece if piece is not None else next(fill) for piece in vevents]
    if len(lasts) >= LAST_CALENDARS_KEPT and (series.id, shape) not in lasts:
        lasts.clear()
    lasts[series.id, shape] = (suffix, {t.id: (t, p) for t, p in zip(talks, pieces, strict=True)})
    zones, years = piece_zone_years(talks, pieces)
    return assemble(info, vtimezones(zones, years), pieces)


def _series_feed(slug: str, fmt: str, build: Callable[[datetime], bytes]) -> Response:
    """Serve a series feed: 304 from its stamp, else the body stored for this version, else
    `build(now)` once and store it (and its gzip variant, once per version).

    `fmt` is the format's extension, with the calendar shape's key ('ics-s' for
    `?group=session`): each shape is stored on its own."""
    moment = now()
    session = db()
    fingerprint = cache.settings_fingerprint(settings())
    prefetched: dict[str, bytes] = {}
    try:
        if request.if_none_match or request.if_modified_since:
            stamp = queries.series_stamp(session, slug)  # most likely a 304: no body read
        else:
            encoding = "gzip" if wants_gzip() else "identity"
            stamp, stored_version, body = queries.series_stamp_and_feed(
                session, slug, fmt, encoding
            )
            version = stamp.version(fmt, moment.date().isoformat(), fingerprint)
            if body is not None and stored_version == version:
                prefetched[encoding] = body
    except NotFound as exc:
        return not_found(str(exc))
    version = stamp.version(fmt, moment.date().isoformat(), fingerprint)

    def load(encoding: str) -> bytes | None:
        if encoding in prefetched:
            return prefetched[encoding]
        return cache.stored_feed(session, stamp.series_id, fmt, encoding, version)

    return stored_answer(
        version=version,
        last_modified=stamp.last_modified,
        content_type=FORMATS[fmt.split("-")[0]].content_type,
        load=load,
        save=lambda encoding, body: cache.store_feed(
            session, stamp.series_id, fmt, encoding, version, body
        ),
        build=lambda: build(moment),
    )


def stamps_version(stamps: queries.SeriesStamps, moment: datetime, *parts: str) -> str:
    """Return the version of a feed over several series: their stamps, the UTC date (the
    window and retention move daily) and every setting that reaches the bytes."""
    return feed_version(settings(), stamps, moment, *parts)


def feed_version(
    config: Settings, stamps: queries.SeriesStamps, moment: datetime, *parts: str
) -> str:
    """Return `stamps_version` under explicit settings (for the WSGI fast path)."""
    return stamps.version(
        *parts,
        times.utc(moment).date().isoformat(),
        cache.settings_fingerprint(config),
        str(config.feed_window_days),
        str(config.feed_max_events),
        str(config.cancelled_retention_days),
    )


def personal_version(
    session: Session | None,
    config: Settings,
    token: str,
    stamps: queries.SeriesStamps,
    moment: datetime,
    fmt: str,
) -> str:
    """Return a personal feed's version: the followed series' stamps, a hash of the token
    (it is in the body's links) and the talks whose `revealed` meeting details have reached
    subscribers by `moment` (so a body made before a reveal is never served after it)."""
    token_hash = hashlib.sha256(token.encode()).hexdigest()[:16]
    reveals = ""
    if stamps.revealing:  # (without any, no session is needed: the fast path)
        assert session is not None
        reveals = queries.revealed_meetings(session, list(stamps.revealing), moment)
    return feed_version(config, stamps, moment, "personal", fmt, token_hash, reveals)


def stored_document(
    key: str | None,
    version: str,
    stamps: queries.SeriesStamps,
    content_type: str,
    build: Callable[[], bytes],
    *,
    private: bool = False,
) -> Response:
    """Answer a site-wide or personal feed kept in `rendered_document` under `key` (None:
    built per request, as filtered site-wide feeds are, whose variety has no bound)."""
    session = db()

    def load(encoding: str) -> bytes | None:
        return None if key is None else cache.stored_document(session, key, encoding, version)

    def save(encoding: str, body: bytes) -> None:
        if key is not None:
            cache.store_document(session, key, encoding, version, body)

    return stored_answer(
        version=version,
        last_modified=stamps.last_modified,
        content_type=content_type,
        load=load,
        save=save,
        build=build,
        private=private,
    )


@bp.get("/series/<slug>.ics")
def series_calendar(slug: str) -> Response:
    """Serve one series as an iCalendar feed (stored per version, assembled from pieces)."""

    shape = _shape()

    def build(now: datetime) -> bytes:
        series, talks = queries.series_feed_stamps(
            db(), slug, now=now, settings=settings(), shape=shape, with_pieces=False
        )
        info = CalendarInfo(
            name=series.name,
            description=plain_text(series.description),
            url=_links().series_page(series.slug),
        )
        return _series_calendar(series, talks, info, shape.key)

    return _series_feed(slug, "ics" + shape.key, build)


def talk_calendar_version(
    config: Settings, sequence: int, updated: datetime, series_updated: datetime
) -> str:
    """Return the version of a talk's .ics download: its VEVENT piece's version (the talk's
    sequence and edit, its series' edit, the settings) and the code that frames it."""
    fingerprint = cache.settings_fingerprint(config)
    piece = cache.version_key(sequence, updated, series_updated, fingerprint)
    text = "|".join(["talk-ics", piece, page_cache.code_fingerprint()])
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def talk_calendar_key(event_id: str) -> str:
    """Return the `rendered_document` key of a talk's .ics (a long id is hashed to fit)."""
    key = f"talk/{event_id}/ics"
    return key if len(key) <= KEY_LENGTH else f"talk/{strong_etag(event_id)}/ics"


@bp.get("/events/<event_id>.ics")
def event_calendar(event_id: str) -> Response:
    """Serve one talk as an .ics download, stored per version (`rendered_document`
    `talk/<id>/ics`; web.fastpath answers it before Flask)."""
    try:
        event = queries.event_with_series(db(), event_id)
    except NotFound as exc:
        return not_found(str(exc))
    version = talk_calendar_version(
        settings(), event.sequence, event.updated_at, event.series.updated_at
    )
    key = talk_calendar_key(event.id)
    session = db()

    def build() -> bytes:
        info = CalendarInfo(name=event.title, url=_links().event_page(event.id))
        return calendar([event], info)

    return stored_answer(
        version=version,
        last_modified=queries.last_modified([event]),
        content_type=ICS_TYPE,
        load=lambda encoding: cache.stored_document(session, key, encoding, version),
        save=lambda encoding, body: cache.store_document(session, key, encoding, version, body),
        build=build,
        filename=f"{event.id}.ics",
    )


@bp.get("/series/<slug>/next.ics")
def next_calendar(slug: str) -> Response:
    """Serve the series' next talk (a session: its talks) as an .ics download; 404 if none."""
    series = db().scalar(select(Series).where(Series.slug == slug))
    if series is None:
        return not_found(f"no series with slug {slug!r}")
    found = listings.next_entry(db(), series.id, now())
    if found is None:
        return not_found(f"no talk of series {slug!r} is scheduled yet")
    event = queries.event_with_series(db(), found.id)
    entries = [event]
    if event.kind in CONTAINER_KINDS:
        entries = [
            queries.event_with_series(db(), item.id)
            for item in event.items
            if item.kind not in BREAK_KINDS
        ] or entries
    info = CalendarInfo(name=f"{series.name}: next talk", url=_links().event_page(event.id))
    return cached_response(
        calendar(entries, info),
        content_type=ICS_TYPE,
        last_modified=queries.last_modified(entries),
        filename=f"{series.slug}-next.ics",
    )


def _site_key(feed_filter: queries.FeedFilter, fmt: str) -> str | None:
    """Return the stored-document key of an unfiltered site-wide feed (filtered: None)."""
    return None if feed_filter.series or feed_filter.tags else f"site/{fmt}"


@bp.get("/calendar.ics")
def site_calendar() -> Response:
    """Serve the public series (rolling window, ?series= and ?tag= filters) as iCalendar.

    304 from the stamps of the public series; the unfiltered calendar is stored per version.
    """
    feed_filter = _site_filter()
    moment = now()
    try:
        stamps = queries.site_stamps(db(), feed_filter)
    except NotFound as exc:
        return not_found(str(exc))
    shape = _shape()
    fmt = "ics" + shape.key
    version = stamps_version(stamps, moment, "site", fmt, repr(sorted(feed_filter.query().items())))

    def build() -> bytes:
        events = queries.site_feed(db(), feed_filter, now=moment, settings=settings(), shape=shape)
        info = CalendarInfo(
            name=_site_title(feed_filter),
            description=_site_description(),
            url=_links().home(),
        )
        return calendar(events, info)

    return stored_document(_site_key(feed_filter, fmt), version, stamps, ICS_TYPE, build)


def _topic_feed(
    slug: str, fmt: str, render: Callable[[topics.Named, list[Event]], bytes]
) -> Response:
    """Serve a topic's feed kept in `rendered_document` (key `topic/<id>/<fmt>`): its
    version hashes the stamps of the series it draws on and the taxonomy
    (events.topics.feed_stamps), so any change to what it shows makes a new one."""
    moment = now()
    session = db()
    try:
        named = topics.get_topic(session, slug)
    except NotFound as exc:
        return not_found(str(exc))
    stamps, taxonomy = topics.feed_stamps(session, named.topic)
    version = stamps_version(stamps, moment, "topic", slug, fmt, taxonomy)

    def build() -> bytes:
        config = settings()
        since = queries.window_start(moment, config)
        events = topics.feed_events(session, named.topic, since=since, cap=config.feed_max_events)
        return render(named, events)

    content_type = FORMATS[fmt].content_type
    key = f"topic/{named.topic.id}/{fmt}"  # the slug may be too long for the key column
    return stored_document(key, version, stamps, content_type, build)


def _topic_description(named: topics.Named) -> str:
    return named.topic.description or f"Talks on {named.path}, across seminar series."


@bp.get("/topics/<slug>.ics")
def topic_calendar(slug: str) -> Response:
    """Serve a topic's talks across public series (rolling window) as iCalendar (stored)."""

    def render(named: topics.Named, events: list[Event]) -> bytes:
        info = CalendarInfo(
            name=f"{named.path} · EventFeed",
            description=_topic_description(named),
            url=_links().topic_page(slug),
        )
        return calendar(events, info)

    return _topic_feed(slug, "ics", render)


@bp.get("/topics/<slug>.<any(rss, atom, json):fmt>")
def topic_feed(slug: str, fmt: str) -> Response:
    """Serve a topic's talks across public series as RSS, Atom or JSON Feed (stored)."""

    def render(named: topics.Named, events: list[Event]) -> bytes:
        links = _links()
        info = FeedInfo(
            title=f"{named.path} · EventFeed",
            description=_topic_description(named),
            page_url=links.topic_page(slug),
            self_url=links.topic_feed(slug, fmt),
        )
        return RENDERERS[fmt](
            events, info=info, links=links, domain=settings().domain, audience="public"
        )

    return _topic_feed(slug, fmt, render)


@bp.get("/series/<slug>.<any(rss, atom, json):fmt>")
def series_feed(slug: str, fmt: str) -> Response:
    """Serve one series as RSS 2.0, Atom or JSON Feed (stored per version)."""

    def build(now: datetime) -> bytes:
        series, events = queries.series_feed(
            db(), slug, now=now, settings=settings(), shape=READER, newest=MAX_ITEMS
        )
        links = _links()
        info = FeedInfo(
            title=series.name,
            description=plain_text(series.description),
            page_url=links.series_page(series.slug),
            self_url=links.series_feed(series.slug, fmt),
            language=series.language,
            updated=series.updated_at,
        )
        return RENDERERS[fmt](
            events,
            info=info,
            links=links,
            domain=settings().domain,
            audience="public",
            texts=reader_texts(events),
        )

    return _series_feed(slug, fmt, build)


@bp.get("/feed.<any(rss, atom, json):fmt>")
def site_feed(fmt: str) -> Response:
    """Serve the public series (rolling window, same filters) as RSS, Atom or JSON Feed."""
    feed_filter = _site_filter()
    moment = now()
    try:
        stamps = queries.site_stamps(db(), feed_filter)
    except NotFound as exc:
        return not_found(str(exc))
    version = stamps_version(stamps, moment, "site", fmt, repr(sorted(feed_filter.query().items())))

    def build() -> bytes:
        events = queries.site_feed(
            db(), feed_filter, now=moment, settings=settings(), shape=READER, newest=MAX_ITEMS
        )
        links = _links()
        info = FeedInfo(
            title=_site_title(feed_filter),
            description=_site_description(),
            page_url=links.home(),
            self_url=links.site_feed(fmt, feed_filter.query()),
        )
        return RENDERERS[fmt](
            events,
            info=info,
            links=links,
            domain=settings().domain,
            audience="public",
            texts=reader_texts(events),
        )

    return stored_document(
        _site_key(feed_filter, fmt), version, stamps, FORMATS[fmt].content_type, build
    )
