"""Talk routes: list, create, read, patch, cancel, delete."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from flask import Response, request
from sqlalchemy import Select, and_, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from events import queries, store, times, tokens
from events.config import Settings
from events.errors import InvalidRecord, StaleRecord
from events.exporter import event_document
from events.models import Event, Series
from events.schemas import (
    EventIn,
    validate_event,
)
from feeds import cache
from web import page_cache
from web.api.base import (
    DEFAULT_LIMIT,
    JSON_TYPES,
    MAX_LIMIT,
    MAX_OFFSET,
    PAGING,
    ApiError,
    answer,
    check_if_match,
    check_text,
    created,
    current_editor,
    event_etag,
    event_out,
    invalid,
    json_body,
    listable,
    load_event,
    load_series,
    merge_patch,
    operation,
    query_instant,
    query_int,
    query_text,
    stale,
    writer,
)
from web.api.schema import (
    EventList,
    EventOut,
    EventPatch,
)
from web.context import db, now, settings

TOTAL_CAP = 1000  # `total` of a talk list is exact up to this many, then `total_capped`

# --- events ----------------------------------------------------------------------------


def _encode_cursor(event: Event) -> str:
    raw = json.dumps([event.start_utc.isoformat(), event.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(text: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        start, event_id = json.loads(raw)
        if not isinstance(event_id, str) or not isinstance(start, str):
            raise ValueError(text)
        check_text(event_id, "cursor")
        return times.parse_rfc3339(start), event_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise ApiError(422, "cursor", "not a cursor given by this API") from None


def _has_tag(session: Session, tag: str) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return Event.tags.cast(JSONB).contains([tag])
    each = func.json_each(Event.tags).table_valued("value")
    return exists(select(literal(1)).select_from(each).where(each.c.value == tag))


def _event_filter(session: Session, editor: tokens.Editor | None) -> Select[Any]:
    query = select(Event).join(Series, Event.series_id == Series.id)
    slug = query_text("series")
    query = query.where(Series.slug == slug if slug is not None else listable(editor))
    tag = query_text("tag")
    if tag is not None:
        query = query.where(_has_tag(session, tag))
    start = query_instant("from")
    end = query_instant("to")
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
    """List talks, filtered by series, tag and date range, a page at a time.

    The first page of an anonymous list without arguments is stored per version
    (`rendered_document` `api/events`; web.fastpath answers it before Flask)."""
    editor = current_editor(required=False)
    session = db()
    if editor is None and not request.args:
        version = stored_list_version(settings(), session)
        body = cache.stored_document(session, STORED_LIST, STORED_LIST_ENCODING, version)
        if body is None:
            body = _list(session, editor).model_dump_json().encode()
            cache.store_document(session, STORED_LIST, STORED_LIST_ENCODING, version, body)
        return Response(body, 200, mimetype="application/json")
    return answer(_list(session, editor))


STORED_LIST = "api/events"
STORED_LIST_ENCODING = "json"


def stored_list_version(config: Settings, session: Session) -> str:
    """Return the version of the anonymous talk list: the public series' one-query summary
    (every talk change, series edit, series joining or leaving), the settings and code."""
    summary = queries.site_stamps(session, queries.FeedFilter()).summary
    return list_version(config, summary)


def list_version(config: Settings, summary: tuple[object, ...]) -> str:
    """Return `stored_list_version` from the summary (`queries.PUBLIC_SUMMARY`)."""
    return page_cache.page_version(config, "\0".join(["api-events", repr(summary)]))


def _list(session: Session, editor: tokens.Editor | None) -> EventList:
    limit = query_int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT) or DEFAULT_LIMIT
    offset = query_int("offset", None, 0, MAX_OFFSET)
    cursor = query_text("cursor")
    if cursor is not None and offset is not None:
        raise ApiError(422, "cursor", "give either cursor or offset, not both")
    query = _event_filter(session, editor)
    # Counted up to TOTAL_CAP + 1 rows: a list costs the same with 1,000 or 100,000 talks.
    counted = query.with_only_columns(Event.id).limit(TOTAL_CAP + 1).subquery()
    total = session.scalar(select(func.count()).select_from(counted)) or 0
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
    return EventList(
        items=items,
        total=min(total, TOTAL_CAP),
        total_capped=total > TOTAL_CAP,
        limit=limit,
        offset=None if cursor is not None else (offset or 0),
        next_cursor=next_cursor,
    )


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
    editor = writer(slug)
    session = db()
    series = load_series(session, slug)
    store.lock_series(session, [slug])
    data = json_body()
    try:
        record = validate_event(data, store.series_record(series))
    except InvalidRecord as exc:
        raise invalid(exc) from None
    if session.get(Event, record.id) is not None:
        raise ApiError(409, "id", f"event {record.id!r} already exists; PATCH it instead")
    event, _ = store.upsert_event(session, series, record, now())
    session.commit()
    return created(event_out(event, editor), event_etag(event), f"/events/{event.id}")


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
    event = load_event(db(), event_id)
    return answer(event_out(event, editor), etag=event_etag(event))


def _update_event(
    event: Event, patch: dict[str, Any], editor: tokens.Editor, seen: int
) -> Response:
    """Merge `patch` over the talk as exported, validate like an import, store with SEQUENCE.

    `seen`: the version the client's If-Match named; 412 when another writer got there first.
    """
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
        raise invalid(exc) from None
    try:
        store.update_event(session, event, record, now(), seen=seen)
    except StaleRecord:
        raise stale(session, event) from None
    session.commit()
    return answer(event_out(event, editor), etag=event_etag(event))


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
    event = load_event(session, event_id)
    editor = writer(event.series.slug)
    store.lock_series(session, [event.series.slug])
    check_if_match(event_etag(event), required=True)
    return _update_event(event, json_body(), editor, event.version)


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
    event = load_event(session, event_id)
    editor = writer(event.series.slug)
    store.lock_series(session, [event.series.slug])
    check_if_match(event_etag(event), required=False)
    return _update_event(event, {"status": "cancelled"}, editor, event.version)


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
    event = load_event(session, event_id)
    writer(event.series.slug)
    store.lock_series(session, [event.series.slug])
    check_if_match(event_etag(event), required=False)
    try:
        store.delete_event(session, event, seen=event.version)
    except StaleRecord:
        raise stale(session, event) from None
    session.commit()
    return Response(status=204)
