"""Rich results: a talk as schema.org Event JSON-LD, and its short description.

Pure: records in, plain data out (the page template serialises it). Choices:

- startDate/endDate carry the talk's own zone offset ('2021-11-27T09:30:00+08:00').
- eventStatus: cancelled → EventCancelled; a talk whose time changed after it was first
  published (SEQUENCE > 0 and a time change is the only thing that moves it) is not marked
  EventRescheduled, because the record keeps no previous start to give as
  `previousStartDate`; it stays EventScheduled with the new dates (what Google asks for
  when the old date is unknown).
- eventAttendanceMode: a room or address and online → Mixed; a room or address only →
  Offline; otherwise (online, a meeting, a livestream, or no place given) → Online.
- location: a Place for the room/address; a VirtualLocation whose url is the meeting link
  only when its access is public, else the talk page (which says how to get the link).
- organizer: the series (an Organization with its page); performer: each speaker (a Person,
  affiliation as an Organization).
"""

from __future__ import annotations

from typing import Any

from events import times
from events.access import visible_meeting
from events.models import Event, Series
from feeds import display
from feeds.text import plain_text, readable

SCHEMA = "https://schema.org/"
DESCRIPTION_LIMIT = 300


def summary(event: Event) -> str:
    """Return a short plain-text description: speakers, then the abstract's start."""
    speakers = display.speaker_names(event.speakers)
    abstract = " ".join(plain_text(readable(event.abstract)).split())
    text = " — ".join(part for part in (speakers, abstract) if part)
    if len(text) > DESCRIPTION_LIMIT:
        text = text[: DESCRIPTION_LIMIT - 1].rstrip() + "…"
    return text


def attendance_mode(event: Event) -> str:
    """Return the schema.org attendance mode of a talk (no place at all: online)."""
    location = event.location or {}
    in_person = bool(location.get("room") or location.get("address"))
    online = bool(location.get("online") or event.meeting or event.livestream)
    if in_person and online:
        return SCHEMA + "MixedEventAttendanceMode"
    if in_person:
        return SCHEMA + "OfflineEventAttendanceMode"
    return SCHEMA + "OnlineEventAttendanceMode"


def event_jsonld(event: Event, series: Series, page_url: str, series_url: str) -> dict[str, Any]:
    """Return the schema.org Event of a talk as JSON-LD data."""
    location = event.location or {}
    places: list[dict[str, Any]] = []
    if location.get("room") or location.get("address"):
        name = location.get("room") or location.get("address")
        place: dict[str, Any] = {"@type": "Place", "name": name}
        if location.get("address"):
            place["address"] = location["address"]
        places.append(place)
    mode = attendance_mode(event)
    if mode != SCHEMA + "OfflineEventAttendanceMode":
        meeting = visible_meeting(event.meeting, "public")
        url = meeting.url if meeting is not None and meeting.url else page_url
        places.append({"@type": "VirtualLocation", "url": url})
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "@id": page_url,
        "url": page_url,
        "name": plain_text(readable(event.title)),
        "startDate": times.rfc3339_local(event.start_utc, event.timezone),
        "endDate": times.rfc3339_local(event.end_utc, event.timezone),
        "eventStatus": SCHEMA
        + ("EventCancelled" if event.status == "cancelled" else "EventScheduled"),
        "eventAttendanceMode": mode,
        "location": places[0] if len(places) == 1 else places,
        "inLanguage": series.language,
        "organizer": {"@type": "Organization", "name": series.name, "url": series_url},
        "isAccessibleForFree": True,
    }
    description = summary(event)
    if description:
        data["description"] = description
    performers = []
    for speaker in event.speakers:
        person: dict[str, Any] = {"@type": "Person", "name": speaker["name"]}
        if speaker.get("affiliation"):
            person["affiliation"] = {"@type": "Organization", "name": speaker["affiliation"]}
        if speaker.get("homepage"):
            person["url"] = speaker["homepage"]
        performers.append(person)
    if performers:
        data["performer"] = performers
    return data
