"""The import routes: a YAML, JSON, CSV or .ics file, all or nothing, and its preview."""

from __future__ import annotations

from flask import Response, request

from events import importer, store
from events.errors import Conflict, ImportFailed, InvalidRecord
from events.schemas import (
    SLUG_PATTERN,
)
from events.tokens import Editor
from web.api.base import (
    IMPORT_TYPES,
    ApiError,
    answer,
    check_text,
    current_editor,
    operation,
    query_text,
)
from web.api.schema import (
    Counts,
    ErrorItem,
    FieldChangeOut,
    ImportPreviewOut,
    ImportResult,
    MissingOut,
    RecordPreview,
)
from web.context import now, settings, state
from web.security import check_rate

# --- import ----------------------------------------------------------------------------

IMPORT_QUERY = [
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
]


@operation(
    "POST",
    "/import",
    summary="Import a YAML, JSON, CSV or .ics file, all or nothing",
    ok=(200, ImportResult),
    auth="required",
    errors=(400, 403, 415),
    raw_body=True,
    body_types=tuple(IMPORT_TYPES),
    query=IMPORT_QUERY,
    description=(
        "The same formats and rules as `eventfeed import`. Every series the file touches "
        "must be one the token may change (403 otherwise); the first bad record refuses the "
        "whole file (422) and nothing is written. `POST /import/preview` shows what it would "
        "do first."
    ),
)
def import_file() -> Response:
    """Import one file in one transaction."""
    editor, parsed = _parsed_request()
    check_rate("api-write", f"token-{editor.token_id}", settings().api_writes_per_minute, 60)
    moment = now()
    try:
        report = store.write_retrying(
            state().sessions,
            lambda session: importer.apply(session, parsed, moment, progress=False),
            "the import",
        )
    except Conflict as exc:
        raise ApiError(409, "body", str(exc)) from None
    except InvalidRecord as exc:
        errors = [(f, f"{exc.where}: {m}") for f, m in exc.errors] or [("body", str(exc))]
        raise ApiError(422, "body", str(exc), errors=errors) from None
    return answer(
        ImportResult(
            series=Counts(**report.series),
            events=Counts(**report.events),
            event_ids=report.event_ids,
        )
    )


def _parsed_request() -> tuple[Editor, importer.Parsed]:
    """Check the token, the rate, the type and the series of an import body; parse it."""
    editor = current_editor(required=True)
    assert editor is not None
    check_rate("api-import", f"token-{editor.token_id}", settings().api_imports_per_hour, 3600)
    fmt = query_text("format") or IMPORT_TYPES.get(request.mimetype)
    if fmt not in importer.FORMATS:
        raise ApiError(
            415,
            "Content-Type",
            "send text/yaml, application/json, text/csv or text/calendar (or ?format=)",
        )
    default_series = query_text("series")
    raw = request.get_data(cache=True)
    try:
        parsed = importer.parse_bytes("request body", raw, fmt, default_series, now())
    except ImportFailed as exc:
        raise ApiError(400, "body", str(exc)) from None
    slugs = {d.get("slug") for _, d in parsed.series} | {e.series for e in parsed.events}
    for slug in sorted(s for s in slugs if isinstance(s, str)):
        check_text(slug, "series")
        if not editor.may_edit(slug):
            raise ApiError(403, "series", f"this token may not change series {slug!r}")
    check_text([d for _, d in parsed.series] + [e.data for e in parsed.events], "body")
    return editor, parsed


@operation(
    "POST",
    "/import/preview",
    summary="Preview an import (dry run): what each record would do; nothing is written",
    ok=(200, ImportPreviewOut),
    auth="required",
    errors=(400, 403, 415),
    raw_body=True,
    body_types=tuple(IMPORT_TYPES),
    query=IMPORT_QUERY,
    description=(
        "The same body, checks and limits as `POST /import`, and the same preview as "
        "`eventfeed import --dry-run`: per record new / changed (field, before, after) / "
        "unchanged / error (where, field, message), and the upcoming talks of the file's "
        "series that it does not list. `ok` says whether `POST /import` would succeed."
    ),
)
def preview_import() -> Response:
    """Preview one file's import; nothing is written."""
    _, parsed = _parsed_request()
    preview = importer.preview_parsed(state().sessions, parsed, now())

    def record(r: importer.TalkPreview) -> RecordPreview:
        return RecordPreview(
            action=r.action,
            where=r.where,
            event_id=r.event_id,
            series=r.series,
            title=r.title,
            changes=[
                FieldChangeOut(field=c.field, before=c.before, after=c.after) for c in r.changes
            ],
            errors=[ErrorItem(field=f, message=m) for f, m in r.errors],
        )

    return answer(
        ImportPreviewOut(
            ok=preview.ok,
            counts=preview.counts(),
            series=[record(r) for r in preview.series],
            talks=[record(r) for r in preview.talks],
            missing=[
                MissingOut(event_id=m.event_id, series=m.series, title=m.title, start=m.start)
                for m in preview.missing
            ],
        )
    )
