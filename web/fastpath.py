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
conditional request with 304, or the body stored under exactly that version with 200, with
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

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from flask import Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.datastructures import ETags
from werkzeug.http import parse_accept_header, parse_date, parse_etags

from events import queries
from events.errors import NotFound
from feeds import cache
from feeds.formats import FORMATS
from web.context import AppState
from web.feeds import feed_version
from web.http import cache_headers, not_modified, ok_response, set_validators, strong_etag
from web.security import CORS_EXPOSED, SECURITY_HEADERS

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SERIES = re.compile(r"/series/([A-Za-z0-9_-]{1,100})\.(ics|rss|atom|json)")
PERSONAL = re.compile(r"/s/([A-Za-z0-9_-]{1,64})\.(ics|rss)")
SITE = {"/calendar.ics": "ics", "/feed.rss": "rss", "/feed.atom": "atom", "/feed.json": "json"}
# The version parts of an unfiltered site-wide feed (web.feeds: no ?series=, no ?tag=).
SITE_FILTER = repr(sorted(queries.FeedFilter().query().items()))


@dataclass(frozen=True)
class Found:
    """A stored document's validators and how to read its body in one encoding."""

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

    @property
    def conditional(self) -> bool:
        """Return whether the request carries a validator."""
        return bool(self.tags) or self.since is not None


class StoredFeeds:
    """WSGI middleware answering stored feeds and their 304s before the Flask stack."""

    def __init__(self, app: WSGIApplication, state: AppState) -> None:
        self.app = app
        self.state = state

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
                found = route(session, self.state, asked)
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
            payload = found.load("gzip" if asked.gzip else "identity")
            if payload is None:
                return None
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


Route = Callable[[Session, AppState, Asked], Found | None]


def _route(path: str) -> Route | None:
    matched = SERIES.fullmatch(path)
    if matched is not None:
        slug, fmt = matched.groups()
        return lambda session, state, asked: _series(session, state, asked, slug, fmt)
    if path in SITE:
        fmt = SITE[path]
        return lambda session, state, asked: _site(session, state, asked, fmt)
    matched = PERSONAL.fullmatch(path)
    if matched is not None:
        token, fmt = matched.groups()
        return lambda session, state, asked: _personal(session, state, token, fmt)
    return None


def _series(session: Session, state: AppState, asked: Asked, slug: str, fmt: str) -> Found:
    """A series feed (web.feeds._series_feed): the stamp, and the stored body in one query."""
    fingerprint = cache.settings_fingerprint(state.settings)
    day = state.clock.now().date().isoformat()
    encoding = "gzip" if asked.gzip else "identity"
    if asked.conditional:
        stamp = queries.series_stamp(session, slug)
        prefetched: bytes | None = None
    else:
        stamp, stored_version, body = queries.series_stamp_and_feed(session, slug, fmt, encoding)
        prefetched = body if stored_version == stamp.version(fmt, day, fingerprint) else None
    version = stamp.version(fmt, day, fingerprint)

    def load(wanted: str) -> bytes | None:
        if wanted == encoding and not asked.conditional:
            return prefetched  # the row read with the stamp: this version's, or none
        return cache.stored_feed(session, stamp.series_id, fmt, wanted, version)

    return Found(version, stamp.last_modified, FORMATS[fmt].content_type, load)


def _site(session: Session, state: AppState, asked: Asked, fmt: str) -> Found:
    """An unfiltered site-wide feed (web.feeds.site_calendar, site_feed)."""
    stamps = queries.site_stamps(session, queries.FeedFilter())
    version = feed_version(state.settings, stamps, state.clock.now(), "site", fmt, SITE_FILTER)
    key = f"site/{fmt}"
    return Found(
        version,
        stamps.last_modified,
        FORMATS[fmt].content_type,
        lambda encoding: cache.stored_document(session, key, encoding, version),
    )


def _personal(session: Session, state: AppState, token: str, fmt: str) -> Found | None:
    """A personal feed (web.subscriptions._personal): private, keyed by its subscriber."""
    found = queries.personal_stamps(session, token)
    if found is None:
        return None
    subscriber_id, stamps = found
    token_hash = hashlib.sha256(token.encode()).hexdigest()[:16]
    version = feed_version(state.settings, stamps, state.clock.now(), "personal", fmt, token_hash)
    key = f"personal/{subscriber_id}/{fmt}"
    return Found(
        version,
        stamps.last_modified,
        FORMATS[fmt].content_type,
        lambda encoding: cache.stored_document(session, key, encoding, version),
        private=True,
    )
