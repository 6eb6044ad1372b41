"""Mirrored series: follow an external iCalendar URL, applying its differences as edits.

A series may mirror one http(s) URL (an Indico export, a Google or Nextcloud public
calendar, another EventFeed). `refresh` fetches it with a conditional GET (the stored ETag
and Last-Modified), and on new data applies it through the importer, exactly as an .ics
import of the series with "cancel those" chosen: talks are created or updated in place
(a changed time, zone, place or status raises SEQUENCE), upcoming talks no longer upstream
become cancelled (never deleted), and the usual signals send the series' change emails.
Recurring upstream events are expanded by the importer; only talks starting from
`WINDOW_BACK` before to `WINDOW_AHEAD` after the fetch are applied, and only talks of that
window are cancelled when missing.

Safe fetching (`fetch`): http and https only; each hop of at most `MAX_REDIRECTS`
redirects is checked again; the host is resolved once, every address it resolves to must
be public (private, loopback, link-local and other non-global addresses are refused unless
in EVENTFEED_MIRROR_ALLOWED_NETWORKS) and the connection goes to that checked address (no
second lookup, so no DNS rebinding); timeouts on connect and every read, an overall
deadline, and a size limit. A fetch or apply that fails changes no talk: the series keeps
its last good data and the mirror records the error.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from events import history, importer, store, times
from events.config import IPNetwork, Settings
from events.errors import EventFeedError
from events.models import Event, Series, SeriesMirror
from events.schemas import validate_event

WINDOW_BACK = timedelta(days=30)
WINDOW_AHEAD = timedelta(days=365)
MAX_REDIRECTS = 5
MAX_URL_LENGTH = 2000
MAX_BACKOFF = 8  # a failing mirror waits at most 8 intervals between attempts
DUE_BATCH = 20
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "EventFeed-mirror/1 (+https://github.com/eventfeed)"
CHUNK = 64 * 1024


class FetchError(EventFeedError):
    """The upstream calendar could not be fetched (or was refused)."""


class MirrorError(EventFeedError):
    """A mirror setting was refused (bad URL, unknown series)."""


@dataclass(frozen=True)
class Limits:
    """How a fetch is bounded: per-operation timeout, body size, networks allowed."""

    timeout: float = 10.0
    max_bytes: int = 5 * 1024 * 1024
    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        """Return the limits configured in `settings`."""
        return cls(
            settings.mirror_timeout_seconds, settings.mirror_max_bytes, settings.mirror_networks
        )


@dataclass(frozen=True)
class Fetched:
    """The answer of a fetch: 200 with a body, or 304 (not modified)."""

    status: int
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What one refresh did: its result ('ok', 'not modified', 'error') and a line of text."""

    result: str
    message: str


def check_url(url: str) -> SplitResult:
    """Return the parts of an http(s) URL with a host; raise MirrorError otherwise."""
    text = url.strip()
    if len(text) > MAX_URL_LENGTH:
        raise MirrorError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        raise MirrorError(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise MirrorError(f"only http:// and https:// URLs can be mirrored, not {text[:60]!r}")
    if not parts.hostname:
        raise MirrorError(f"the URL {text[:60]!r} has no host")
    if any(c.isspace() or ord(c) < 32 for c in text):
        raise MirrorError("the URL must not contain spaces or control characters")
    return parts


def allowed_address(address: str, allowed: tuple[IPNetwork, ...]) -> bool:
    """Return whether a mirror may connect to `address` (public, or in an allowed network)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in allowed):
        return True
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int, allowed: tuple[IPNetwork, ...]) -> list[str]:
    """Resolve `host` once; return its addresses, each checked; raise FetchError if any is not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host}: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise FetchError(f"cannot resolve {host}")
    for address in addresses:
        if not allowed_address(address, allowed):
            raise FetchError(
                f"{host} resolves to {address}, a private, loopback or link-local address: "
                "refused (see EVENTFEED_MIRROR_ALLOWED_NETWORKS)"
            )
    return addresses


def _connect(addresses: list[str], port: int, timeout: float) -> socket.socket:
    """Open a TCP connection to the first checked address that answers."""
    last: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            last = exc
    raise last or OSError("no address")


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to addresses resolved and checked beforehand."""

    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self.addresses, self.port, float(self.timeout or 10))


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to checked addresses; the certificate is checked against the host."""

    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.addresses = addresses

    def connect(self) -> None:
        raw = _connect(self.addresses, self.port, float(self.timeout or 10))
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def fetch(
    url: str,
    limits: Limits,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Fetched:
    """GET `url` safely (see the module's text); raise FetchError on any failure."""
    deadline = time.monotonic() + 3 * limits.timeout
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            parts = check_url(current)
        except MirrorError as exc:
            raise FetchError(str(exc)) from None
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = resolve(host, port, limits.allowed)
        kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
        connection = kind(host, port, addresses, limits.timeout)
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "text/calendar, */*;q=0.1",
            "Accept-Encoding": "identity",
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            if response.status in REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise FetchError(f"redirect {response.status} without a Location")
                current = urljoin(current, location.strip())
                continue
            if response.status == 304:
                return Fetched(304)
            if response.status != 200:
                raise FetchError(f"the server answered {response.status} {response.reason}")
            body = _read(response, limits, deadline)
            return Fetched(
                200, body, response.getheader("ETag"), response.getheader("Last-Modified")
            )
        except (OSError, http.client.HTTPException) as exc:
            reason = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError):
                reason = "timed out"
            raise FetchError(f"fetching {host} failed: {reason}") from None
        finally:
            connection.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _read(response: http.client.HTTPResponse, limits: Limits, deadline: float) -> bytes:
    """Read a body of at most `limits.max_bytes` before the deadline; raise FetchError."""
    too_large = f"the calendar is larger than the {limits.max_bytes:,}-byte limit"
    declared = response.getheader("Content-Length")
    if declared and declared.strip().isdigit() and int(declared) > limits.max_bytes:
        raise FetchError(too_large)
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise FetchError("the fetch took too long")
        chunk = response.read(CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limits.max_bytes:
            raise FetchError(too_large)
        chunks.append(chunk)


# --- settings --------------------------------------------------------------------------


def get_mirror(session: Session, series: Series) -> SeriesMirror | None:
    """Return the mirror of a series, or None."""
    return session.get(SeriesMirror, series.id)


def set_mirror(session: Session, series: Series, url: str, now: datetime) -> SeriesMirror:
    """Make `series` mirror `url` (fetched at the worker's next round); a new URL forgets
    the old one's validators and results."""
    text = check_url(url).geturl()
    mirror = get_mirror(session, series)
    if mirror is None:
        mirror = SeriesMirror(series_id=series.id, url=text, next_fetch_at=now, created_at=now)
        session.add(mirror)
    elif mirror.url != text:
        mirror.url = text
        mirror.etag = mirror.last_modified = mirror.result = None
        mirror.fetched_at = mirror.good_at = None
        mirror.message = ""
        mirror.failures = 0
        mirror.next_fetch_at = now
    session.flush()
    return mirror


def remove_mirror(session: Session, series: Series) -> bool:
    """Stop mirroring (the talks stay as they are); return whether there was a mirror."""
    mirror = get_mirror(session, series)
    if mirror is None:
        return False
    session.delete(mirror)
    session.flush()
    return True


def status(mirror: SeriesMirror) -> dict[str, Any]:
    """Return a mirror's settings and last outcome as plain values (API, CLI)."""
    return {
        "url": mirror.url,
        "fetched_at": mirror.fetched_at,
        "result": mirror.result,
        "message": mirror.message,
        "good_at": mirror.good_at,
        "next_fetch_at": mirror.next_fetch_at,
        "etag": mirror.etag,
        "last_modified": mirror.last_modified,
    }


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "never"


def status_text(mirror: SeriesMirror) -> str:
    """Return a mirror's state as a few lines (the CLI's answer)."""
    lines = [f"url: {mirror.url}", f"last fetch: {_when(mirror.fetched_at)}"]
    if mirror.result:
        detail = f" ({mirror.message})" if mirror.message else ""
        lines.append(f"result: {mirror.result}{detail}")
    lines.append(f"last good data: {_when(mirror.good_at)}")
    lines.append(f"next fetch: {_when(mirror.next_fetch_at)}")
    return "\n".join(lines)


# --- refreshing ------------------------------------------------------------------------


def in_window(parsed: importer.Parsed, now: datetime) -> importer.Parsed:
    """Keep the talks that start in the mirror window (unreadable times stay, to be reported)."""
    kept = importer.Parsed()
    for item in parsed.events:
        try:
            start = times.to_instant(
                times.parse_local_time(str(item.data["start"])), str(item.data["timezone"])
            )
        except (EventFeedError, KeyError, ValueError):
            kept.events.append(item)
            continue
        if now - WINDOW_BACK <= start <= now + WINDOW_AHEAD:
            kept.events.append(item)
    return kept


def _cancel_missing(session: Session, series: Series, listed: set[str], now: datetime) -> list[str]:
    """Cancel the series' talks of the window still to come that upstream no longer lists."""
    query = (
        select(Event)
        .where(
            Event.series_id == series.id,
            Event.end_utc >= now,
            Event.start_utc <= now + WINDOW_AHEAD,
            Event.status != "cancelled",
            Event.kind != "tba",
        )
        .order_by(Event.start_utc, Event.id)
    )
    gone = [talk for talk in session.scalars(query) if talk.id not in listed]
    for talk in gone:
        record = validate_event(
            {**importer.event_input(talk), "status": "cancelled"}, store.series_record(series)
        )
        store.upsert_event(session, series, record, now)
    session.flush()
    return [talk.id for talk in gone]


def _record(
    session: Session, mirror: SeriesMirror, outcome: Outcome, now: datetime, every: timedelta
) -> None:
    mirror.fetched_at = now
    mirror.result = outcome.result
    mirror.message = outcome.message[:2000]
    if outcome.result == "error":
        mirror.failures += 1
    else:
        mirror.failures = 0
        mirror.good_at = now
    mirror.next_fetch_at = now + every * min(2 ** max(mirror.failures - 1, 0), MAX_BACKOFF)


def _failed(
    factory: sessionmaker[Session], series_id: int, message: str, now: datetime, every: timedelta
) -> Outcome:
    outcome = Outcome("error", message)
    with factory() as session, session.begin():
        mirror = session.get(SeriesMirror, series_id)
        if mirror is not None:
            _record(session, mirror, outcome, now, every)
    return outcome


def refresh(
    factory: sessionmaker[Session], slug: str, settings: Settings, now: datetime
) -> Outcome:
    """Fetch a series' mirror and apply what changed; record and return the outcome."""
    every = timedelta(minutes=settings.mirror_every_minutes)
    with factory() as session:
        series = store.get_series(session, slug)
        mirror = get_mirror(session, series)
        if mirror is None:
            raise MirrorError(f"series {slug!r} mirrors no calendar")
        series_id, url = series.id, mirror.url
        etag, last_modified = mirror.etag, mirror.last_modified
    try:
        fetched = fetch(url, Limits.of(settings), etag=etag, last_modified=last_modified)
    except FetchError as exc:
        message = f"{exc}; the talks are those of the last good fetch"
        return _failed(factory, series_id, message, now, every)
    if fetched.status == 304:
        outcome = Outcome("not modified", "not modified since the last fetch")
        with factory() as session, session.begin():
            found = session.get(SeriesMirror, series_id)
            if found is not None:
                _record(session, found, outcome, now, every)
        return outcome
    try:
        parsed = in_window(importer.parse_bytes(url, fetched.body, "ics", slug, now), now)

        def write(session: Session) -> Outcome:
            session.info[history.ACTOR_KEY] = history.Actor(f"mirror of {url}"[:320], "mirror")
            report = importer.apply(session, parsed, now, progress=False)
            current = store.get_series(session, slug)
            cancelled = _cancel_missing(session, current, set(report.event_ids), now)
            counts = report.events
            message = (
                f"{counts['created']} new, {counts['updated']} changed, "
                f"{counts['unchanged']} unchanged, {len(cancelled)} cancelled"
            )
            outcome = Outcome("ok", message)
            found = session.get(SeriesMirror, series_id)
            if found is not None:
                found.etag = fetched.etag[:500] if fetched.etag else None
                found.last_modified = fetched.last_modified[:100] if fetched.last_modified else None
                _record(session, found, outcome, now, every)
            return outcome

        return store.write_retrying(factory, write, "the mirror refresh")
    except EventFeedError as exc:
        return _failed(factory, series_id, f"{exc}; nothing was changed", now, every)


def refresh_due(factory: sessionmaker[Session], now: datetime, settings: Settings) -> int:
    """Refresh the mirrors whose time has come (claimed one by one, so workers share them)."""
    every = timedelta(minutes=settings.mirror_every_minutes)
    with factory() as session:
        due = session.execute(
            select(SeriesMirror.series_id, Series.slug)
            .join(Series, Series.id == SeriesMirror.series_id)
            .where(SeriesMirror.next_fetch_at <= now)
            .order_by(SeriesMirror.next_fetch_at)
            .limit(DUE_BATCH)
        ).all()
    done = 0
    for series_id, slug in due:
        with factory() as session, session.begin():
            claimed = session.execute(
                update(SeriesMirror)
                .where(SeriesMirror.series_id == series_id, SeriesMirror.next_fetch_at <= now)
                .values(next_fetch_at=now + every)
            )
        if not getattr(claimed, "rowcount", 0):
            continue  # another worker took it
        refresh(factory, slug, settings, now)
        done += 1
    return done
