"""Versions of stored records: the ETag of a talk and of a series.

One definition for the API's `ETag`/`If-Match` and the workspace's stale-edit check: a
version changes with every stored change of the record, whoever made it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from events.models import Event, Series


def digest(values: dict[str, Any]) -> str:
    """Return a short, stable SHA-256 digest of a mapping of values."""
    text = json.dumps(values, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def event_etag(event: Event) -> str:
    """Return the ETag of a talk: it changes with every stored change."""
    columns = {c.key: getattr(event, c.key) for c in Event.__table__.columns}
    return f'"e{event.sequence}-{digest(columns)}"'


def series_etag(series: Series) -> str:
    """Return the ETag of a series (its own fields; the triggers' feed stamp is not one)."""
    columns = {
        c.key: getattr(series, c.key)
        for c in Series.__table__.columns
        if c.key not in ("feed_revision", "talks_changed_at")
    }
    return f'"s-{digest(columns)}"'
