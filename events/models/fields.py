"""Shapes of the JSON columns: what a speaker, a location and a meeting hold."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

AccessPolicy = Literal["public", "subscribers", "revealed", "hidden"]


class Speaker(TypedDict):
    """A speaker: a name, optionally an affiliation and a homepage."""

    name: str
    affiliation: NotRequired[str]
    homepage: NotRequired[str]


class Location(TypedDict, total=False):
    """Where a talk happens: a room, an address, online (any of them)."""

    room: str
    address: str
    online: bool


class Meeting(TypedDict, total=False):
    """An online meeting and who may see its details (`access`)."""

    platform: str
    url: str
    id: str
    passcode: str
    alternate_id: str
    access: AccessPolicy
    reveal_minutes: int  # `revealed`: minutes before the start the details reach subscribers


class PreviousValues(TypedDict, total=False):
    """What a talk looked like before a material change (instants as ISO 8601 text)."""

    start_utc: str
    end_utc: str
    timezone: str
    location: Location
    status: str
    meeting: Meeting | None


class OutboxPayload(TypedDict, total=False):
    """What an outbox row needs beyond its kind and talk: a change's old values, a digest's."""

    previous: PreviousValues
    week_start: str
    event_ids: list[str]
    # The talks a session's announcement listed when it was built (mail.blocks).
    talks: list[str]
    # Which link a recording note is about: 'recording' or 'slides' (mail.recordings).
    link: str
    # Digests (mail.outbox.queue_digests): daily or weekly, the reader's day it was queued
    # on, and the talks the reader saw in an earlier digest.
    frequency: str
    day: str
    changed: list[str]


class TalkTranslation(TypedDict, total=False):
    """A talk's title and abstract in another language (events.languages)."""

    title: str
    abstract: str


class SeriesTranslation(TypedDict, total=False):
    """A series' name and description in another language (events.languages)."""

    name: str
    description: str
