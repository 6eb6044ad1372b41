"""Speakers' links: a talk's secret link lets its speaker fix what they know best.

A speaker may change the title, the abstract, the speakers' affiliations and the slides,
video and livestream links; never the time, the zone, the place, the meeting, the status or
the names. The link is a random secret (the database keeps its SHA-256 hash), one per talk:
making a new one rotates it (the old one stops working); it expires after its lifetime.
An edit goes through the store's versioned update (validation, SEQUENCE rules, signals) and
is logged with path 'speaker'; the organisers revert it from the talk's history.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from events import history, importer, store
from events.errors import EventFeedError, InvalidRecord
from events.models import Event, SpeakerLink
from events.schemas import validate_event

LIFETIMES_DAYS = (7, 30, 90)
DEFAULT_DAYS = 30
# What a speaker may change (input field names); affiliations are `affiliation-<n>`.
SPEAKER_FIELDS = ("title", "abstract", "slides", "recording", "livestream")
AFFILIATION = "affiliation-"


class BadSpeakerLink(EventFeedError):
    """A speaker link that is unknown (never made, or rotated away) or expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class SpeakerEdit:
    """What a speaker's save did: the store's outcome and the fields, before → after."""

    outcome: store.Outcome
    changed: dict[str, tuple[Any, Any]]


def hash_secret(secret: str) -> str:
    """Return the SHA-256 hex digest kept for a speaker link's secret."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def link_of(session: Session, event: Event) -> SpeakerLink | None:
    """Return the talk's current speaker link (None when it has none)."""
    return session.get(SpeakerLink, event.id)


def make_link(
    session: Session, event: Event, created_by: str, now: datetime, *, days: int = DEFAULT_DAYS
) -> str:
    """Make (or rotate) the talk's speaker link; return its secret, shown once."""
    if days not in LIFETIMES_DAYS:
        raise InvalidRecord("", [("days", f"choose one of {', '.join(map(str, LIFETIMES_DAYS))}")])
    secret = secrets.token_urlsafe(32)
    link = link_of(session, event)
    if link is None:
        link = SpeakerLink(event_id=event.id)
        session.add(link)
    link.secret_hash = hash_secret(secret)
    link.created_by = created_by
    link.created_at = now
    link.expires_at = now + timedelta(days=days)
    link.used_at = None
    session.flush()
    return secret


def revoke(session: Session, event: Event) -> bool:
    """Delete the talk's speaker link; return whether there was one."""
    link = link_of(session, event)
    if link is None:
        return False
    session.delete(link)
    session.flush()
    return True


def find(session: Session, secret: str, now: datetime) -> tuple[SpeakerLink, Event]:
    """Return the link and its talk; raise BadSpeakerLink when unknown or expired."""
    link = session.scalar(select(SpeakerLink).where(SpeakerLink.secret_hash == hash_secret(secret)))
    if link is None:
        raise BadSpeakerLink("this speaker link is not valid (it may have been replaced)")
    if link.expires_at <= now:
        raise BadSpeakerLink("this speaker link has expired", expired=True)
    event = session.get(Event, link.event_id)
    if event is None:  # pragma: no cover - the link is deleted with its talk
        raise BadSpeakerLink("this speaker link is not valid")
    return link, event


def speaker_names(event: Event) -> str:
    """Return the talk's speakers' names, joined (who acts through the link)."""
    return ", ".join(s["name"] for s in event.speakers) or "the speaker"


def apply(
    session: Session,
    link: SpeakerLink,
    event: Event,
    values: dict[str, str],
    now: datetime,
    *,
    seen: int,
) -> SpeakerEdit:
    """Store a speaker's changes over version `seen` of the talk; refuse any other field.

    Raise InvalidRecord naming every field a speaker may not change (nothing written),
    StaleRecord when the talk changed since the speaker's page showed it.
    """
    refused = [
        (name, "a speaker link cannot change this; ask the organisers")
        for name in values
        if name not in SPEAKER_FIELDS and not _affiliation_index(name, event)
    ]
    if refused:
        raise InvalidRecord("", refused)
    data = importer.event_input(event)
    speakers = [dict(s) for s in data["speakers"]]
    for name, value in values.items():
        if name.startswith(AFFILIATION):
            index = int(name.removeprefix(AFFILIATION))
            speakers[index]["affiliation"] = value.strip()
            if not speakers[index]["affiliation"]:
                del speakers[index]["affiliation"]
        else:
            data[name] = value.strip() or (None if name != "abstract" else "")
    data["speakers"] = speakers
    before = history.values_of(event)
    record = validate_event(data, store.series_record(event.series))
    actor = history.Actor(f"speaker link ({speaker_names(event)})", "speaker")
    with history.acting(actor):
        outcome = store.update_event(session, event, record, now, seen=seen)
    after = history.values_of(event)
    link.used_at = now
    changed = {k: (before[k], after[k]) for k in after if before[k] != after[k]}
    return SpeakerEdit(outcome, changed)


def _affiliation_index(name: str, event: Event) -> bool:
    if not name.startswith(AFFILIATION):
        return False
    digits = name.removeprefix(AFFILIATION)
    return digits.isdigit() and int(digits) < len(event.speakers)
