"""What every API route shares: the blueprint, operations, errors, auth, input and answers."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, request
from pydantic import BaseModel
from sqlalchemy import literal, or_
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from events import history, importer, store, times, tokens
from events.access import visible_meeting
from events.errors import EventFeedError, InvalidRecord, TimeError
from events.models import Event, Meeting, Series
from events.schemas import (
    EVENT_ID_PATTERN,
    SERIES_FIELDS,
    SLUG_PATTERN,
)
from events.versions import digest as digest
from events.versions import event_etag as event_etag
from events.versions import series_etag as series_etag
from feeds.links import Links
from web.api.schema import (
    EventOut,
    LocationOut,
    MeetingOut,
    Operation,
    SeriesOut,
    SeriesTranslationOut,
    SpeakerOut,
    TalkTranslationOut,
)
from web.context import db, now, settings, state
from web.errors import json_errors
from web.security import check_rate, client_address, csrf

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


def unauthorised(message: str) -> ApiError:
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


@bp.before_request
def _csrf_unless_a_token_authenticates() -> None:
    """Check CSRF on writes unless a bearer token authenticates the request.

    A bad token answers 401, a read-only token 403 on every write. Without a token, a write
    that carries the session cookie must carry its CSRF token (`X-CSRFToken`); one without
    any cookie has no ambient credentials to forge, so scripts may call the public write
    (subscriptions) as is.
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if "Authorization" in request.headers:
        editor = current_editor(required=False)
        if editor is not None and editor.read_only:
            raise ApiError(403, "Authorization", "this token is read-only: it may not write")
        if editor is not None:
            return
    if request.cookies.get(current_app.config["SESSION_COOKIE_NAME"]):
        csrf.protect()


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
    return json_errors(exc.status, exc.errors, exc.headers)


@bp.errorhandler(DBAPIError)
@bp.errorhandler(StaleDataError)
def _collided(exc: DBAPIError | StaleDataError) -> Response:
    """Answer 409 when a write lost to a concurrent one (a unique id taken meanwhile, a
    deadlock, a row changed since it was read); any other database failure stays an error
    of the server."""
    reason = str(exc) if isinstance(exc, StaleDataError) else store.collision(exc)
    if reason is None:
        raise exc
    db().rollback()
    message = f"the change collided with a concurrent change and was not written ({reason}); "
    return json_errors(409, [("body", message + "try again")])


# --- authentication --------------------------------------------------------------------


def current_editor(*, required: bool) -> tokens.Editor | None:
    """Return the editor of the request's bearer token; 401 when bad (or missing and required)."""
    if "api_editor" in g:
        known: tokens.Editor | None = g.api_editor
        if known is None and required:
            raise unauthorised("this needs an API token: send 'Authorization: Bearer <token>'")
        return known
    header = request.headers.get("Authorization")
    if header is None:
        g.api_editor = None
        if required:
            raise unauthorised("this needs an API token: send 'Authorization: Bearer <token>'")
        return None
    scheme, _, secret = header.partition(" ")
    editor = None
    if scheme.lower() == "bearer" and secret.strip():
        with state().sessions() as session, session.begin():
            editor = tokens.authenticate(session, secret.strip(), now())
    if editor is None:
        check_rate("api-auth-failure", client_address(), FAILED_AUTH_PER_MINUTE, 60)
        raise unauthorised("invalid or revoked API token")
    g.api_editor = editor
    history.set_actor(history.Actor(f"API token {editor.prefix}…", "api"))
    return editor


def writer(slug: str) -> tokens.Editor:
    """Return the editor allowed to change series `slug` (401/403 otherwise), rate-limited."""
    editor = current_editor(required=True)
    assert editor is not None
    if editor.read_only:
        raise ApiError(403, "Authorization", "this token is read-only: it may not write")
    if not editor.may_edit(slug):
        raise ApiError(403, "series", f"this token may not change series {slug!r}")
    check_rate("api-write", f"token-{editor.token_id}", settings().api_writes_per_minute, 60)
    return editor


# --- reading requests ------------------------------------------------------------------


def check_text(value: Any, where: str) -> None:
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
            check_text(key, where)
            check_text(item, f"{where}.{key}" if where != "body" else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_text(item, f"{where}.{i}")


def json_body() -> dict[str, Any]:
    """Return the request's JSON object; 415 for another type, 400 malformed, 422 not an object."""
    if request.mimetype not in JSON_TYPES:
        raise ApiError(415, "Content-Type", "send JSON with 'Content-Type: application/json'")
    raw = request.get_data(cache=True)
    try:
        data = importer.load_json(raw.decode("utf-8"))
    except importer.UnreadableNumber as exc:
        raise ApiError(422, "body", str(exc)) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ApiError(400, "body", f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "body", "must be a JSON object")
    check_text(data, "body")
    return data


def invalid(exc: InvalidRecord) -> ApiError:
    return ApiError(422, "body", str(exc), errors=list(exc.errors) or [("body", str(exc))])


def query_text(name: str) -> str | None:
    value = request.args.get(name)
    if value is None:
        return None
    check_text(value, name)
    return value


def query_int(name: str, default: int | None, low: int, high: int) -> int | None:
    value = query_text(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ApiError(422, name, "must be a whole number") from None
    if not low <= number <= high:
        raise ApiError(422, name, f"must be between {low} and {high}")
    return number


def query_instant(name: str) -> datetime | None:
    """Read an ISO date (midnight UTC) or an ISO instant with an offset."""
    value = query_text(name)
    if value is None:
        return None
    text = value.strip()
    if len(text) == 10:
        try:
            return times.utc_midnight(date.fromisoformat(text))
        except ValueError:
            raise ApiError(422, name, "must be an ISO date (2026-01-15)") from None
    try:
        return times.parse_rfc3339(text)
    except TimeError as exc:
        hint = "an ISO date (2026-01-15) or instant with an offset (2026-01-15T12:00:00Z)"
        raise ApiError(422, name, f"{exc}; give {hint}") from None


def check_id(value: str, pattern: str, kind: str) -> None:
    if not re.fullmatch(pattern, value):
        raise ApiError(404, "path", f"no {kind} with id {value!r}")


def load_series(session: Session, slug: str) -> Series:
    check_id(slug, SLUG_PATTERN, "series")
    try:
        return store.get_series(session, slug)
    except EventFeedError as exc:
        raise ApiError(404, "slug", str(exc)) from None


def load_event(session: Session, event_id: str) -> Event:
    check_id(event_id, EVENT_ID_PATTERN, "event")
    try:
        return store.get_event(session, event_id)
    except EventFeedError as exc:
        raise ApiError(404, "event_id", str(exc)) from None


# --- representations -------------------------------------------------------------------


def meeting_out(meeting: Meeting | None, editor: bool) -> MeetingOut | None:
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
        reveal_minutes=view.reveal_minutes,
        withheld=view.withheld,
    )


def may_see(editor: tokens.Editor | None, slug: str) -> bool:
    return editor is not None and editor.may_read(slug)


def series_out(series: Series, editor: tokens.Editor | None) -> SeriesOut:
    """Return the API representation of a series (meeting details for its editors only)."""
    hidden = ("location", "meeting", "auto_announce", "translations")
    shown = [name for name in SERIES_FIELDS if name not in hidden]
    return SeriesOut(
        **{name: getattr(series, name) for name in shown},
        translations={tag: SeriesTranslationOut(**t) for tag, t in series.translations.items()},
        location=LocationOut(**series.location) if series.location else None,
        meeting=meeting_out(series.meeting, may_see(editor, series.slug)),
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
        meeting=meeting_out(event.meeting, may_see(editor, slug)),
        livestream=event.livestream,
        recording=event.recording,
        slides=event.slides,
        homepage=event.homepage,
        status=event.status,  # type: ignore[arg-type]  # validated: one of models.STATUSES
        tags=list(event.tags),
        topics=list(event.topics),
        sequence=event.sequence,
        translations={tag: TalkTranslationOut(**t) for tag, t in event.translations.items()},
        page=Links(settings().base_url).event_page(event.id),
        created=event.created_at,
        updated=event.updated_at,
    )


def answer(model: BaseModel, status: int = 200, etag: str | None = None) -> Response:
    response = Response(model.model_dump_json(), status, mimetype="application/json")
    if etag:
        response.headers["ETag"] = etag
    return response


def created(model: BaseModel, etag: str, location: str) -> Response:
    """Return a 201 answer with the new record, its ETag and its Location."""
    response = answer(model, 201, etag)
    response.headers["Location"] = f"{PREFIX}{location}"
    return response


def check_if_match(etag: str, *, required: bool) -> None:
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
        headers={"ETag": etag},
    )


def stale(session: Session, target: Event | Series) -> ApiError:
    """Return the 412 of a write that lost a race: the record changed since it was read.

    The transaction is rolled back; the answer carries the record's current ETag (none when
    it was deleted meanwhile).
    """
    session.rollback()
    kind = "talk" if isinstance(target, Event) else "series"
    current: Event | Series | None
    if isinstance(target, Event):
        current = session.get(Event, target.id, populate_existing=True)
    else:
        current = session.get(Series, target.id, populate_existing=True)
    if current is None:
        return ApiError(412, "If-Match", f"the {kind} was deleted since you read it")
    etag = event_etag(current) if isinstance(current, Event) else series_etag(current)
    return ApiError(
        412,
        "If-Match",
        f"the {kind} changed since you read it (current ETag {etag}); GET it again and retry",
        headers={"ETag": etag},
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


def listable(editor: tokens.Editor | None) -> Any:
    """Return the condition of the series a caller sees in lists (unlisted: their editors only)."""
    if editor is not None and editor.admin:
        return literal(True)
    condition = Series.visibility == "public"
    if editor is not None and editor.series:
        condition = or_(condition, Series.slug.in_(sorted(editor.series)))
    return condition
