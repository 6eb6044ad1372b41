"""The editor API under /api/v1: series and talks as JSON, bearer-token writes, OpenAPI 3.1.

Every write goes through the same validation path as imports (`events.schemas`) and the
same store (`events.store`), so SEQUENCE rules hold whatever door a change comes in by.
Every error answer is JSON: `{"errors": [{"field": ..., "message": ...}]}`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, g, request
from pydantic import BaseModel
from sqlalchemy import Select, and_, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from events import importer, store, tokens
from events.access import visible_meeting
from events.errors import EventFeedError, ImportFailed, InvalidRecord
from events.exporter import event_document, series_document
from events.models import Event, Meeting, Series
from events.schemas import (
    EVENT_ID_PATTERN,
    SERIES_FIELDS,
    SLUG_PATTERN,
    EventIn,
    SeriesIn,
    validate_event,
    validate_series,
)
from feeds.links import Links
from web.api_models import (
    Counts,
    EventList,
    EventOut,
    EventPatch,
    ImportResult,
    LocationOut,
    MeetingOut,
    Operation,
    SeriesList,
    SeriesOut,
    SeriesPatch,
    SpeakerOut,
    openapi_document,
)
from web.context import db, now, settings, state
from web.security import check_rate, client_address

PREFIX = "/api/v1"
bp = Blueprint("api", __name__, url_prefix=PREFIX)
OPERATIONS: list[Operation] = []
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_OFFSET = 1_000_000
FAILED_AUTH_PER_MINUTE = 30
JSON_TYPES = ("application/json", "application/merge-patch+json")
IMPORT_TYPES = {
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
    "text/x-yaml": "yaml",
    "application/json": "json",
    "text/csv": "csv",
    "text/calendar": "ics",
}
F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("eventfeed.api")


class ApiError(Exception):
    """An error answer: a status, per-field errors and optional headers."""

    def __init__(
        self,
        status: int,
        field: str,
        message: str,
        *,
        errors: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or [(field, message)]
        self.headers = headers or {}


def _error_response(
    status: int, errors: list[tuple[str, str]], headers: dict[str, str] | None = None
) -> Response:
    body = {"errors": [{"field": f, "message": m} for f, m in errors]}
    response = Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _unauthorised(message: str) -> ApiError:
    return ApiError(
        401, "Authorization", message, headers={"WWW-Authenticate": 'Bearer realm="eventfeed"'}
    )


def operation(
    method: str, rule: str, *, summary: str, ok: tuple[int, type[BaseModel] | None], **extra: Any
) -> Callable[[F], F]:
    """Register a view under `rule` and describe it in the OpenAPI document."""

    def decorate(view: F) -> F:
        OPERATIONS.append(
            Operation(method, rule, view.__name__, summary, extra.pop("auth", "none"), ok, **extra)
        )
        bp.add_url_rule(rule, view_func=view, methods=[method])
        return view

    return decorate


def register(app: Flask) -> None:
    """Register the blueprint and the app-wide JSON error answers under /api/."""
    from web.security import exempt_blueprint

    app.register_blueprint(bp)
    exempt_blueprint(app, bp)
    app.register_error_handler(HTTPException, json_http_error)


@bp.after_request
def _audit(response: Response) -> Response:
    """Log each write (method, path, status, token prefix): never bodies, never secrets."""
    if request.method != "GET":
        editor = g.get("api_editor")
        logger.info(
            "api %s %s -> %s by %s",
            request.method,
            request.path,
            response.status_code,
            editor.prefix + "..." if editor else "anonymous",
        )
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return _error_response(exc.status, exc.errors, exc.headers)


def json_http_error(exc: HTTPException) -> Response | HTTPException:
    """Answer HTTP errors under /api/ as JSON; leave other paths to Flask's default."""
    if not request.path.startswith("/api/"):
        return exc
    headers = {
        k: v
        for k, v in exc.get_headers()
        if k.lower() in ("allow", "retry-after", "www-authenticate")
    }
    field = {413: "body", 405: "method", 404: "path"}.get(exc.code or 500, "request")
    message = exc.description or exc.name
    if exc.code == 413:
        limit = settings().max_body_bytes
        message = f"request body is above the {limit:,}-byte limit"
    return _error_response(exc.code or 500, [(field, str(message))], headers)


# --- authentication --------------------------------------------------------------------


def current_editor(*, required: bool) -> tokens.Editor | None:
    """Return the editor of the request's bearer token; 401 when bad (or missing and required)."""
    if "api_editor" in g:
        known: tokens.Editor | None = g.api_editor
        if known is None and required:
            raise _unauthorised("this needs an API token: send 'Authorization: Bearer <token>'")
        return known
    header = request.headers.get("Authorization")
    if header is None:
        g.api_editor = None
        if required:
            raise _unauthorised("this needs an API token: send 'Authorization: Bearer <token>'")
        return None
    scheme, _, secret = header.partition(" ")
    editor = None
    if scheme.lower() == "bearer" and secret.strip():
        with state().sessions() as session, session.begin():
            editor = tokens.authenticate(session, secret.strip(), now())
    if editor is None:
        check_rate("api-auth-failure", client_address(), FAILED_AUTH_PER_MINUTE, 60)
        raise _unauthorised("invalid or revoked API token")
    g.api_editor = editor
    return editor


def _writer(slug: str) -> tokens.Editor:
    """Return the editor allowed to change series `slug` (401/403 otherwise), rate-limited."""
    editor = current_editor(required=True)
    assert editor is not None
    if not editor.may_edit(slug):
        raise ApiError(403, "series", f"this token may not change series {slug!r}")
    check_rate("api-write", f"token-{editor.token_id}", settings().api_writes_per_minute, 60)
    return editor


# --- reading requests ------------------------------------------------------------------


def _check_text(value: Any, where: str) -> None:
    """Refuse NUL characters and lone surrogates anywhere in a JSON value (422)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ApiError(422, where, "must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(422, where, "must be valid Unicode text") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)
            _check_text(item, f"{where}.{key}" if where != "body" else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_text(item, f"{where}.{i}")


def json_body() -> dict[str, Any]:
    """Return the request's JSON object; 415 for another type, 400 malformed, 422 not an object."""
    if request.mimetype not in JSON_TYPES:
        raise ApiError(415, "Content-Type", "send JSON with 'Content-Type: application/json'")
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ApiError(400, "body", f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "body", "must be a JSON object")
    _check_text(data, "body")
    return data


def _invalid(exc: InvalidRecord) -> ApiError:
    return ApiError(422, "body", str(exc), errors=list(exc.errors) or [("body", str(exc))])


def _query_text(name: str) -> str | None:
    value = request.args.get(name)
    if value is None:
        return None
    _check_text(value, name)
    return value


def _query_int(name: str, default: int | None, low: int, high: int) -> int | None:
    value = _query_text(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ApiError(422, name, "must be a whole number") from None
    if not low <= number <= high:
        raise ApiError(422, name, f"must be between {low} and {high}")
    return number


def _query_instant(name: str) -> datetime | None:
    """Read an ISO date (midnight UTC) or an ISO instant with an offset."""
    value = _query_text(name)
    if value is None:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), UTC)
        instant = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ApiError(
            422, name, "must be an ISO date (2026-01-15) or instant (2026-01-15T12:00:00Z)"
        ) from None
    if instant.tzinfo is None:
        raise ApiError(422, name, "an instant needs an offset or Z (e.g. 2026-01-15T12:00:00Z)")
    try:
        return instant.astimezone(UTC)
    except OverflowError:
        raise ApiError(422, name, "is out of range") from None


def _check_id(value: str, pattern: str, kind: str) -> None:
    if not re.fullmatch(pattern, value):
        raise ApiError(404, "path", f"no {kind} with id {value!r}")


def _load_series(session: Session, slug: str) -> Series:
    _check_id(slug, SLUG_PATTERN, "series")
    try:
        return store.get_series(session, slug)
    except EventFeedError as exc:
        raise ApiError(404, "slug", str(exc)) from None


def _load_event(session: Session, event_id: str) -> Event:
    _check_id(event_id, EVENT_ID_PATTERN, "event")
    try:
        return store.get_event(session, event_id)
    except EventFeedError as exc:
        raise ApiError(404, "event_id", str(exc)) from None


# --- representations -------------------------------------------------------------------


def _meeting_out(meeting: Meeting | None, editor: bool) -> MeetingOut | None:
    if not meeting:
        return None
    if editor:
        return MeetingOut(**meeting)
    view = visible_meeting(meeting, "public")
    if view is None:
        return None
    return MeetingOut(
        platform=view.platform,
        url=view.url,
        id=view.id,
        passcode=view.passcode,
        alternate_id=view.alternate_id,
        access=meeting.get("access", "subscribers"),
        withheld=view.withheld,
    )


def _may_see(editor: tokens.Editor | None, slug: str) -> bool:
    return editor is not None and editor.may_edit(slug)


def series_out(series: Series, editor: tokens.Editor | None) -> SeriesOut:
    """Return the API representation of a series (meeting details for its editors only)."""
    shown = [name for name in SERIES_FIELDS if name not in ("location", "meeting", "auto_announce")]
    return SeriesOut(
        **{name: getattr(series, name) for name in shown},
        location=LocationOut(**series.location) if series.location else None,
        meeting=_meeting_out(series.meeting, _may_see(editor, series.slug)),
        page=Links(settings().base_url).series_page(series.slug),
        created=series.created_at,
        updated=series.updated_at,
    )


def event_out(event: Event, editor: tokens.Editor | None) -> EventOut:
    """Return the API representation of a talk (meeting details for its editors only)."""
    slug = event.series.slug
    return EventOut(
        id=event.id,
        series=slug,
        title=event.title,
        speakers=[SpeakerOut(**s) for s in event.speakers],
        abstract=event.abstract,
        timezone=event.timezone,
        start_local=event.start_local,
        end_local=event.end_local,
        start_utc=event.start_utc,
        end_utc=event.end_utc,
        location=LocationOut(**event.location),
        meeting=_meeting_out(event.meeting, _may_see(editor, slug)),
        livestream=event.livestream,
        recording=event.recording,
        slides=event.slides,
        homepage=event.homepage,
        status=event.status,  # type: ignore[arg-type]
        tags=list(event.tags),
        sequence=event.sequence,
        page=Links(settings().base_url).event_page(event.id),
        created=event.created_at,
        updated=event.updated_at,
    )


def _digest(values: dict[str, Any]) -> str:
    text = json.dumps(values, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def event_etag(event: Event) -> str:
    """Return the ETag of a talk: it changes with every stored change."""
    columns = {c.key: getattr(event, c.key) for c in Event.__table__.columns}
    return f'"e{event.sequence}-{_digest(columns)}"'


def series_etag(series: Series) -> str:
    """Return the ETag of a series (its own fields; the triggers' feed stamp is not one)."""
    columns = {
        c.key: getattr(series, c.key)
        for c in Series.__table__.columns
        if c.key not in ("feed_revision", "talks_changed_at")
    }
    return f'"s-{_digest(columns)}"'


def _answer(model: BaseModel, status: int = 200, etag: str | None = None) -> Response:
    response = Response(model.model_dump_json(), status, mimetype="application/json")
    if etag:
        response.headers["ETag"] = etag
    return response


def _check_if_match(etag: str, *, required: bool) -> None:
    if "If-Match" not in request.headers:
        if required:
            raise ApiError(
                428, "If-Match", "send 'If-Match' with the ETag from GET, so edits never collide"
            )
        return
    if request.if_match.star_tag or request.if_match.contains(etag.strip('"')):
        return
    raise ApiError(
        412,
        "If-Match",
        f"the record changed since you read it (current ETag {etag}); GET it again and retry",
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply a JSON merge patch (RFC 7396): objects merge, null removes, the rest replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- OpenAPI ---------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Response:
    """Serve the OpenAPI 3.1 document of this API."""
    document = openapi_document(OPERATIONS, settings().base_url.rstrip("/") + PREFIX)
    document["paths"]["/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {}}}}
            },
        }
    }
    return Response(json.dumps(document), mimetype="application/json")


# --- series ----------------------------------------------------------------------------

PAGING = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    },
    {
        "name": "offset",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
    },
]


def _listable(editor: tokens.Editor | None) -> Any:
    """Return the condition of the series a caller sees in lists (unlisted: their editors only)."""
    if editor is not None and editor.admin:
        return literal(True)
    condition = Series.visibility == "public"
    if editor is not None and editor.series:
        condition = or_(condition, Series.slug.in_(sorted(editor.series)))
    return condition


@operation(
    "GET",
    "/series",
    summary="List series (public ones; unlisted ones only for their editors)",
    ok=(200, SeriesList),
    auth="optional",
    query=PAGING,
)
def list_series() -> Response:
    """List series, by slug."""
    editor = current_editor(required=False)
    limit = _query_int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT) or DEFAULT_LIMIT
    offset = _query_int("offset", 0, 0, MAX_OFFSET) or 0
    session = db()
    condition = _listable(editor)
    total = session.scalar(select(func.count()).select_from(Series).where(condition)) or 0
    rows = session.scalars(
        select(Series).where(condition).order_by(Series.slug).limit(limit).offset(offset)
    )
    items = [series_out(s, editor) for s in rows]
    return _answer(SeriesList(items=items, total=total, limit=limit, offset=offset))


@operation(
    "POST",
    "/series",
    summary="Create a series (admin token, or an editor token for that slug)",
    ok=(201, SeriesOut),
    auth="required",
    errors=(400, 403, 409, 415),
    body=SeriesIn,
)
def create_series() -> Response:
    """Create a series."""
    editor = current_editor(required=True)
    assert editor is not None
    data = json_body()
    slug = data.get("slug")
    if isinstance(slug, str) and not editor.may_edit(slug):
        raise ApiError(403, "slug", f"this token may not create series {slug!r}")
    try:
        record = validate_series(data)
    except InvalidRecord as exc:
        raise _invalid(exc) from None
    _writer(record.slug)
    session = db()
    if session.scalar(select(Series.id).where(Series.slug == record.slug)) is not None:
        raise ApiError(409, "slug", f"series {record.slug!r} already exists; PATCH it instead")
    series, _ = store.upsert_series(session, record, now())
    session.commit()
    response = _answer(series_out(series, editor), 201, series_etag(series))
    response.headers["Location"] = f"{PREFIX}/series/{series.slug}"
    return response


@operation(
    "GET",
    "/series/<slug>",
    summary="Read a series",
    ok=(200, SeriesOut),
    auth="optional",
    errors=(404,),
)
def get_series(slug: str) -> Response:
    """Read one series (unlisted ones too: they are reachable by URL)."""
    editor = current_editor(required=False)
    series = _load_series(db(), slug)
    return _answer(series_out(series, editor), etag=series_etag(series))


@operation(
    "PATCH",
    "/series/<slug>",
    summary="Change a series (JSON merge patch; If-Match required)",
    ok=(200, SeriesOut),
    auth="required",
    errors=(400, 403, 404, 412, 415, 428),
    body=SeriesPatch,
    body_types=JSON_TYPES,
    if_match="required",
    description=(
        "The patch is merged (RFC 7396) over the series as exported, validated like an "
        "import, and its defaults (location, meeting) are applied again to its talks, whose "
        "zones stay as they are. The slug cannot change."
    ),
)
def patch_series(slug: str) -> Response:
    """Merge a patch over a series and re-apply its defaults to its talks."""
    editor = _writer(slug)
    session = db()
    series = _load_series(session, slug)
    _check_if_match(series_etag(series), required=True)
    patch = json_body()
    if "slug" in patch and patch["slug"] != series.slug:
        raise ApiError(422, "slug", "a series slug cannot change")
    document = series_document(series)
    events = document.pop("events")
    try:
        record = validate_series(merge_patch(document, patch))
    except InvalidRecord as exc:
        raise _invalid(exc) from None
    old_docs = [
        (e, {**d, "timezone": e.timezone}) for e, d in zip(series.events, events, strict=True)
    ]
    moment = now()
    store.upsert_series(session, record, moment)
    for event, doc in old_docs:
        try:
            store.upsert_event(session, series, validate_event(doc, record), moment)
        except InvalidRecord as exc:
            session.rollback()
            raise ApiError(
                422,
                "body",
                str(exc),
                errors=[(f, f"talk {event.id!r}: {m}") for f, m in exc.errors],
            ) from None
    session.commit()
    return _answer(series_out(series, editor), etag=series_etag(series))


@operation(
    "DELETE",
    "/series/<slug>",
    summary="Delete a series and all its talks",
    ok=(204, None),
    auth="required",
    errors=(403, 404, 412),
    if_match="optional",
)
def delete_series(slug: str) -> Response:
    """Delete a series with its talks."""
    _writer(slug)
    session = db()
    series = _load_series(session, slug)
    _check_if_match(series_etag(series), required=False)
    session.delete(series)
    session.commit()
    return Response(status=204)


# --- events ----------------------------------------------------------------------------


def _encode_cursor(event: Event) -> str:
    raw = json.dumps([event.start_utc.isoformat(), event.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(text: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        start, event_id = json.loads(raw)
        instant = datetime.fromisoformat(start)
        if not isinstance(event_id, str) or instant.tzinfo is None:
            raise ValueError(text)
        _check_text(event_id, "cursor")
        return instant.astimezone(UTC), event_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise ApiError(422, "cursor", "not a cursor given by this API") from None


def _has_tag(session: Session, tag: str) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return Event.tags.cast(JSONB).contains([tag])
    each = func.json_each(Event.tags).table_valued("value")
    return exists(select(literal(1)).select_from(each).where(each.c.value == tag))


def _event_filter(session: Session, editor: tokens.Editor | None) -> Select[Any]:
    query = select(Event).join(Series, Event.series_id == Series.id)
    slug = _query_text("series")
    query = query.where(Series.slug == slug if slug is not None else _listable(editor))
    tag = _query_text("tag")
    if tag is not None:
        query = query.where(_has_tag(session, tag))
    start = _query_instant("from")
    end = _query_instant("to")
    if start is not None:
        query = query.where(Event.end_utc > start)
    if end is not None:
        query = query.where(Event.start_utc < end)
    return query


@operation(
    "GET",
    "/events",
    summary="List talks by start time",
    ok=(200, EventList),
    auth="optional",
    query=[
        {"name": "series", "in": "query", "schema": {"type": "string"}},
        {"name": "tag", "in": "query", "schema": {"type": "string"}},
        {
            "name": "from",
            "in": "query",
            "description": "talks ending after this ISO date (UTC midnight) or instant",
            "schema": {"type": "string"},
        },
        {
            "name": "to",
            "in": "query",
            "description": "talks starting before this ISO date (UTC midnight) or instant",
            "schema": {"type": "string"},
        },
        *PAGING,
        {
            "name": "cursor",
            "in": "query",
            "description": "`next_cursor` of the previous page (instead of offset)",
            "schema": {"type": "string"},
        },
    ],
    description=(
        "Without `series`, lists talks of public series (and of the caller's own series). "
        "Pages: `limit` with `offset`, or `limit` with `cursor` (stable while talks are added)."
    ),
)
def list_events() -> Response:
    """List talks, filtered by series, tag and date range, a page at a time."""
    editor = current_editor(required=False)
    session = db()
    limit = _query_int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT) or DEFAULT_LIMIT
    offset = _query_int("offset", None, 0, MAX_OFFSET)
    cursor = _query_text("cursor")
    if cursor is not None and offset is not None:
        raise ApiError(422, "cursor", "give either cursor or offset, not both")
    query = _event_filter(session, editor)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if cursor is not None:
        after, after_id = _decode_cursor(cursor)
        query = query.where(
            or_(Event.start_utc > after, and_(Event.start_utc == after, Event.id > after_id))
        )
    query = query.order_by(Event.start_utc, Event.id).limit(limit + 1)
    if offset:
        query = query.offset(offset)
    rows: list[Event] = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    items = [event_out(e, editor) for e in rows]
    next_cursor = _encode_cursor(rows[-1]) if more and rows else None
    page = EventList(
        items=items,
        total=total,
        limit=limit,
        offset=None if cursor is not None else (offset or 0),
        next_cursor=next_cursor,
    )
    return _answer(page)


@operation(
    "POST",
    "/series/<slug>/events",
    summary="Create a talk in a series",
    ok=(201, EventOut),
    auth="required",
    errors=(400, 403, 404, 409, 415),
    body=EventIn,
)
def create_event(slug: str) -> Response:
    """Create a talk; its id must be new (ids are global and stable forever)."""
    editor = _writer(slug)
    session = db()
    series = _load_series(session, slug)
    data = json_body()
    try:
        record = validate_event(data, store.series_record(series))
    except InvalidRecord as exc:
        raise _invalid(exc) from None
    if session.get(Event, record.id) is not None:
        raise ApiError(409, "id", f"event {record.id!r} already exists; PATCH it instead")
    event, _ = store.upsert_event(session, series, record, now())
    session.commit()
    response = _answer(event_out(event, editor), 201, event_etag(event))
    response.headers["Location"] = f"{PREFIX}/events/{event.id}"
    return response


@operation(
    "GET",
    "/events/<event_id>",
    summary="Read a talk (meeting details only for the series' editors)",
    ok=(200, EventOut),
    auth="optional",
    errors=(404,),
)
def get_event(event_id: str) -> Response:
    """Read one talk with its ETag."""
    editor = current_editor(required=False)
    event = _load_event(db(), event_id)
    return _answer(event_out(event, editor), etag=event_etag(event))


def _update_event(event: Event, patch: dict[str, Any], editor: tokens.Editor) -> Response:
    """Merge `patch` over the talk as exported, validate like an import, store with SEQUENCE."""
    session = db()
    series = event.series
    if "id" in patch and patch["id"] != event.id:
        raise ApiError(422, "id", "an event id cannot change; create a new talk instead")
    if "series" in patch:
        raise ApiError(422, "series", "a talk cannot move to another series")
    document = event_document(event, series)
    document["timezone"] = event.timezone  # kept even if the series' zone changed since
    merged = merge_patch(document, patch)
    merged["id"] = event.id
    try:
        record = validate_event(merged, store.series_record(series))
    except InvalidRecord as exc:
        raise _invalid(exc) from None
    store.upsert_event(session, series, record, now())
    session.commit()
    return _answer(event_out(event, editor), etag=event_etag(event))


@operation(
    "PATCH",
    "/events/<event_id>",
    summary="Change a talk (JSON merge patch; If-Match required)",
    ok=(200, EventOut),
    auth="required",
    errors=(400, 403, 404, 412, 415, 428),
    body=EventPatch,
    body_types=JSON_TYPES,
    if_match="required",
    description=(
        "The patch is merged (RFC 7396; null removes a field) over the talk as exported "
        "(`eventfeed export`), then validated and stored like an import: SEQUENCE rises when "
        "the time, zone, place, status or meeting changes. Send `If-Match` with the ETag of "
        "your last GET: 412 when someone changed the talk since, 428 without it."
    ),
)
def patch_event(event_id: str) -> Response:
    """Change a talk."""
    current_editor(required=True)
    session = db()
    event = _load_event(session, event_id)
    editor = _writer(event.series.slug)
    _check_if_match(event_etag(event), required=True)
    return _update_event(event, json_body(), editor)


@operation(
    "POST",
    "/events/<event_id>/cancel",
    summary="Cancel a talk (kept in feeds as cancelled, SEQUENCE raised)",
    ok=(200, EventOut),
    auth="required",
    errors=(403, 404, 412),
    if_match="optional",
)
def cancel_event(event_id: str) -> Response:
    """Set a talk's status to cancelled; calendars strike it through or remove it."""
    current_editor(required=True)
    session = db()
    event = _load_event(session, event_id)
    editor = _writer(event.series.slug)
    _check_if_match(event_etag(event), required=False)
    return _update_event(event, {"status": "cancelled"}, editor)


@operation(
    "DELETE",
    "/events/<event_id>",
    summary="Delete a talk (prefer cancel: calendars keep deleted talks)",
    ok=(204, None),
    auth="required",
    errors=(403, 404, 412),
    if_match="optional",
)
def delete_event(event_id: str) -> Response:
    """Delete a talk for good."""
    current_editor(required=True)
    session = db()
    event = _load_event(session, event_id)
    _writer(event.series.slug)
    _check_if_match(event_etag(event), required=False)
    session.delete(event)
    session.commit()
    return Response(status=204)


# --- import ----------------------------------------------------------------------------


@operation(
    "POST",
    "/import",
    summary="Import a YAML, JSON, CSV or .ics file, all or nothing",
    ok=(200, ImportResult),
    auth="required",
    errors=(400, 403, 415),
    raw_body=True,
    body_types=tuple(IMPORT_TYPES),
    query=[
        {
            "name": "format",
            "in": "query",
            "description": "yaml, json, csv or ics (default: from Content-Type)",
            "schema": {"type": "string", "enum": list(importer.FORMATS)},
        },
        {
            "name": "series",
            "in": "query",
            "description": "series of talks that name none (CSV, .ics)",
            "schema": {"type": "string", "pattern": SLUG_PATTERN},
        },
    ],
    description=(
        "The same formats and rules as `eventfeed import`. Every series the file touches "
        "must be one the token may change (403 otherwise); the first bad record refuses the "
        "whole file (422) and nothing is written."
    ),
)
def import_file() -> Response:
    """Import one file in one transaction."""
    editor = current_editor(required=True)
    assert editor is not None
    check_rate("api-import", f"token-{editor.token_id}", settings().api_imports_per_hour, 3600)
    fmt = _query_text("format") or IMPORT_TYPES.get(request.mimetype)
    if fmt not in importer.FORMATS:
        raise ApiError(
            415,
            "Content-Type",
            "send text/yaml, application/json, text/csv or text/calendar (or ?format=)",
        )
    default_series = _query_text("series")
    raw = request.get_data(cache=True)
    try:
        parsed = importer.parse_bytes("request body", raw, fmt, default_series)
    except ImportFailed as exc:
        raise ApiError(400, "body", str(exc)) from None
    slugs = {d.get("slug") for _, d in parsed.series} | {e.series for e in parsed.events}
    for slug in sorted(s for s in slugs if isinstance(s, str)):
        _check_text(slug, "series")
        if not editor.may_edit(slug):
            raise ApiError(403, "series", f"this token may not change series {slug!r}")
    _check_text([d for _, d in parsed.series] + [e.data for e in parsed.events], "body")
    check_rate("api-write", f"token-{editor.token_id}", settings().api_writes_per_minute, 60)
    try:
        with state().sessions() as session, session.begin():
            report = importer.apply(session, parsed, now(), progress=False)
    except InvalidRecord as exc:
        errors = [(f, f"{exc.where}: {m}") for f, m in exc.errors] or [("body", str(exc))]
        raise ApiError(422, "body", str(exc), errors=errors) from None
    return _answer(
        ImportResult(
            series=Counts(**report.series),
            events=Counts(**report.events),
            event_ids=report.event_ids,
        )
    )
