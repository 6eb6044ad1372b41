"""Who may see a talk's meeting details: the access policy of each meeting.

- `public`: everywhere.
- `subscribers`: only in a subscriber's personal feeds and emails; public output says
  that details go to subscribers, and never shows the link, ID or passcode.
- `revealed`: as `subscribers`, but only from `reveal_minutes` (default 15) before the
  start: before that moment the details are in no page, feed or email; after it, in the
  subscriber's reminder, emails and personal feeds (never in public output).
- `hidden`: nowhere (kept for the organisers only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from events.models import Meeting

Audience = Literal["public", "subscriber"]
SECRET_FIELDS = ("url", "id", "passcode", "alternate_id")
DEFAULT_REVEAL_MINUTES = 15
MAX_REVEAL_MINUTES = 10080  # a week


@dataclass(frozen=True)
class MeetingView:
    """The part of a meeting an audience may see; `withheld` when details go to subscribers
    (`reveal_minutes` before the start, when the policy says so)."""

    platform: str | None = None
    url: str | None = None
    id: str | None = None
    passcode: str | None = None
    alternate_id: str | None = None
    withheld: bool = False
    reveal_minutes: int | None = None


def reveal_minutes(meeting: Meeting | None) -> int | None:
    """Return how long before the start a `revealed` meeting's details reach subscribers."""
    if not meeting or meeting.get("access") != "revealed":
        return None
    return meeting.get("reveal_minutes", DEFAULT_REVEAL_MINUTES)


def reveal_at(meeting: Meeting | None, start: datetime) -> datetime | None:
    """Return the instant a `revealed` meeting's details reach subscribers (else None)."""
    minutes = reveal_minutes(meeting)
    return None if minutes is None else start - timedelta(minutes=minutes)


def is_revealed(meeting: Meeting | None, start: datetime, now: datetime | None) -> bool:
    """Return whether a `revealed` meeting's details have reached subscribers at `now`."""
    moment = reveal_at(meeting, start)
    return moment is not None and now is not None and now >= moment


def visible_meeting(
    meeting: Meeting | None,
    audience: Audience,
    *,
    start: datetime | None = None,
    now: datetime | None = None,
) -> MeetingView | None:
    """Return what `audience` may see of a meeting at `now`, or None when nothing at all.

    A `revealed` meeting shows its details to subscribers only when `start` and `now` are
    given and `now` is past the reveal moment.
    """
    if not meeting:
        return None
    access = meeting.get("access", "subscribers")
    if access == "hidden":
        return None
    if access == "revealed" and not (
        audience == "subscriber" and start is not None and is_revealed(meeting, start, now)
    ):
        return MeetingView(
            platform=meeting.get("platform"), withheld=True, reveal_minutes=reveal_minutes(meeting)
        )
    if access == "subscribers" and audience != "subscriber":
        return MeetingView(platform=meeting.get("platform"), withheld=True)
    return MeetingView(
        platform=meeting.get("platform"),
        url=meeting.get("url"),
        id=meeting.get("id"),
        passcode=meeting.get("passcode"),
        alternate_id=meeting.get("alternate_id"),
    )


def withheld_text(view: MeetingView) -> str:
    """Return where withheld join details go, as a sentence ending in a full stop."""
    if view.reveal_minutes is not None:
        return (
            f"join details are sent to subscribers of this series {view.reveal_minutes} "
            "minutes before the start."
        )
    return "join details are sent to subscribers of this series."


def secrets_of(meeting: Meeting | None) -> list[str]:
    """Return the meeting values that must not appear where the policy forbids them."""
    found = (meeting or {}).get
    return [str(found(name)) for name in SECRET_FIELDS if found(name)]
