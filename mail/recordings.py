"""'Recording available': a short note when a talk's video or slides appear after it started.

A talk stored with a recording or slides link it did not have (`Outcome.added_links`), at a
moment when it has already started, queues one `recording` row per subscriber of its series
who keeps `recording_notes` on (the default; a checkbox on the manage page), key
`recording:<subscriber>:<talk>:<recording|slides>`: exactly once per talk, link kind and
reader, whatever edits follow. No note when the link was there before the talk started
(announcements and reminders carry it), for a cancelled talk, nor for drafts (the workspace
keeps them apart: they are not talks until published, and a published talk is 'created').
The note is built at send time from the talk as it is then: cancelled or link removed
meanwhile, nothing is sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from events.models import Event, Series
from events.store import Outcome
from mail import outbox

LINK_KINDS = ("recording", "slides")


def on_talk_saved(
    session: Session, *, series: Series, event: Event, outcome: Outcome, now: datetime
) -> int:
    """Receive `talk_saved`: queue recording notes for links added after the talk started."""
    if outcome.action != "updated" or event.status == "cancelled" or event.start_utc > now:
        return 0
    links = [name for name in outcome.added_links if name in LINK_KINDS]
    if not links:
        return 0
    session.flush()
    readers = [s for s in outbox.active_subscribers(session, series.id) if s.recording_notes]
    rows: list[outbox.Row] = [
        ("recording", f"recording:{s.id}:{event.id}:{link}", s, event.id, {"link": link})
        for link in links
        for s in readers
    ]
    return outbox.queue(session, rows, now)
