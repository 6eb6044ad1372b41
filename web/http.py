"""Conditional GET for generated documents: ETag, Last-Modified, 304, Cache-Control, gzip.

`cached_response(body, ...)` answers the current request:

- a strong ETag from a hash of the body (or of a caller's version key), `-gzip` appended for
  the compressed variant so each representation has its own tag;
- `Last-Modified` (the newest change of what the document shows);
- 304 Not Modified when `If-None-Match` matches either variant (weak comparison, so
  `W/"<etag>"` matches too), or, without
  `If-None-Match`, when `If-Modified-Since` is not older than `Last-Modified` (RFC 9110);
- `Cache-Control: public, max-age=300, stale-while-revalidate=60` by default (settings
  `feed_max_age`, `feed_stale_seconds`), `private` for personal feeds, and
  `Vary: Accept-Encoding`;
- gzip when the client accepts it and the body is worth compressing;
- HEAD gets the same headers without a body (Flask strips it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from flask import Response, request
from werkzeug.datastructures import ETags

from events import times
from events.config import Settings
from feeds import gzipped
from feeds.cache import one_commit
from web.context import db, settings

GZIP_MIN_BYTES = 512


def strong_etag(*parts: bytes | str) -> str:
    """Return an ETag value (without quotes) from a body or a version key."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def wants_gzip() -> bool:
    """Return whether the current request accepts a gzip-encoded answer."""
    return request.accept_encodings["gzip"] > 0


def worth_gzip(body: bytes) -> bool:
    """Return whether a body is big enough to compress for a client that accepts gzip."""
    return len(body) >= GZIP_MIN_BYTES


def gzip_bytes(body: bytes) -> bytes:
    """Return `body` gzip-compressed, the same bytes every time (no timestamp); a big body
    in chunks, only those unlike an earlier body's compressed (feeds.gzipped)."""
    return gzipped.gzip_bytes(body)


def _not_modified(base_etag: str, last_modified: datetime | None) -> bool:
    return not_modified(request.if_none_match, request.if_modified_since, base_etag, last_modified)


def not_modified(
    tags: ETags, since: datetime | None, base_etag: str, last_modified: datetime | None
) -> bool:
    """Return whether a request's `If-None-Match` tags (or, without them, its
    `If-Modified-Since`) match a document's ETag (either variant) and Last-Modified."""
    if tags:
        # Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x", as caches and proxies that
        # weaken a tag (after recompressing, say) send it back. Either variant matches: the
        # content is the same whatever the encoding.
        return any(tags.contains_weak(tag) for tag in (base_etag, base_etag + "-gzip"))
    if since is not None and last_modified is not None:
        return times.utc(last_modified).replace(microsecond=0) <= times.utc(since)
    return False


def _headers(max_age: int | None, private: bool) -> dict[str, str]:
    return cache_headers(settings(), max_age, private)


def cache_headers(config: Settings, max_age: int | None, private: bool) -> dict[str, str]:
    """Cache-Control for browsers and shared caches; Vary only on what the bytes vary on.

    Public answers: `public, max-age=<EVENTFEED_FEED_MAX_AGE>,
    stale-while-revalidate=<EVENTFEED_FEED_STALE_SECONDS>` (a shared cache may answer from
    its copy for max-age, then revalidates with the ETag: a 304 costs one query). Personal
    answers: `private` (no shared cache may keep them).
    """
    age = config.feed_max_age if max_age is None else max_age
    if private:
        control = f"private, max-age={age}"
    else:
        control = f"public, max-age={age}, stale-while-revalidate={config.feed_stale_seconds}"
    return {"Cache-Control": control, "Vary": "Accept-Encoding"}


def set_validators(
    response: Response, base_etag: str, gzipped: bool, last_modified: datetime | None
) -> Response:
    """Set the ETag (its `-gzip` variant for a compressed body) and Last-Modified."""
    response.set_etag(base_etag + "-gzip" if gzipped else base_etag)
    if last_modified is not None:
        response.last_modified = times.utc(last_modified).replace(microsecond=0)
    return response


def cached_response(
    body: bytes,
    *,
    content_type: str,
    last_modified: datetime | None = None,
    version: str | None = None,
    max_age: int | None = None,
    private: bool = False,
    filename: str | None = None,
) -> Response:
    """Return `body` as a cacheable response to the current GET or HEAD request."""
    base_etag = strong_etag(version) if version is not None else strong_etag(body)
    compress = worth_gzip(body) and wants_gzip()
    if _not_modified(base_etag, last_modified):
        response = Response(status=304, headers=_headers(max_age, private))
        return set_validators(response, base_etag, compress, last_modified)
    payload = gzip_bytes(body) if compress else body
    response = _ok(payload, compress, content_type, max_age, private, filename)
    return set_validators(response, base_etag, compress, last_modified)


def encoded_response(
    payload: bytes,
    *,
    gzipped: bool,
    content_type: str,
    last_modified: datetime | None,
    version: str,
    max_age: int | None = None,
    private: bool = False,
    filename: str | None = None,
) -> Response:
    """Return a 200 answer of a body already encoded (gzip or not) for this request.

    The ETag is that of `cached_response(..., version=version)`; validators are assumed
    checked before (see `precondition`).
    """
    response = _ok(payload, gzipped, content_type, max_age, private, filename)
    return set_validators(response, strong_etag(version), gzipped, last_modified)


def _ok(
    payload: bytes,
    gzipped: bool,
    content_type: str,
    max_age: int | None,
    private: bool,
    filename: str | None,
) -> Response:
    return ok_response(payload, gzipped, content_type, _headers(max_age, private), filename)


def ok_response(
    payload: bytes,
    gzipped: bool,
    content_type: str,
    headers: dict[str, str],
    filename: str | None = None,
) -> Response:
    """Return a 200 answer of an encoded body with its cache headers (no validators yet)."""
    response = Response(payload, status=200, content_type=content_type, headers=headers)
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def precondition(
    version: str,
    last_modified: datetime | None,
    *,
    max_age: int | None = None,
    private: bool = False,
) -> Response | None:
    """Return a 304 when the request's validators match `version`, before any rendering.

    The ETag and headers are those `cached_response(..., version=version)` would send.
    """
    base_etag = strong_etag(version)
    if not _not_modified(base_etag, last_modified):
        return None
    response = Response(status=304, headers=_headers(max_age, private))
    return set_validators(response, base_etag, wants_gzip(), last_modified)


def not_found(message: str) -> Response:
    """Return a 404 with a one-line plain-text message."""
    return Response(message + "\n", status=404, mimetype="text/plain")


def stored_answer(
    *,
    version: str,
    last_modified: datetime | None,
    content_type: str,
    load: Callable[[str], bytes | None],
    save: Callable[[str, bytes], None],
    build: Callable[[], bytes],
    private: bool = False,
    filename: str | None = None,
) -> Response:
    """Answer a document kept per version: 304 from `version` alone, else the body stored
    for it (`load(encoding)`), else `build()` once and `save` it (gzip: once per version).

    `version` must cover everything the bytes depend on; it is read before `build` runs, so
    a stored body is never older than its version.
    """
    early = precondition(version, last_modified, private=private)
    if early is not None:
        return early
    gzipped = wants_gzip()
    payload = load("gzip" if gzipped else "identity")
    if payload is None:
        with one_commit(db()):  # new pieces and both bodies: one commit
            body = load("identity") if gzipped else None
            if body is None:
                body = build()
                save("identity", body)
            gzipped = gzipped and worth_gzip(body)
            payload = body
            if gzipped:
                payload = gzip_bytes(body)
                save("gzip", payload)
    return encoded_response(
        payload,
        gzipped=gzipped,
        content_type=content_type,
        last_modified=last_modified,
        version=version,
        private=private,
        filename=filename,
    )
