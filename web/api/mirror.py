"""Mirror routes: read, set, refresh or stop the external calendar a series mirrors."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import Response
from pydantic import BaseModel, ConfigDict, Field

from events import mirror
from events.models import SeriesMirror
from web.api.base import (
    ApiError,
    answer,
    current_editor,
    json_body,
    load_series,
    operation,
    writer,
)
from web.context import db, now, settings, state


class MirrorIn(BaseModel):
    """The calendar a series should mirror."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="An http(s) iCalendar URL (Indico, Google, Nextcloud, ...)")


class MirrorOut(BaseModel):
    """A series' mirror: its URL and the outcome of the last fetch."""

    url: str
    last_fetch: datetime | None
    result: Literal["ok", "not modified", "error"] | None
    message: str
    last_good: datetime | None
    next_fetch: datetime


def mirror_out(found: SeriesMirror) -> MirrorOut:
    """Return the API representation of a mirror."""
    return MirrorOut(
        url=found.url,
        last_fetch=found.fetched_at,
        result=found.result,  # type: ignore[arg-type]  # one of MIRROR_RESULTS
        message=found.message,
        last_good=found.good_at,
        next_fetch=found.next_fetch_at,
    )


def _mirror_of(slug: str) -> SeriesMirror:
    found = mirror.get_mirror(db(), load_series(db(), slug))
    if found is None:
        raise ApiError(404, "slug", f"series {slug!r} mirrors no calendar")
    return found


@operation(
    "GET",
    "/series/<slug>/mirror",
    summary="Read the mirror of a series (its last fetch, result and next fetch)",
    ok=(200, MirrorOut),
    auth="required",
    errors=(401, 403, 404),
)
def get_mirror(slug: str) -> Response:
    """Read a series' mirror (a token of that series, read-only ones too)."""
    editor = current_editor(required=True)
    assert editor is not None
    if not editor.may_read(slug):
        raise ApiError(403, "series", f"this token may not read series {slug!r}")
    return answer(mirror_out(_mirror_of(slug)))


@operation(
    "PUT",
    "/series/<slug>/mirror",
    summary="Make a series mirror an iCalendar URL (fetched at the worker's next round)",
    ok=(200, MirrorOut),
    auth="required",
    errors=(401, 403, 404, 415, 422),
    body=MirrorIn,
)
def put_mirror(slug: str) -> Response:
    """Set the URL a series mirrors; a new URL forgets the old one's validators."""
    writer(slug)
    body = json_body()
    url = body.get("url")
    if set(body) - {"url"}:
        raise ApiError(422, sorted(set(body) - {"url"})[0], "unknown field")
    if not isinstance(url, str):
        raise ApiError(422, "url", "required: an http(s) URL")
    try:
        found = mirror.set_mirror(db(), load_series(db(), slug), url, now())
    except mirror.MirrorError as exc:
        raise ApiError(422, "url", str(exc)) from None
    db().commit()
    return answer(mirror_out(found))


@operation(
    "POST",
    "/series/<slug>/mirror/refresh",
    summary="Fetch a series' mirrored calendar now and apply what changed",
    ok=(200, MirrorOut),
    auth="required",
    errors=(401, 403, 404),
    description="A failed fetch answers 200 too: `result` is 'error' and the talks stay.",
)
def refresh_mirror(slug: str) -> Response:
    """Refresh a mirror at once (the answer says how it went)."""
    writer(slug)
    _mirror_of(slug)
    db().rollback()  # the refresh writes in its own transactions
    mirror.refresh(state().sessions, slug, settings(), now())
    db().expire_all()
    return answer(mirror_out(_mirror_of(slug)))


@operation(
    "DELETE",
    "/series/<slug>/mirror",
    summary="Stop mirroring (the talks stay as they are)",
    ok=(204, None),
    auth="required",
    errors=(401, 403, 404),
)
def delete_mirror(slug: str) -> Response:
    """Stop mirroring a series."""
    writer(slug)
    if not mirror.remove_mirror(db(), load_series(db(), slug)):
        raise ApiError(404, "slug", f"series {slug!r} mirrors no calendar")
    db().commit()
    return Response(status=204)
