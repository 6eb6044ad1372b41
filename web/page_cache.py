"""Rendered HTML of the public pages (home, series, talk), stored per version (issue 21).

A page's HTML is a function of: the request's path and query, the page language and the
viewer's zone (both resolved the way the page resolves them), the data it shows, the clock
(only through which talks have ended), the code and templates, and the settings. The
stored copy sits in `rendered_document` (key `page/<hash of path, query, language, zone>`,
encoding `html`) under a version hashing all the rest, read in one or two indexed queries:

- the data: the stamps of the series shown (kept by database triggers on every talk
  insert, update and delete, and by every series edit: `events.queries`), plus a digest of
  the topic taxonomy, which names the topic chips and the home page's filter;
- the clock: the earliest end of a talk not ended yet (`min(end_utc) >= now`, one walk of
  the `end_utc` index). Upcoming and past lists change exactly when a talk ends, which is
  exactly when that value moves;
- the code: a hash of the source, templates and catalogs of `events`, `feeds` and `web`,
  taken once per process, so a deploy never serves a page of the old templates;
- the settings (all but the secret key).

So an edit is visible on the very next request, and language and zone variants never mix.
Only pages whose query holds nothing but known arguments with canonical values are stored
(the variety of stored copies is bounded by the data, three languages and the zones
readers use); anything else, like a home filter or a misspelt zone, renders per request.
Stored pages are never shared across readers by a proxy: they still carry the site's
security headers and `Vary: Cookie, Accept-Language` (set after the view, as for a
rendered page), and `rendered_document` holds nothing personal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from flask import g, request
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from events.config import Settings
from events.models import Event, Series, Topic
from feeds import cache
from web.context import db, settings
from web.i18n import select_language

ENCODING = "html"
PACKAGES = ("events", "feeds", "web")
SOURCE_SUFFIXES = frozenset({".py", ".html", ".po", ".css", ".js", ".json", ".yaml"})
# Page numbers beyond this are rendered per request (the stored copies stay few).
MAX_STORED_PAGE = 3


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Return a hash of the code, templates and catalogs that render pages (once a process)."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.suffix in SOURCE_SUFFIXES and path.is_file():
                digest.update(str(path.relative_to(root)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@lru_cache(maxsize=8)
def settings_digest(config: Settings) -> str:
    """Return a hash of every setting but the secret key."""
    shown = config.model_dump(exclude={"secret_key"})
    return hashlib.sha256(repr(sorted(shown.items())).encode()).hexdigest()[:16]


BOUNDARY = select(func.min(Event.end_utc)).where(Event.end_utc >= bindparam("now"))
TAXONOMY = select(Topic.id, Topic.slug, Topic.name, Topic.parent_id).order_by(Topic.id)


def clock_stamp(session: Session, moment: datetime) -> str:
    """Return the earliest end of a talk not ended at `moment`: lists change when it moves."""
    found = session.connection().execute(BOUNDARY, {"now": moment}).scalar()
    return str(found)


def taxonomy_stamp(session: Session) -> str:
    """Return a digest of the topic taxonomy (a small table)."""
    rows = session.connection().execute(TAXONOMY).all()
    return taxonomy_digest([tuple(r) for r in rows])


def taxonomy_digest(rows: list[tuple[object, ...]]) -> str:
    """Return `taxonomy_stamp` from the rows of `TAXONOMY`."""
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


SERIES_ROW = select(Series.__table__).where(Series.slug == bindparam("slug"))
TALK_SERIES_ROW = (
    select(Series.__table__)
    .join(Event, Event.series_id == Series.id)
    .where(Event.id == bindparam("event_id"))
)


def row_stamp(row: object) -> str | None:
    if row is None:
        return None
    return hashlib.sha256(repr(tuple(row)).encode()).hexdigest()[:32]  # type: ignore[arg-type]


def series_stamp(session: Session, slug: str) -> str | None:
    """Return a digest of a series' whole row (its edits, and its talks' revision and newest
    change, which database triggers keep there); None for an unknown series."""
    return row_stamp(session.connection().execute(SERIES_ROW, {"slug": slug}).first())


def talk_series_stamp(session: Session, event_id: str) -> str | None:
    """Return `series_stamp` of a talk's series (None for an unknown talk)."""
    row = session.connection().execute(TALK_SERIES_ROW, {"event_id": event_id}).first()
    return row_stamp(row)


def home_stamp(summary: tuple[object, ...], taxonomy: str, clock: str) -> str:
    """Return the data stamp of the unfiltered home page (web.pages.home)."""
    return "\0".join(["home", repr(summary), taxonomy, clock])


def series_page_stamp(series: str, taxonomy: str, clock: str) -> str:
    """Return the data stamp of a series page (web.pages.series_page)."""
    return "\0".join(["series", series, taxonomy, clock])


def talk_page_stamp(series: str, taxonomy: str) -> str:
    """Return the data stamp of a talk page: it shows no list, the clock does not reach it."""
    return "\0".join(["talk", series, taxonomy])


Check = Callable[[str], bool]


def page_number(value: str) -> bool:
    """Return whether a page number is one whose copy is stored."""
    return value.isdigit() and 1 <= int(value) <= MAX_STORED_PAGE


def exactly(expected: str) -> Check:
    """Return a check accepting only `expected`."""
    return lambda value: value == expected


def request_key(allowed: Mapping[str, Check], zone: str | None) -> str | None:
    """Return the stored-copy key of this request, or None when it is not stored.

    Stored: GET or HEAD, every query argument known, given once and accepted by its check,
    `lang` and `tz` (when given) exactly the language and zone they select.
    """
    if request.method not in ("GET", "HEAD"):
        return None
    args = request.args
    language = select_language()
    checks = {**allowed, "lang": exactly(language.tag), "tz": exactly(zone or "")}
    for name in args:
        check = checks.get(name)
        if check is None or len(args.getlist(name)) != 1 or not check(args[name]):
            return None
    query = "&".join(f"{k}={args[k]}" for k in sorted(args))
    return page_key(request.path, query, language.locale, zone)


def page_key(path: str, query: str, locale: str, zone: str | None) -> str:
    """Return the stored-copy key of a page variant (canonical query, language, zone)."""
    text = "\0".join([path, query, locale, zone or "-"])
    return "page/" + hashlib.sha256(text.encode()).hexdigest()[:40]


def page_version(config: Settings, stamp: str) -> str:
    """Return the version of a stored page: code, settings and the data's stamp."""
    parts = [code_fingerprint(), settings_digest(config), stamp]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:40]


def stored_page(
    key: str | None,
    data: Callable[[Session], str | None],
    render: Callable[[], tuple[str, int]],
) -> tuple[str, int]:
    """Answer a page from its stored copy for the current version, else `render()` it and
    store a 200 answer. `data(session)` gives the data's stamp (None: render, don't store).

    The version is read before rendering, so a stored copy is never older than its version.
    """
    if key is None:
        return render()
    session = db()
    stamp = data(session)
    if stamp is None:
        return render()
    version = page_version(settings(), stamp)
    body = cache.stored_document(session, key, ENCODING, version)
    if body is not None:
        g.page_rendered = True  # the same Vary as a rendered page
        return body.decode(), 200
    text, status = render()
    if status == 200:
        cache.store_document(session, key, ENCODING, version, text.encode())
    return text, status
