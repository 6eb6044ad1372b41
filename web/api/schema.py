"""Pydantic models of the editor API's answers and patches, and its OpenAPI 3.1 document.

Requests are validated by `events.schemas` (SeriesIn, EventIn): the same path as imports.
The models here describe answers and patches; `openapi_document` builds the OpenAPI 3.1
document from all of them with `model_json_schema`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.json_schema import models_json_schema

from events.schemas import EVENT_ID_PATTERN, SLUG_PATTERN, EventIn, SeriesIn

API_VERSION = "1.0.0"
REF = "#/components/schemas/{model}"


class Out(BaseModel):
    """Base of answer models."""

    model_config = ConfigDict(extra="forbid")


class SpeakerOut(Out):
    """A speaker."""

    name: str
    affiliation: str | None = None
    homepage: str | None = None


class LocationOut(Out):
    """Where a talk happens."""

    room: str | None = None
    address: str | None = None
    online: bool = False


class MeetingOut(Out):
    """An online meeting as the caller may see it; `withheld` hides details from the public."""

    platform: str | None = None
    url: str | None = None
    id: str | None = None
    passcode: str | None = None
    alternate_id: str | None = None
    access: Literal["public", "subscribers", "revealed", "hidden"] | None = None
    reveal_minutes: int | None = Field(
        default=None, description="`revealed`: minutes before the start subscribers get details"
    )
    withheld: bool = False


class TalkTranslationOut(Out):
    """A talk's title and abstract in another language."""

    title: str | None = None
    abstract: str | None = None


class SeriesTranslationOut(Out):
    """A series' name and description in another language."""

    name: str | None = None
    description: str | None = None


class SeriesOut(Out):
    """A series as the API returns it."""

    slug: str
    name: str
    description: str
    timezone: str
    homepage: str | None
    organisers: list[str]
    language: str
    visibility: Literal["public", "unlisted"]
    location: LocationOut | None
    meeting: MeetingOut | None
    duration: int | None = Field(
        default=None, description="minutes a new talk lasts when it gives no end"
    )
    announce_lead: Literal[1, 7] | None = Field(
        default=None,
        description="days before the start each new talk's announcement is scheduled",
    )
    topics: list[str] = Field(
        default_factory=list,
        description="taxonomy topics (slug, name or 'Parent › Child') and free keywords",
    )
    embed_origins: list[str] = Field(
        default_factory=list,
        description="sites (scheme://host[:port]) allowed to frame /embed/series/<slug>; "
        "empty: any site",
    )
    translations: dict[str, SeriesTranslationOut] = Field(
        default_factory=dict,
        description="name and description in other languages, by BCP 47 tag ('en', 'pt-PT')",
    )
    page: str
    created: datetime
    updated: datetime


class EventOut(Out):
    """A talk: local wall times with their zone and the UTC instants they mean."""

    id: str
    series: str
    title: str
    speakers: list[SpeakerOut]
    abstract: str
    timezone: str = Field(description="IANA zone of the wall times")
    start_local: str = Field(description="wall time in `timezone` (offset only when ambiguous)")
    end_local: str
    start_utc: datetime
    end_utc: datetime
    location: LocationOut
    meeting: MeetingOut | None
    livestream: str | None
    recording: str | None
    slides: str | None
    homepage: str | None
    status: Literal["confirmed", "tentative", "cancelled"]
    tags: list[str]
    topics: list[str] = Field(
        default_factory=list,
        description="taxonomy topics (slug, name or 'Parent › Child') and free keywords",
    )
    sequence: int = Field(description="iCalendar SEQUENCE: rises on changes of time, place, status")
    translations: dict[str, TalkTranslationOut] = Field(
        default_factory=dict,
        description="title and abstract in languages other than the series', by BCP 47 tag",
    )
    page: str
    created: datetime
    updated: datetime


class EventList(Out):
    """One page of events; follow `next_cursor` (or raise `offset`) for the next."""

    items: list[EventOut]
    total: int = Field(
        description="matching talks, counted up to 1,000 (then `total_capped` is true)"
    )
    total_capped: bool = Field(
        default=False, description="true when more than `total` talks match (issue 21)"
    )
    limit: int
    offset: int | None
    next_cursor: str | None


class SearchResults(Out):
    """One page of talks matching a search, best first (upcoming ones, or past ones)."""

    query: str
    terms: list[str] = Field(description="the folded terms every talk contains")
    past: bool
    items: list[EventOut]
    page: int
    limit: int
    has_next: bool


class SeriesList(Out):
    """One page of series."""

    items: list[SeriesOut]
    total: int
    limit: int
    offset: int


class ErrorItem(Out):
    """One problem: the field (dotted path, or 'body', 'header', 'request') and a message."""

    field: str
    message: str


class ErrorBody(Out):
    """Every error answer of the API."""

    errors: list[ErrorItem]


class Counts(Out):
    """How many records an import created, updated or left unchanged."""

    created: int
    updated: int
    unchanged: int


class ImportResult(Out):
    """What an import did."""

    series: Counts
    events: Counts
    event_ids: list[str]


class FieldChangeOut(Out):
    """One field an import would change: before and after, as text ('—' for empty)."""

    field: str
    before: str
    after: str


class RecordPreview(Out):
    """What an import would do to one record: new, changed, unchanged or error."""

    action: str
    where: str
    event_id: str | None
    series: str | None
    title: str
    changes: list[FieldChangeOut]
    errors: list[ErrorItem]


class MissingOut(Out):
    """An upcoming talk of the file's series that the file does not list."""

    event_id: str
    series: str
    title: str
    start: str


class ImportPreviewOut(Out):
    """An import's dry run: nothing was written."""

    ok: bool
    counts: dict[str, int]
    series: list[RecordPreview]
    talks: list[RecordPreview]
    missing: list[MissingOut]


def _patch_model(name: str, model: type[BaseModel], fixed: str) -> type[BaseModel]:
    """Return a merge-patch model: every field of `model` optional and nullable (null clears)."""
    fields: dict[str, Any] = {}
    for key, info in model.model_fields.items():
        if key == fixed:
            continue
        annotation: Any = info.annotation
        fields[key] = (annotation | None, Field(default=None, description=info.description))
    patch: type[BaseModel] = create_model(
        name,
        __config__=ConfigDict(extra="forbid"),
        __doc__=f"JSON merge patch (RFC 7396) of a {model.__name__.removesuffix('In').lower()}.",
        **fields,
    )
    return patch


EventPatch = _patch_model("EventPatch", EventIn, "id")
SeriesPatch = _patch_model("SeriesPatch", SeriesIn, "slug")


@dataclass
class Operation:
    """One API operation: its Flask rule, method and what the document says about it."""

    method: str
    rule: str
    operation_id: str
    summary: str
    auth: Literal["none", "optional", "required"]
    ok: tuple[int, type[BaseModel] | None]
    errors: tuple[int, ...] = ()
    body: type[BaseModel] | None = None
    body_types: tuple[str, ...] = ("application/json",)
    raw_body: bool = False
    query: list[dict[str, Any]] = field(default_factory=list)
    if_match: Literal["none", "optional", "required"] = "none"
    description: str = ""

    @property
    def path(self) -> str:
        """Return the OpenAPI path template of the rule."""
        return self.rule.replace("<", "{").replace(">", "}")


ERROR_TEXT = {
    400: "Malformed request (bad JSON, bad file)",
    401: "Missing or invalid bearer token",
    403: "The token may not change this series",
    404: "No such series or event",
    409: "Already exists",
    412: "If-Match does not match the current ETag",
    413: "Request body above the size limit",
    415: "Unsupported Content-Type",
    422: "Invalid fields (per-field errors)",
    428: "If-Match header required",
    429: "Rate limit reached (see Retry-After)",
}
PATH_PARAMS = {
    "slug": {"type": "string", "pattern": SLUG_PATTERN},
    "event_id": {"type": "string", "pattern": EVENT_ID_PATTERN},
}


def openapi_document(operations: list[Operation], server_url: str) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the operations, schemas from the pydantic models."""
    models: list[type[BaseModel]] = [ErrorBody]
    for op in operations:
        for model in (op.body, op.ok[1]):
            if model is not None and model not in models:
                models.append(model)
    keyed = [(m, "validation" if m in (SeriesIn, EventIn) else "serialization") for m in models]
    # The stub wants a list of (model, mode) literals; `keyed` is exactly that, built at run time.
    _, top = models_json_schema(keyed, ref_template=REF)  # type: ignore[arg-type]  # see above
    schemas = dict(top.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "EventFeed editor API",
            "version": API_VERSION,
            "description": (
                "Create and edit seminar series and talks. Reads of public data need no "
                "token; writes need `Authorization: Bearer <token>` "
                "(`eventfeed token create`). PATCH needs `If-Match` with the ETag from GET."
            ),
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "headers": {
                "ETag": {"description": "version of the record", "schema": {"type": "string"}}
            },
        },
    }


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _operation(op: Operation) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name, schema in PATH_PARAMS.items()
        if f"<{name}>" in op.rule
    ]
    params.extend(op.query)
    if op.if_match != "none":
        params.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": op.if_match == "required",
                "description": "the ETag of the record, from GET",
                "schema": {"type": "string"},
            }
        )
    code, model = op.ok
    ok: dict[str, Any] = {"description": "OK"}
    if model is not None:
        ok["content"] = {"application/json": {"schema": _ref(model)}}
    if model is EventOut or model is SeriesOut:
        ok["headers"] = {"ETag": {"$ref": "#/components/headers/ETag"}}
    responses: dict[str, Any] = {str(code): ok}
    codes = set(op.errors) | {413, 422} if op.method != "GET" else set(op.errors) | {422}
    if op.auth != "none":
        codes |= {401, 429}
    for status in sorted(codes):
        responses[str(status)] = {
            "description": ERROR_TEXT[status],
            "content": {"application/json": {"schema": _ref(ErrorBody)}},
        }
    result: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "parameters": params,
        "responses": responses,
    }
    if op.description:
        result["description"] = op.description
    if op.auth == "required":
        result["security"] = [{"bearer": []}]
    elif op.auth == "optional":
        result["security"] = [{}, {"bearer": []}]
    else:
        result["security"] = []
    if op.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {t: {"schema": _ref(op.body)} for t in op.body_types},
        }
    elif op.raw_body:
        result["requestBody"] = {
            "required": True,
            "content": {t: {"schema": {"type": "string"}} for t in op.body_types},
        }
    return result
