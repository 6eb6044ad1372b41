"""Export a series and its talks in the import shape (YAML or JSON); import reads it back."""

from __future__ import annotations

import json
from typing import Any, TypedDict, cast

import yaml
from sqlalchemy.orm import Session

from events import schedules, store
from events.models import (
    Event,
    Location,
    Meeting,
    Schedule,
    Series,
    SeriesTranslation,
    Speaker,
    TalkTranslation,
)
from events.schemas import SERIES_FIELDS


class _BlockDumper(yaml.SafeDumper):
    """Safe YAML that writes multi-line text as `|` blocks."""


def _str_block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_block)


class EventDocument(TypedDict, total=False):
    """A talk as written in an import file (fields equal to the series' defaults left out)."""

    id: str
    title: str
    speakers: list[Speaker]
    timezone: str
    start: str
    end: str
    location: Location
    meeting: Meeting
    abstract: str
    livestream: str
    recording: str
    slides: str
    homepage: str
    status: str
    tags: list[str]
    kind: str
    parent: str
    posters: list[str]
    topics: list[str]
    translations: dict[str, TalkTranslation]


class SeriesDocument(TypedDict, total=False):
    """A series as written in an import file, with its talks."""

    slug: str
    name: str
    description: str
    timezone: str
    homepage: str
    organisers: list[str]
    language: str
    visibility: str
    location: Location
    meeting: Meeting
    auto_announce: bool
    duration: int
    announce_lead: int
    schedule: dict[str, Any]
    topics: list[str]
    translations: dict[str, SeriesTranslation]
    events: list[EventDocument]


def _drop_empty(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}


def event_document(event: Event, series: Series) -> EventDocument:
    """Return one event as written in an import file, leaving out the series' defaults."""
    meeting = {k: v for k, v in (event.meeting or {}).items() if (series.meeting or {}).get(k) != v}
    document = _drop_empty(
        {
            "id": event.id,
            "title": event.title,
            "speakers": event.speakers,
            "timezone": event.timezone if event.timezone != series.timezone else None,
            "start": event.start_local,
            "end": event.end_local,
            "location": event.location if event.location != (series.location or {}) else None,
            "meeting": meeting,
            "abstract": event.abstract,
            "livestream": event.livestream,
            "recording": event.recording,
            "slides": event.slides,
            "homepage": event.homepage,
            "status": event.status,
            "tags": event.tags,
            "kind": event.kind if event.kind != "talk" else None,
            "parent": event.parent_id,
            "posters": event.posters,
            "topics": event.topics,
            "translations": event.translations,
        }
    )
    return cast(EventDocument, document)


def series_document(series: Series, session: Session | None = None) -> SeriesDocument:
    """Return a series with all its events as written in an import file."""
    values: dict[str, Any] = {name: getattr(series, name) for name in SERIES_FIELDS}
    head = cast(
        SeriesDocument, _drop_empty({**values, "auto_announce": series.auto_announce or None})
    )
    schedule = session.get(Schedule, series.id) if session is not None else None
    if schedule is not None:
        head["schedule"] = schedules.document(schedule)
    # TBA slots come back from the schedule; a block precedes its items.
    shown = sorted(
        (e for e in series.events if e.kind != "tba"),
        key=lambda e: (e.start_utc, e.parent_id is not None, e.id),
    )
    head["events"] = [event_document(e, series) for e in shown]
    return head


def export_series(session: Session, slugs: list[str], fmt: str = "yaml") -> str:
    """Return the import document for the given series as YAML or JSON text."""
    document = {
        "series": [series_document(store.get_series(session, slug), session) for slug in slugs]
    }
    if fmt == "json":
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    return yaml.dump(document, Dumper=_BlockDumper, allow_unicode=True, sort_keys=False, width=100)
