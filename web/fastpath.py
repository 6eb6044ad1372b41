"""A WSGI fast path for stored feeds: answered before Flask, from one or two indexed reads.

`StoredFeeds(app)` wraps the Flask application's WSGI callable (`server.create_app`). For a
GET or HEAD without a query string and without an `Authorization` header, of

| path | stored under |
|---|---|
| `/series/<slug>.ics`, `.rss`, `.atom`, `.json` | `rendered_feed` (series, format, encoding) |
| `/calendar.ics`, `/feed.rss`, `/feed.atom`, `/feed.json` | `rendered_document` `site/<fmt>` |
| `/s/<token>.ics`, `/s/<token>.rss` (private) | `rendered_document` `personal/<id>/<fmt>` |

it computes the document's version exactly as the Flask views do (`web.feeds`,
`web.subscriptions`: the same stamps, date and settings), and answers a matching
conditional request with 304, or the body stored under exactly that version with 200 (read
once per process and version, then kept in a bounded memo, `BodyMemo`), with
the headers the full stack would send (cache headers and validators from `web.http`, the
security headers, CORS for public feeds, `X-Robots-Tag` for personal ones). Anything else
(no stored body for this version or encoding, another path, a query string, a database
error) goes to Flask unchanged, which builds and stores the body; so this path can only
ever serve what Flask stored for the current version, never a stale or another reader's
document. It skips Flask's request context, routing, session, locale and after-request
hooks: the per-request cost is the stamp query, the stored row and the bytes.
`tests/web/test_fastpath.py` checks that both paths answer the same status, headers and body.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from flask import Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.datastructures import ETags
from werkzeug.http import parse_accept_header, parse_date, parse_etags

from events import queries, topics
from events.errors import NotFound
from feeds import cache
from feeds.formats import FORMATS
from web.context import AppState
from web.feeds import feed_version, personal_version
from web.http import cache_headers, not_modified, ok_response, set_validators, strong_etag
from web.security import CORS_EXPOSED, SECURITY_HEADERS

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SERIES = re.compile(r"/series/([A-Za-z0-9_-]{1,100})\.(ics|rss|atom|json)")
PERSONAL = re.compile(r"/s/([A-Za-z0-9_-]{1,64})\.(ics|rss)")
SITE = {"/calendar.ics": "ics", "/feed.rss": "rss", "/feed.atom": "atom", "/feed.json": "json"}
# The version parts of an unfiltered site-wide feed (web.feeds: no ?series=, no ?tag=).
SITE_FILTER = repr(sorted(queries.FeedFilter().query().items()))
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
        self._bodies: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> bytes | None:
        """Return the body kept under `key`, or None."""
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, key: tuple[str, str, str], body: bytes) -> None:
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
    private: bool = False


@dataclass(frozen=True)
class Asked:
    """What of the request the answer depends on."""

    tags: ETags
    since: datetime | None
    gzip: bool


class StoredFeeds:
    """WSGI middleware answering stored feeds and their 304s before the Flask stack."""

    def __init__(self, app: WSGIApplication, state: AppState) -> None:
        self.app = app
        self.state = state
        self.memo = BodyMemo()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer from the stored feed, or pass the request on to the application."""
        response = self.answer(environ)
        if response is None:
            return self.app(environ, start_response)
        return response(environ, start_response)

    def answer(self, environ: WSGIEnvironment) -> Response | None:
        """Return the fast answer to a request, or None to let Flask answer it."""
        if (
            environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
            or environ.get("QUERY_STRING")
            or "HTTP_AUTHORIZATION" in environ
        ):
            return None
        path = environ.get("PATH_INFO", "")
        route = _route(path)
        if route is None:
            return None
        asked = Asked(
            parse_etags(environ.get("HTTP_IF_NONE_MATCH")),
            parse_date(environ.get("HTTP_IF_MODIFIED_SINCE")),
            parse_accept_header(environ.get("HTTP_ACCEPT_ENCODING"))["gzip"] > 0,
        )
        try:
            with self.state.sessions() as session:
                found = route(session, self.state)
                return None if found is None else self._respond(found, asked)
        except (SQLAlchemyError, NotFound):
            return None  # Flask answers (its own error page, or a 404)

    def _respond(self, found: Found, asked: Asked) -> Response | None:
        config = self.state.settings
        base = strong_etag(found.version)
        headers = cache_headers(config, None, found.private)
        if not_modified(asked.tags, asked.since, base, found.last_modified):
            response = Response(status=304, headers=headers)
        else:
            encoding = "gzip" if asked.gzip else "identity"
            memo_key = (found.key, encoding, found.version)
            payload = self.memo.get(memo_key)
            if payload is None:
                payload = found.load(encoding)
                if payload is None:
                    return None
                self.memo.put(memo_key, payload)
            response = ok_response(payload, asked.gzip, found.content_type, headers)
        set_validators(response, base, asked.gzip, found.last_modified)
        if found.private:
            response.headers["X-Robots-Tag"] = "noindex"
        else:
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


Route = Callable[[Session, AppState], Found | None]


def _route(path: str) -> Route | None:
    matched = SERIES.fullmatch(path)
    if matched is not None:
        slug, fmt = matched.groups()
        return lambda session, state: _series(session, state, slug, fmt)
    if path in SITE:
        fmt = SITE[path]
        return lambda session, state: _site(session, state, fmt)
    matched = PERSONAL.fullmatch(path)
    if matched is not None:
        token, fmt = matched.groups()
        return lambda session, state: _personal(session, state, token, fmt)
    return None


def _series(session: Session, state: AppState, slug: str, fmt: str) -> Found:
    """A series feed (web.feeds._series_feed): its stamp from the series row."""
    stamp = queries.series_stamp(session, slug)
    day = state.clock.now().date().isoformat()
    version = stamp.version(fmt, day, cache.settings_fingerprint(state.settings))
    return Found(
        f"series/{stamp.series_id}/{fmt}",
        version,
        stamp.last_modified,
        FORMATS[fmt].content_type,
        lambda encoding: cache.stored_feed(session, stamp.series_id, fmt, encoding, version),
    )


def _site(session: Session, state: AppState, fmt: str) -> Found:
    """An unfiltered site-wide feed (web.feeds.site_calendar, site_feed)."""
    stamps = queries.site_stamps(session, queries.FeedFilter())
    version = feed_version(state.settings, stamps, state.clock.now(), "site", fmt, SITE_FILTER)
    key = f"site/{fmt}"
    return Found(
        key,
        version,
        stamps.last_modified,
        FORMATS[fmt].content_type,
        lambda encoding: cache.stored_document(session, key, encoding, version),
    )


def _personal(session: Session, state: AppState, token: str, fmt: str) -> Found | None:
    """A personal feed (web.subscriptions._personal): private, keyed by its subscriber;
    its stamps cover the followed topics' talks too (events.topics.personal_stamps)."""
    found = topics.personal_stamps(session, token)
    if found is None:
        return None
    subscriber_id, stamps = found
    version = personal_version(session, state.settings, token, stamps, state.clock.now(), fmt)
    key = f"personal/{subscriber_id}/{fmt}"
    return Found(
        key,
        version,
        stamps.last_modified,
        FORMATS[fmt].content_type,
        lambda encoding: cache.stored_document(session, key, encoding, version),
        private=True,
    )
