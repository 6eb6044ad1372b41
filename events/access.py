"""Who may see a talk's meeting details: the access policy of each meeting.

- `public`: everywhere.
- `subscribers`: only in a subscriber's personal feeds and emails; public output says
  that details go to subscribers, and never shows the link, ID or passcode.
- `hidden`: nowhere (kept for the organisers only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from events.models import Meeting

Audience = Literal["public", "subscriber"]
SECRET_FIELDS = ("url", "id", "passcode", "alternate_id")


@dataclass(frozen=True)
class MeetingView:
    """The part of a meeting an audience may see; `withheld` when details go to subscribers."""

    platform: str | None = None
    url: str | None = None
    id: str | None = None
    passcode: str | None = None
    alternate_id: str | None = None
    withheld: bool = False


def visible_meeting(meeting: Meeting | None, audience: Audience) -> MeetingView | None:
    """Return what `audience` may see of a meeting, or None when nothing at all."""
    if not meeting:
        return None
    access = meeting.get("access", "subscribers")
    if access == "hidden":
        return None
    if access == "subscribers" and audience != "subscriber":
        return MeetingView(platform=meeting.get("platform"), withheld=True)
    return MeetingView(
        platform=meeting.get("platform"),
        url=meeting.get("url"),
        id=meeting.get("id"),
        passcode=meeting.get("passcode"),
        alternate_id=meeting.get("alternate_id"),
    )


def secrets_of(meeting: Meeting | None) -> list[str]:
    """Return the meeting values that must not appear where the policy forbids them."""
    found = (meeting or {}).get
    return [str(found(name)) for name in SECRET_FIELDS if found(name)]
