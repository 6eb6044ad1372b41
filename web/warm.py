"""After an edit, refresh the stored documents that show it (issue 21, "after an edit").

A mutating request (POST, PUT, PATCH, DELETE) collects what its sessions commit
(`events.changes.watch`). When that changed series or talks, this process's refresher
thread (`Refresher`, below) re-requests, once the response is sent, through the whole WSGI
application (fast path first, then Flask, which builds
and stores the new body), the public documents that show them and that readers have asked
for before, i.e. that have a stored row (whatever its version):

- the series' feeds (`rendered_feed`: each format and calendar shape; with
  `Accept-Encoding: gzip` when a gzip body was stored, which stores the plain one too);
- the site-wide feeds (`site/<fmt>`) and the anonymous API list (`api/events`);
- the home page, the series' pages and their talks' pages, without a zone, in each language
  a copy is stored for (`web.page_cache.page_key`), up to `MAX_TALK_DOCUMENTS` talk pages;
- the changed talks' `.ics` downloads (all the series' talks when the series itself was
  edited), up to `MAX_TALK_DOCUMENTS`;
- the personal feeds of up to `MAX_PERSONAL` subscribers who follow the series directly;

in that order, for at most `BUDGET_SECONDS` (a rebuild takes about 3 to 20 ms).

A document the fast path already answers (current) is left alone; a rebuilt one is asked
of the fast path once more, so this process's memo (`web.fastpath.BodyMemo`) holds it;
other workers read it from the database once. A request that fails while warming is
logged, never raised. The refresh only stores what Flask stores for a reader: versions
still come from the database stamps, so nothing is ever served stale.

The refresh runs on one background thread per process (`Refresher`, started on first use,
again after a fork), handed the changes once the response is closed, i.e. sent: the editor
gets the answer at once, the request's thread and connection are free for the next request
at once (run in that thread instead, gunicorn's gthread worker kept the keep-alive
connection, often one of nginx's upstream `keepalive` connections, busy for the whole
refresh: 0.1 to 0.2 s once per edit for whichever request came next on it), and changes
queued while a refresh runs are merged into the next one. A reader who comes before the
refresh reaches their document builds it, as without the refresh; a worker stopped
meanwhile loses only the refresh (the next reader builds it).

Edits made elsewhere (the worker's import jobs and mirrors, `eventfeed import`, other web
nodes, SQL) are found by polling: every `EVENTFEED_WARM_POLL_SECONDS` (2 s; 0: never), and
in each round it runs anyway, the thread reads every series' change stamps in one query
(`STAMPS`: `updated_at` written with the row, `feed_revision` and `talks_changed_at` moved by
the database triggers on any insert, update or delete of one of its talks) on the fast
path's raw connection, and compares them with its last look (the process's own; its first
look only records). A series whose stamps moved is refreshed as after an edit: with the
talks whose `updated_at` is not older than its `talks_changed_at` seen last (their pages
first, their `.ics` downloads), or, when its own row was written or it is new, all of its
talks' downloads (their versions hold the series' `updated_at`); a deleted series
refreshes the site-wide documents. Every worker polls for itself: the first to reach a
document rebuilds it, the others (once it is stored) find it current and read its body
once into their memo.
Since a round for this process's edits looks too, the next look does not see them again.
The thread starts on the first request a process serves (`Starter`, outside the fast path,
so a fast-path answer starts it too; a forked gunicorn worker starts its own, a preloading
master none). A talk changed without its `updated_at` moving (raw SQL) has its page
refreshed, not its own `.ics` download.

Not refreshed (their readers pay one rebuild, as before): other page variants (zones,
filters, page numbers), topic feeds and pages, personal feeds of topic followers or beyond
the cap, changes the series stamps do not show (topic taxonomy, subscriptions), and what
changed before a process's first look. `EVENTFEED_WARM_AFTER_EDIT=false` turns all of this
off.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, g, request
from sqlalchemy import String, bindparam, cast, literal, select
from sqlalchemy.orm import Session
from werkzeug.test import EnvironBuilder, run_wsgi_app

from events import changes
from events.models import (
    Event,
    RenderedDocument,
    RenderedFeed,
    Series,
    Subscriber,
    Subscription,
)
from events.reader import Params, Query
from web import page_cache
from web.api.base import PREFIX
from web.api.talks import STORED_LIST
from web.context import state
from web.fastpath import SITE, StoredFeeds, installed
from web.feeds import shape_query, talk_calendar_key
from web.i18n import DEFAULT, LANG_COOKIE, LANGUAGES

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_PERSONAL = 100  # personal feeds refreshed per edit (subscribers, each ics and rss)
MAX_TALK_DOCUMENTS = 100  # talk pages, and talk .ics downloads, refreshed per edit
SITE_PATHS = {fmt: path for path, fmt in SITE.items()}
CHUNK = 500
BUDGET_SECONDS = 10.0  # a refresh stops asking once it has run this long (logged)


@dataclass(frozen=True)
class Visit:
    """One request the refresh makes: a path, its query, gzip or not, a language cookie."""

    path: str
    query: str = ""
    gzip: bool = False
    lang: str = ""


@dataclass
class Warmed:
    """What one refresh did: the requests and their statuses (0: it was current already),
    the failures and the seconds taken."""

    visits: list[tuple[Visit, int]]
    failures: int
    seconds: float


def init_app(app: Flask) -> None:
    """Refresh after edits, unless the `warm_after_edit` setting is off."""
    if not state(app).settings.warm_after_edit:
        return
    app.before_request(_watch)
    app.after_request(_after)
    app.teardown_request(_unwatch)


def _watch() -> None:
    if request.method in MUTATING:
        g.warm_changes, g.warm_token = changes.watch()


def _unwatch(_exc: BaseException | None = None) -> None:
    token = g.pop("warm_token", None)
    if token is not None:
        changes.unwatch(token)


def _after(response: Response) -> Response:
    found: changes.Changes | None = g.get("warm_changes")
    if found:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        snapshot = changes.Changes()
        snapshot.add(found)
        response.call_on_close(lambda: refresher(app).submit(snapshot))
    return response


class Refresher:
    """One background thread per process running an application's refreshes in turn,
    changes submitted meanwhile merged into the next one; with polling on, it also looks
    at every series' change stamps each `warm_poll_seconds` (and in each round) and
    refreshes the series other processes changed (see the module's docstring)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        settings = state(app).settings
        self.poll_seconds = settings.warm_poll_seconds if settings.warm_after_edit else 0.0
        self.rounds: deque[Round] = deque(maxlen=32)  # the latest ones (tests, benchmarks)
        self._lock = threading.Condition()
        self._pending: changes.Changes | None = None
        self._running = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._seen: dict[int, Stamp] | None = None  # this process's last look: id → stamp
        self._looks_started = 0
        self._looks_done = 0
        self._failing = False  # the last look could not read the stamps

    def start(self) -> None:
        """Start this process's thread unless it runs already (again after a fork)."""
        with self._lock:
            self._start()

    def _start(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        if self._pid != os.getpid():  # (a forked worker has no thread of its parent's)
            self._pid = os.getpid()
            self._seen = None  # its first look only records
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="eventfeed-refresh", daemon=True)
        self._thread.start()

    def submit(self, found: changes.Changes) -> None:
        """Queue a refresh of what `found` changed (merged with one not started yet)."""
        with self._lock:
            if self._pending is None:
                self._pending = changes.Changes()
            self._pending.add(found)
            self._start()
            self._lock.notify_all()

    def stop(self, timeout: float = 30.0) -> None:
        """End the thread once its current round is done (tests: before disposing the engine)."""
        with self._lock:
            self._stopping = True
            thread = self._thread
            self._lock.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until no refresh is queued or running; return whether that happened."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending is None and not self._running, timeout)

    @property
    def last_round(self) -> Round | None:
        """The latest round, or None."""
        return self.rounds[-1] if self.rounds else None

    def next_look(self) -> int:
        """Return the number of the first look at the stamps that starts after this call."""
        with self._lock:
            return self._looks_started + 1

    def wait_look(self, timeout: float = 30.0, number: int | None = None) -> bool:
        """Wait until look `number` (by default the first that starts after this call) has
        ended, with its refresh; return whether it did (never when polling is off or no
        thread runs)."""
        with self._lock:
            target = self._looks_started + 1 if number is None else number
            return self._lock.wait_for(lambda: self._looks_done >= target, timeout)

    def _run(self) -> None:
        poll = self.poll_seconds
        due = time.monotonic()  # the first look (it only records) comes at once
        while True:
            with self._lock:
                while not (
                    self._stopping
                    or self._pending is not None
                    or (poll > 0 and time.monotonic() >= due)
                ):
                    self._lock.wait(max(0.0, due - time.monotonic()) if poll > 0 else None)
                if self._stopping:
                    return
                found, self._pending, self._running = self._pending, None, True
                look = poll > 0  # every round looks: its own edits are then not seen again
                self._looks_started += look
                number = self._looks_started if look else 0
            try:
                self._round(found, number)
            except Exception:
                log.exception("warming: a refresh round failed")
            finally:
                # (±25%: workers forked, or started, at once drift apart, so one usually
                # rebuilds a document and the others find it current)
                due = time.monotonic() + poll * random.uniform(0.75, 1.25)
                with self._lock:
                    self._running = False
                    self._looks_done += look
                    self._lock.notify_all()

    def _round(self, found: changes.Changes | None, number: int) -> None:
        started = time.perf_counter()
        wanted = changes.Changes()
        if found is not None:
            wanted.add(found)
        moved = self._look() if number else changes.Changes()
        wanted.add(moved)
        warmed = warm(self.app, wanted) if wanted else None
        self.rounds.append(Round(number, moved, warmed, time.perf_counter() - started))

    def _look(self) -> changes.Changes:
        """Read every series' stamps; return what moved since the last look (the first
        look only records): new and deleted series, and edited series with the talks whose
        `updated_at` is not older than the series' last `talks_changed_at` seen."""
        moved = changes.Changes()
        try:
            now = {
                ident: (revision, updated, talks)
                for ident, revision, updated, talks in _rows(self.app, STAMPS)
            }
        except Exception:
            if not self._failing:  # (once, not each poll, while the database is away)
                log.exception("warming: reading the series' change stamps failed")
            self._failing = True
            return moved
        if self._failing:
            log.warning("warming: reading the series' change stamps works again")
            self._failing = False
        seen, self._seen = self._seen, now
        if seen is None:
            return moved
        moved.series_ids.update(seen.keys() - now.keys())  # deleted
        for ident, stamp in now.items():
            before = seen.get(ident)
            if before == stamp:
                continue
            moved.series_ids.add(ident)
            if before is None or before[1] != stamp[1]:
                moved.series_rows.add(ident)  # new, or its own row written: all its talks
                continue
            since = before[2] or EPOCH
            try:
                talks = _rows(self.app, CHANGED_TALKS, {"series_id": ident, "since": since})
            except Exception:
                log.exception("warming: reading the changed talks of series %d failed", ident)
                continue
            moved.talk_ids.update(talk for (talk,) in talks)
        return moved


Stamp = tuple[int, datetime, datetime | None]  # feed_revision, updated_at, talks_changed_at
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Every series' change stamps: `updated_at` is written with its row, `feed_revision` and
# `talks_changed_at` by the database triggers (migration 0005) on every insert, update and
# delete of one of its talks, by any process.
STAMPS = select(Series.id, Series.feed_revision, Series.updated_at, Series.talks_changed_at)
# A series' talks changed since a moment (its `talks_changed_at` seen last), latest first.
CHANGED_TALKS = (
    select(Event.id)
    .where(Event.series_id == bindparam("series_id"), Event.updated_at >= bindparam("since"))
    .order_by(Event.updated_at.desc())
    .limit(MAX_TALK_DOCUMENTS)
)


@dataclass(frozen=True)
class Round:
    """What one round of the refresher did: its look at the stamps' number (0: none), what
    moved (other processes' changes), the refresh (None: nothing to do) and its seconds."""

    look: int
    moved: changes.Changes
    warmed: Warmed | None
    seconds: float


def _rows(app: Flask, statement: Query, params: Params = None) -> list[tuple[Any, ...]]:
    """Run a read on the fast path's per-thread connection (no session, no transaction)."""
    fast = installed(app)
    if fast is not None:
        return fast.reader.rows(statement, params)
    with state(app).sessions() as session:
        return [tuple(row) for row in session.execute(statement, dict(params or {}))]


class Starter:
    """WSGI middleware starting the process's refresher (so its polling) on the first
    request the process serves, one the fast path answers included (a forked worker: its
    own; a preloading master serves none, so starts none)."""

    def __init__(self, app: WSGIApplication, refresher: Refresher) -> None:
        self.app = app
        self.refresher = refresher
        self._pid = 0

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Start the refresher if this process has not yet, then pass the request on."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self.refresher.start()
        return self.app(environ, start_response)


def install(app: Flask) -> None:
    """Wrap the WSGI stack (outside the fast path) so the first request of each process
    starts its refresher, when polling is on (`warm_after_edit` and `warm_poll_seconds`)."""
    settings = state(app).settings
    if settings.warm_after_edit and settings.warm_poll_seconds > 0:
        app.wsgi_app = Starter(app.wsgi_app, refresher(app))  # type: ignore[method-assign]


def refresher(app: Flask) -> Refresher:
    """Return the application's refresher (made on first use)."""
    found = app.extensions.get("eventfeed_refresher")
    if found is None:
        found = app.extensions.setdefault("eventfeed_refresher", Refresher(app))
    assert isinstance(found, Refresher)
    return found


def settle(app: Flask, timeout: float = 30.0) -> bool:
    """Wait for the application's queued refreshes (tests, benchmarks)."""
    return refresher(app).settle(timeout)


def stop(app: Flask) -> None:
    """End the application's refresher thread, if any (tests, before disposing the engine)."""
    found = app.extensions.get("eventfeed_refresher")
    if isinstance(found, Refresher):
        found.stop()


def warm(app: Flask, found: changes.Changes) -> Warmed:
    """Re-request the stored documents that show `found`; log (never raise) failures."""
    started = time.perf_counter()
    done: list[tuple[Visit, int]] = []
    failures = 0
    try:
        with state(app).sessions() as session:
            visits = documents(session, found)
    except Exception:
        log.exception("warming after an edit: finding the stored documents failed")
        return Warmed(done, 1, time.perf_counter() - started)
    base_url = state(app).settings.base_url
    fast = installed(app)
    for visit in visits:
        if time.perf_counter() - started > BUDGET_SECONDS:
            log.warning("warming after an edit: stopped after %d of %d", len(done), len(visits))
            break
        try:
            done.append((visit, _get(app, fast, base_url, visit)))
        except Exception:
            failures += 1
            log.exception("warming after an edit: %s failed", visit.path)
    return Warmed(done, failures, time.perf_counter() - started)


def _get(app: Flask, fast: StoredFeeds | None, base_url: str, visit: Visit) -> int:
    """GET a document as an anonymous reader would: 0 when the fast path already answers it
    (stored for the current version), else the status of the whole WSGI application's
    answer (Flask builds and stores the body); then ask the fast path again, which keeps
    the new body in this process's memo (web.fastpath.BodyMemo) for the next reader."""
    headers = [("Accept-Encoding", "gzip")] if visit.gzip else []
    if visit.lang:
        headers.append(("Cookie", f"{LANG_COOKIE}={visit.lang}"))
    builder = EnvironBuilder(
        path=visit.path, query_string=visit.query or None, base_url=base_url, headers=headers
    )
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    environ["REMOTE_ADDR"] = "127.0.0.1"
    if fast is not None and fast.answer(dict(environ)) is not None:
        return 0
    body, status, _headers = run_wsgi_app(app, dict(environ), buffered=True)
    for _chunk in body:
        pass
    if fast is not None:
        fast.answer(dict(environ))
    return int(status.split(" ", 1)[0])


def documents(session: Session, found: changes.Changes) -> list[Visit]:
    """Return the requests that refresh the stored documents showing `found`'s changes."""
    query = select(Series.id, Series.slug).where(Series.id.in_(found.series_ids))
    series = {ident: slug for ident, slug in session.execute(query)}
    visits = _series_feeds(session, series)
    candidates = _candidates(session, series, found)
    stored = _stored(session, candidates)
    visits += [
        Visit(path, query, "gzip" in stored[key], lang)
        for key, (path, query, lang) in candidates.items()
        if key in stored
    ]
    visits += _personal(session, list(series))
    return visits


def _series_feeds(session: Session, series: dict[int, str]) -> list[Visit]:
    rows = session.execute(
        select(RenderedFeed.series_id, RenderedFeed.format, RenderedFeed.encoding).where(
            RenderedFeed.series_id.in_(list(series))
        )
    )
    found: dict[tuple[int, str], bool] = {}
    for series_id, fmt, encoding in rows:
        found[series_id, fmt] = found.get((series_id, fmt), False) or encoding == "gzip"
    visits = []
    for (series_id, fmt), gzipped in sorted(found.items()):
        ext = fmt.split("-")[0]
        visits.append(Visit(f"/series/{series[series_id]}.{ext}", shape_query(fmt), gzipped))
    return visits


def _candidates(
    session: Session, series: dict[int, str], found: changes.Changes
) -> dict[str, tuple[str, str, str]]:
    """Return the `rendered_document` keys that may show the changes: key → (path, query,
    language cookie), the most read first."""
    keys: dict[str, tuple[str, str, str]] = {}
    if found.series_ids:  # (a deleted series is no longer in `series`: these changed too)
        for fmt, path in SITE_PATHS.items():
            keys[f"site/{fmt}"] = (path, "", "")
        keys[STORED_LIST] = (PREFIX + "/events", "", "")
    talks = list(found.talk_ids)
    others = session.scalars(
        select(Event.id)
        .where(Event.series_id.in_(list(series)))
        .order_by(Event.start_utc.desc())
        .limit(MAX_TALK_DOCUMENTS * 4)
    ).all()
    pages = ["/", *(f"/series/{slug}" for slug in series.values())]
    pages += [f"/events/{talk}" for talk in dict.fromkeys([*talks, *others])]
    for path in pages[: 1 + len(series) + MAX_TALK_DOCUMENTS]:
        for language in LANGUAGES:
            key = page_cache.page_key(path, "", language.locale, None)
            keys[key] = (path, "", "" if language == DEFAULT else language.tag)
    downloads = list(dict.fromkeys([*talks, *others])) if found.series_rows else talks
    for talk in downloads[:MAX_TALK_DOCUMENTS]:
        keys[talk_calendar_key(talk)] = (f"/events/{talk}.ics", "", "")
    return keys


def _stored(session: Session, keys: Iterable[str]) -> dict[str, set[str]]:
    """Return which of `keys` have a stored row, and in which encodings."""
    wanted = list(keys)
    found: dict[str, set[str]] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(RenderedDocument.key, RenderedDocument.encoding).where(
                RenderedDocument.key.in_(wanted[start : start + CHUNK])
            )
        )
        for key, encoding in rows:
            found.setdefault(key, set()).add(encoding)
    return found


def _personal(session: Session, series_ids: list[int]) -> list[Visit]:
    """The stored personal feeds of subscribers following the series (up to MAX_PERSONAL)."""
    if not series_ids:
        return []
    key = literal("personal/") + cast(Subscriber.id, String) + literal("/")
    rows = session.execute(
        select(Subscriber.id, Subscriber.token, RenderedDocument.key, RenderedDocument.encoding)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .join(
            RenderedDocument,
            RenderedDocument.key.in_([key + literal("ics"), key + literal("rss")]),
        )
        .where(Subscription.series_id.in_(series_ids))
        .order_by(Subscriber.id)
        .distinct()
        .limit(MAX_PERSONAL * 4)
    )
    feeds: dict[tuple[int, str], tuple[str, bool]] = {}
    for subscriber_id, token, stored_key, encoding in rows:
        fmt = stored_key.rsplit("/", 1)[1]
        gzipped = feeds.get((subscriber_id, fmt), ("", False))[1] or encoding == "gzip"
        feeds[subscriber_id, fmt] = (token, gzipped)
    subscribers = sorted({subscriber_id for subscriber_id, _ in feeds})[:MAX_PERSONAL]
    kept = set(subscribers)
    return [
        Visit(f"/s/{token}.{fmt}", "", gzipped)
        for (subscriber_id, fmt), (token, gzipped) in sorted(feeds.items())
        if subscriber_id in kept
    ]
