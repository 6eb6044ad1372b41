"""A WSGI fast path for stored feeds and pages: answered before Flask, from indexed reads.

`StoredFeeds(app)` wraps the Flask application's WSGI callable (`server.create_app`). For a
GET or HEAD without a query string and without an `Authorization` header, of

| path | stored under |
|---|---|
| `/series/<slug>.ics`, `.rss`, `.atom`, `.json` | `rendered_feed` (series, format, encoding) |
| `/calendar.ics`, `/feed.rss`, `/feed.atom`, `/feed.json` | `rendered_document` `site/<fmt>` |
| `/s/<token>.ics`, `/s/<token>.rss` (private) | `rendered_document` `personal/<id>/<fmt>` |
| `/events/<id>.ics` (a download) | `rendered_document` `talk/<id>/ics` |
| `/api/v1/events` (no cookie) | `rendered_document` `api/events` |
| `/`, `/series/<slug>`, `/events/<id>` (cookies: `lang`, `tz`) | `rendered_document` `page/…` |

it computes the document's version exactly as the Flask views do (`web.feeds`,
`web.subscriptions`, `web.pages` with `web.page_cache`: the same stamps, date, clock and
settings; a page's key from the same path, language and zone), and answers a matching
conditional request with 304, or the body stored under exactly that version with 200 (read
once per process and version, then kept in a bounded memo, `BodyMemo`), with the headers
the full stack would send (built once per document version and variant from `web.http`,
the security headers, CORS for public feeds, `X-Robots-Tag` for personal ones, `Vary` for
pages). Anything else (no stored body for this version or encoding, another path, a query
string, another cookie such as the session's, a database error) goes to Flask unchanged,
which builds and stores the body; so this path can only ever serve what Flask stored for
the current version, never a stale or another reader's document. It skips Flask's request
context, routing, session, locale and after-request hooks, and reads on a raw connection
held per thread (`events.reader`: no session, pool checkout or pre-ping): the per-request
cost is one to three indexed reads and the bytes.
`tests/web/test_fastpath.py` checks that both paths answer the same status, headers and body.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import unquote

from flask import Flask, Response
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header, parse_cookie, parse_date, parse_etags

from events import queries, topics
from events.errors import NotFound, UnknownTimezone
from events.reader import Params, Query, Reader
from events.times import resolve_zone
from feeds import cache
from feeds.formats import FORMATS
from web import page_cache
from web.api.base import PREFIX
from web.api.talks import STORED_LIST, STORED_LIST_ENCODING, list_version
from web.context import AppState
from web.feeds import (
    feed_version,
    personal_version,
    talk_calendar_key,
    talk_calendar_version,
)
from web.http import cache_headers, not_modified, ok_response, set_validators, strong_etag
from web.i18n import DEFAULT, LANG_COOKIE, parse_language
from web.pages import TZ_COOKIE
from web.security import CORS_EXPOSED, SECURITY_HEADERS

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SERIES = re.compile(r"/series/([A-Za-z0-9_-]{1,100})\.(ics|rss|atom|json)")
PERSONAL = re.compile(r"/s/([A-Za-z0-9_-]{1,64})\.(ics|rss)")
SITE = {"/calendar.ics": "ics", "/feed.rss": "rss", "/feed.atom": "atom", "/feed.json": "json"}
# The version parts of an unfiltered site-wide feed (web.feeds: no ?series=, no ?tag=).
SITE_FILTER = repr(sorted(queries.FeedFilter().query().items()))
SERIES_PAGE = re.compile(r"/series/([A-Za-z0-9_-]{1,100})")
TALK_ICS = re.compile(r"/events/([A-Za-z0-9_.-]{1,100})\.ics")
TALK_PAGE = re.compile(r"/events/([A-Za-z0-9_.-]{1,100})")
PAGE_TYPE = "text/html; charset=utf-8"
API_LIST = PREFIX + "/events"
# The encoding a kind of document is stored under when not compressed.
PLAIN = {"page": page_cache.ENCODING, "api": STORED_LIST_ENCODING}
MEMO_BYTES = 32 * 2**20


class BodyMemo:
    """Stored bodies by (document, encoding, version), kept in this process up to a byte
    budget, least recently used out first.

    A memo of a pure function: the bytes of a version never change (the version covers
    everything they depend on), and it is only asked for the version just computed from
    the database's stamps, so it cannot serve a stale body; it saves reading (and on
    PostgreSQL decoding) the same bytes from the database on every request.
    """

    def __init__(self, budget: int = MEMO_BYTES) -> None:
        self.budget = budget
        self.size = 0
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        """Return the body kept under `key`, or None."""
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, key: Hashable, body: bytes) -> None:
        """Keep a body (a body over a quarter of the budget is not kept)."""
        if len(body) > self.budget // 4:
            return
        with self._lock:
            if key in self._bodies:
                return
            self._bodies[key] = body
            self.size += len(body)
            while self.size > self.budget:
                _, dropped = self._bodies.popitem(last=False)
                self.size -= len(dropped)


@dataclass(frozen=True)
class Found:
    """A stored document's validators and how to read its body in one encoding."""

    key: str
    version: str
    last_modified: datetime | None
    content_type: str
    load: Callable[[str], bytes | None]
    kind: str = "public"  # "public" feed, "private" (personal) feed, or "page"
    filename: str | None = None  # a download's (Content-Disposition)


@dataclass(frozen=True)
class Answer:
    """A finished answer, itself a WSGI application (headers prepared once per variant)."""

    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Send the status, headers and (but to HEAD, or for a 304) the body."""
        start_response(self.status, list(self.headers))
        if not self.body or environ.get("REQUEST_METHOD") == "HEAD":
            return []
        return [self.body]


class StoredFeeds:
    """WSGI middleware answering stored feeds, stored pages and their 304s before Flask."""

    def __init__(self, app: WSGIApplication, state: AppState) -> None:
        self.app = app
        self.state = state
        self.memo = BodyMemo()
        self.reader = Reader(state.engine)
        # (document, version, 304?, gzip?) -> the status and headers sent for it
        self._heads: dict[tuple[str, str, bool, bool], tuple[str, tuple[tuple[str, str], ...]]] = {}
        self._zones: dict[str, str | None] = {}
        self._etags: dict[str, str] = {}  # version -> its strong ETag
        # The settings are immutable at runtime (events.config): fingerprinted once.
        self.fingerprint = cache.settings_fingerprint(state.settings)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer from the stored feed or page, or pass the request on to the application."""
        answer = self.answer(environ)
        if answer is None:
            return self.app(environ, start_response)
        return answer(environ, start_response)

    def answer(self, environ: WSGIEnvironment) -> Answer | None:
        """Return the fast answer to a request, or None to let Flask answer it."""
        if (
            environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
            or environ.get("QUERY_STRING")
            or "HTTP_AUTHORIZATION" in environ
        ):
            return None
        path = environ.get("PATH_INFO", "")
        if path == API_LIST:
            if "HTTP_COOKIE" in environ:
                return None  # (the API reads no cookie, but keep to the plainest case)
            route: Route | None = _api_list
        else:
            route = _route(path)
        if route is None:
            route = self._page_route(path, environ)
            if route is None:
                return None
        try:
            found = route(self)
            return None if found is None else self._respond(found, environ)
        except (SQLAlchemyError, self.reader.dialect.loaded_dbapi.Error, NotFound):
            return None  # Flask answers (its own error page, or a 404)

    def _respond(self, found: Found, environ: WSGIEnvironment) -> Answer | None:
        page = found.kind in ("page", "api")
        gzipped = not page and _accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING"))
        base = self._etag(found.version) if not page else ""
        unchanged = not page and _unchanged(environ, base, found.last_modified)
        body = b""
        if not unchanged:
            encoding = "gzip" if gzipped else PLAIN.get(found.kind, "identity")
            memo_key = (found.key, encoding, found.version)
            found_body = self.memo.get(memo_key)
            if found_body is None:
                found_body = found.load(encoding)
                if found_body is None:
                    return None
                self.memo.put(memo_key, found_body)
            body = found_body
        head_key = (found.key, found.version, unchanged, gzipped)
        head = self._heads.get(head_key)
        if head is None:
            head = self._head(found, environ, base, unchanged, gzipped, body)
            if len(self._heads) >= HEADS:
                self._heads.clear()
            self._heads[head_key] = head
        return Answer(head[0], head[1], body)

    def _etag(self, version: str) -> str:
        """Return the strong ETag of a document version (web.http.strong_etag), remembered."""
        etag = self._etags.get(version)
        if etag is None:
            etag = strong_etag(version)
            if len(self._etags) >= HEADS:
                self._etags.clear()
            self._etags[version] = etag
        return etag

    def _head(
        self,
        found: Found,
        environ: WSGIEnvironment,
        base: str,
        unchanged: bool,
        gzipped: bool,
        body: bytes,
    ) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Build the status and headers the Flask stack sends for this variant."""
        if found.kind == "api":
            response = Response(body, 200, mimetype=found.content_type)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
        elif found.kind == "page":
            response = Response(body, status=200, content_type=found.content_type)
            response.vary.add("Cookie")
            response.vary.add("Accept-Language")
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        else:
            private = found.kind == "private"
            headers = cache_headers(self.state.settings, None, private)
            if unchanged:
                response = Response(status=304, headers=headers)
            else:
                response = ok_response(body, gzipped, found.content_type, headers, found.filename)
            set_validators(response, base, gzipped, found.last_modified)
            if private:
                response.headers["X-Robots-Tag"] = "noindex"
            else:
                response.headers["Access-Control-Allow-Origin"] = "*"
                response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        wire = response.get_wsgi_headers({**environ, "REQUEST_METHOD": "GET"})
        return response.status, tuple(wire.to_wsgi_list())

    def _page_route(self, path: str, environ: WSGIEnvironment) -> Route | None:
        """A stored page (home, series, talk) for a reader with no cookie but language and
        zone: its key as web.page_cache.request_key makes it."""
        if path == "/":
            page = _home
        else:
            matched = SERIES_PAGE.fullmatch(path) or TALK_PAGE.fullmatch(path)
            if matched is None or path.endswith(".ics"):
                return None
            ident = matched.group(1)
            if matched.re is SERIES_PAGE:
                page = lambda fast, moment: _series_page(fast, moment, ident)  # noqa: E731
            else:
                page = lambda fast, moment: _talk_page(fast, moment, ident)  # noqa: E731
        cookies = parse_cookie(environ.get("HTTP_COOKIE")) if environ.get("HTTP_COOKIE") else {}
        if any(name not in (LANG_COOKIE, TZ_COOKIE) for name in cookies):
            return None  # a session (or anything else) may change the answer: Flask
        language = parse_language(cookies.get(LANG_COOKIE))
        if language is None:
            accepted = parse_accept_header(environ.get("HTTP_ACCEPT_LANGUAGE"), LanguageAccept)
            for tag, _quality in accepted:
                language = parse_language(tag)
                if language is not None:
                    break
        locale = (language or DEFAULT).locale
        zone = self._zone(unquote(cookies.get(TZ_COOKIE, "")).strip())
        key = page_cache.page_key(path, "", locale, zone)
        return lambda fast: _stored_page(fast, key, page)

    def _zone(self, cookie: str) -> str | None:
        """Return the zone a `tz` cookie selects (web.pages.viewer_zone), remembered."""
        if not cookie:
            return None
        if cookie not in self._zones:
            try:
                zone: str | None = resolve_zone(cookie)
            except UnknownTimezone:
                zone = None
            if len(self._zones) >= HEADS:
                self._zones.clear()
            self._zones[cookie] = zone
        return self._zones[cookie]


def installed(app: Flask) -> StoredFeeds | None:
    """Return the fast path wrapping `app`'s WSGI stack (under ProxyFix, say), or None."""
    wrapper: object = app.wsgi_app
    while not isinstance(wrapper, StoredFeeds):
        wrapper = getattr(wrapper, "app", None)
        if wrapper is None:
            return None
    return wrapper


HEADS = 4096  # prepared header sets (and zone cookies) kept before starting afresh


def _accepts_gzip(value: str | None) -> bool:
    if not value:
        return False
    return _gzip_accepted(value)


@lru_cache(maxsize=256)
def _gzip_accepted(value: str) -> bool:
    return parse_accept_header(value)["gzip"] > 0


def _unchanged(environ: WSGIEnvironment, base: str, last_modified: datetime | None) -> bool:
    tags = environ.get("HTTP_IF_NONE_MATCH")
    since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if not tags and not since:
        return False
    return not_modified(parse_etags(tags), parse_date(since), base, last_modified)


Route = Callable[["StoredFeeds"], Found | None]
Page = Callable[["StoredFeeds", datetime], str | None]


def _route(path: str) -> Route | None:
    matched = SERIES.fullmatch(path)
    if matched is not None:
        slug, fmt = matched.groups()
        return lambda fast: _series(fast, slug, fmt)
    if path in SITE:
        fmt = SITE[path]
        return lambda fast: _site(fast, fmt)
    matched = PERSONAL.fullmatch(path)
    if matched is not None:
        token, fmt = matched.groups()
        return lambda fast: _personal(fast, token, fmt)
    matched = TALK_ICS.fullmatch(path)
    if matched is not None:
        event_id = matched.group(1)
        return lambda fast: _talk_calendar(fast, event_id)
    return None


def _api_list(fast: StoredFeeds) -> Found:
    """The anonymous talk list of the API without arguments (web.api.talks.list_events)."""
    row = fast.reader.first(queries.PUBLIC_SUMMARY)
    assert row is not None
    version = list_version(fast.state.settings, queries.stamps_of(row).summary)
    return Found(
        STORED_LIST,
        version,
        None,
        "application/json",
        _document(fast, STORED_LIST, version),
        kind="api",
    )


def _talk_calendar(fast: StoredFeeds, event_id: str) -> Found | None:
    """One talk's .ics download (web.feeds.event_calendar)."""
    row = fast.reader.first(queries.TALK_STAMP, {"event_id": event_id})
    if row is None:
        return None
    talk_id, sequence, updated, series_updated = row
    version = talk_calendar_version(fast.state.settings, sequence, updated, series_updated)
    key = talk_calendar_key(talk_id)
    return Found(
        key,
        version,
        max(updated, series_updated),
        FORMATS["ics"].content_type,
        _document(fast, key, version),
        filename=f"{talk_id}.ics",
    )


def _series(fast: StoredFeeds, slug: str, fmt: str) -> Found:
    """A series feed (web.feeds._series_feed): its stamp from the series row."""
    row = fast.reader.first(queries.STAMP, {"slug": slug})
    if row is None:
        raise NotFound(slug)
    stamp = queries.FeedStamp(*row)
    state = fast.state
    day = state.clock.now().date().isoformat()
    version = stamp.version(fmt, day, fast.fingerprint)
    params = {"series_id": stamp.series_id, "format": fmt, "version": version}
    return Found(
        f"series/{stamp.series_id}/{fmt}",
        version,
        stamp.last_modified,
        FORMATS[fmt].content_type,
        lambda encoding: fast.reader.scalar(cache.STORED_FEED, {**params, "encoding": encoding}),
    )


def _document(fast: StoredFeeds, key: str, version: str) -> Callable[[str], bytes | None]:
    params = {"key": key, "version": version}
    return lambda encoding: fast.reader.scalar(
        cache.STORED_DOCUMENT, {**params, "encoding": encoding}
    )


def _site(fast: StoredFeeds, fmt: str) -> Found:
    """An unfiltered site-wide feed (web.feeds.site_calendar, site_feed)."""
    row = fast.reader.first(queries.PUBLIC_SUMMARY)
    assert row is not None
    stamps = queries.stamps_of(row)
    state = fast.state
    version = feed_version(state.settings, stamps, state.clock.now(), "site", fmt, SITE_FILTER)
    key = f"site/{fmt}"
    return Found(
        key, version, stamps.last_modified, FORMATS[fmt].content_type, _document(fast, key, version)
    )


def _personal(fast: StoredFeeds, token: str, fmt: str) -> Found | None:
    """A personal feed (web.subscriptions._personal): private, keyed by its subscriber.

    A reader who follows topics needs what those topics' talks change with as well
    (events.topics.with_topics, read through a session as the view does)."""
    found = queries.personal_stamps_of(fast.reader.rows(queries.FOLLOWED, {"token": token}))
    if found is not None and found[1].topic_ids:
        with fast.state.sessions() as session:
            found = topics.with_topics(session, found)
    if found is None:
        return None
    subscriber_id, stamps = found
    state = fast.state
    moment = state.clock.now()
    if stamps.revealing:  # which meeting details are revealed yet: read as the view does
        with state.sessions() as session:
            version = personal_version(session, state.settings, token, stamps, moment, fmt)
    else:
        version = personal_version(None, state.settings, token, stamps, moment, fmt)
    key = f"personal/{subscriber_id}/{fmt}"
    return Found(
        key,
        version,
        stamps.last_modified,
        FORMATS[fmt].content_type,
        _document(fast, key, version),
        kind="private",
    )


def _page_reads(
    fast: StoredFeeds, first: tuple[Query, Params], moment: datetime | None
) -> tuple[tuple[object, ...] | None, str, str]:
    """Read a page's first stamp row, the taxonomy and (given a moment) the clock boundary,
    in one round trip; return the row, the taxonomy digest and the boundary's text."""
    statements: list[tuple[Query, Params]] = [first, (page_cache.TAXONOMY, None)]
    if moment is not None:
        statements.append((page_cache.BOUNDARY, {"now": moment}))
    found = fast.reader.batch(statements)
    row = found[0][0] if found[0] else None
    boundary = str(found[2][0][0]) if moment is not None else ""
    return row, page_cache.taxonomy_digest(found[1]), boundary


def _home(fast: StoredFeeds, moment: datetime) -> str | None:
    row, taxonomy, clock = _page_reads(fast, (queries.PUBLIC_SUMMARY, None), moment)
    assert row is not None
    summary = queries.stamps_of(row).summary
    return page_cache.home_stamp(summary, taxonomy, clock)


def _series_page(fast: StoredFeeds, moment: datetime, slug: str) -> str | None:
    row, taxonomy, clock = _page_reads(fast, (page_cache.SERIES_ROW, {"slug": slug}), moment)
    series = page_cache.row_stamp(row)
    if series is None:
        return None
    return page_cache.series_page_stamp(series, taxonomy, clock)


def _talk_page(fast: StoredFeeds, _moment: datetime, event_id: str) -> str | None:
    first = (page_cache.TALK_SERIES_ROW, {"event_id": event_id})
    row, taxonomy, _ = _page_reads(fast, first, None)
    series = page_cache.row_stamp(row)
    if series is None:
        return None
    return page_cache.talk_page_stamp(series, taxonomy)


def _stored_page(fast: StoredFeeds, key: str, page: Page) -> Found | None:
    """A stored page under the version web.page_cache.stored_page computes."""
    stamp = page(fast, fast.state.clock.now())
    if stamp is None:
        return None
    version = page_cache.page_version(fast.state.settings, stamp)
    return Found(key, version, None, PAGE_TYPE, _document(fast, key, version), kind="page")
