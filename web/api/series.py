"""Series routes: list, create, read, patch, delete."""

from __future__ import annotations

from flask import Response
from sqlalchemy import func, select

from events import store
from events.errors import InvalidRecord, StaleRecord
from events.exporter import series_document
from events.models import Series
from events.schemas import (
    SeriesIn,
    validate_event,
    validate_series,
)
from web.api.base import (
    DEFAULT_LIMIT,
    JSON_TYPES,
    MAX_LIMIT,
    MAX_OFFSET,
    PAGING,
    ApiError,
    answer,
    check_if_match,
    created,
    current_editor,
    invalid,
    json_body,
    listable,
    load_series,
    merge_patch,
    operation,
    query_int,
    series_etag,
    series_out,
    stale,
    writer,
)
from web.api.schema import (
    SeriesList,
    SeriesOut,
    SeriesPatch,
)
from web.context import db, now

# --- series ----------------------------------------------------------------------------


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
    limit = query_int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT) or DEFAULT_LIMIT
    offset = query_int("offset", 0, 0, MAX_OFFSET) or 0
    session = db()
    condition = listable(editor)
    total = session.scalar(select(func.count()).select_from(Series).where(condition)) or 0
    rows = session.scalars(
        select(Series).where(condition).order_by(Series.slug).limit(limit).offset(offset)
    )
    items = [series_out(s, editor) for s in rows]
    return answer(SeriesList(items=items, total=total, limit=limit, offset=offset))


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
        raise invalid(exc) from None
    writer(record.slug)
    session = db()
    store.lock_series(session, [record.slug])
    if session.scalar(select(Series.id).where(Series.slug == record.slug)) is not None:
        raise ApiError(409, "slug", f"series {record.slug!r} already exists; PATCH it instead")
    series, _ = store.upsert_series(session, record, now())
    session.commit()
    return created(series_out(series, editor), series_etag(series), f"/series/{series.slug}")


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
    series = load_series(db(), slug)
    return answer(series_out(series, editor), etag=series_etag(series))


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
    editor = writer(slug)
    session = db()
    series = load_series(session, slug)
    store.lock_series(session, [slug])
    check_if_match(series_etag(series), required=True)
    patch = json_body()
    if "slug" in patch and patch["slug"] != series.slug:
        raise ApiError(422, "slug", "a series slug cannot change")
    document = series_document(series)
    events = document.pop("events")
    try:
        record = validate_series(merge_patch(document, patch))
    except InvalidRecord as exc:
        raise invalid(exc) from None
    old_docs = [
        (e, {**d, "timezone": e.timezone}) for e, d in zip(series.events, events, strict=True)
    ]
    moment = now()
    try:
        store.update_series(session, series, record, moment, seen=series.version)
    except StaleRecord:
        raise stale(session, series) from None
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
    return answer(series_out(series, editor), etag=series_etag(series))


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
    writer(slug)
    session = db()
    series = load_series(session, slug)
    store.lock_series(session, [slug])
    check_if_match(series_etag(series), required=False)
    try:
        store.delete_series(session, series, seen=series.version)
    except StaleRecord:
        raise stale(session, series) from None
    session.commit()
    return Response(status=204)
