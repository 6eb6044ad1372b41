"""One announcement per session (or workshop) with every talk in it, never one per talk.

Queueing (`announce_block`), for each subscriber who wants announcements:

- nothing queued or sent about the block yet: a `session` row, key `session:<sub>:<block>`;
- a row about the block still queued and not built: nothing (it is built at send time from
  the block's talks as they are then, so talks published one by one before the worker runs
  go out in one email);
- the block already announced (its row built or sent): a `session-update` row, key
  `session-update:<sub>:<block>:<talk>`, built at send time with the talks the reader has not
  been sent yet (none left, e.g. cancelled meanwhile: nothing is sent).

A built row records the talks it listed (`payload["talks"]`, kept when the worker prunes old
message bytes); a talk listed to a reader is
"announced" to them, so its later changes and cancellation follow per talk (mail.outbox).
Breaks, lunch and the other non-talk items are never listed.

A series with a default lead (`series.announce_lead`, 7 or 1 days) and no automatic
announcement gets each new talk's announcement scheduled that long before its start
(`schedule_by_default`); the worker queues it when due (`queue_scheduled`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from events.models import Event, Outbox, ScheduledAnnouncement, Series
from events.models.schedules import CONTAINER_KINDS, TALK_KINDS
from events.store import Outcome
from mail import outbox

BLOCK_KINDS = ("session", "session-update")


def block_of(session: Session, event: Event) -> Event | None:
    """Return the session or workshop holding a talk, or the block itself, else None."""
    if event.kind in CONTAINER_KINDS:
        return event
    if event.parent_id is None or event.kind not in TALK_KINDS:
        return None
    parent = session.get(Event, event.parent_id)
    return parent if parent is not None and parent.kind in CONTAINER_KINDS else None


def talks_of(block: Event) -> list[Event]:
    """Return the talks of a block that can be announced (not breaks, not cancelled)."""
    found = [i for i in block.items if i.kind in TALK_KINDS and i.status != "cancelled"]
    return sorted(found, key=lambda t: (t.start_utc, t.id))


def block_rows(session: Session, block_id: str) -> dict[int, list[Outbox]]:
    """Return the outbox rows announcing a block, by subscriber."""
    query = select(Outbox).where(Outbox.event_id == block_id, Outbox.kind.in_(BLOCK_KINDS))
    found: dict[int, list[Outbox]] = defaultdict(list)
    for row in session.scalars(query.order_by(Outbox.id)):
        found[row.subscriber_id or -1].append(row)
    return found


def pending(row: Outbox) -> bool:
    """Return whether a row is queued and not built yet (it will show the talks as they are)."""
    return row.status == "queued" and "talks" not in row.payload


def listed(rows: list[Outbox]) -> set[str]:
    """Return the talks that built (or sent) rows listed to their reader.

    Read from the payload, not the message: the worker drops old messages' bytes (prune).
    """
    return {t for r in rows for t in r.payload.get("talks", [])}


def announce_block(session: Session, block: Event, talk: Event | None, now: datetime) -> int:
    """Queue the announcement (or update) of a block to every subscriber who wants it."""
    session.flush()
    subscribers = outbox.announced_to(session, talk if talk is not None else block)
    if not subscribers:
        return 0
    rows = block_rows(session, block.id)
    queued: list[outbox.Row] = []
    for subscriber in subscribers:
        mine = [r for r in rows.get(subscriber.id, []) if r.status != "skipped"]
        if any(pending(r) for r in mine):
            continue
        if not mine:
            key = f"session:{subscriber.id}:{block.id}"
            if rows.get(subscriber.id):  # announced once but all of it skipped: anew
                key += f":{talk.id if talk is not None else int(now.timestamp())}"
            queued.append(("session", key, subscriber, block.id, {}))
        elif talk is not None and talk.id not in listed(mine):
            key = f"session-update:{subscriber.id}:{block.id}:{talk.id}"
            queued.append(("session-update", key, subscriber, block.id, {}))
    return outbox.queue(session, queued, now)


def announce(session: Session, event: Event, now: datetime) -> int:
    """Queue the announcement of a talk, or of the session or workshop holding it."""
    block = block_of(session, event)
    if block is None:
        return outbox.announce(session, event, now)
    return announce_block(session, block, None if block is event else event, now)


def on_talk_saved(
    session: Session, *, series: Series, event: Event, outcome: Outcome, now: datetime
) -> int:
    """Receive `talk_saved`: a new talk of a block announces the block, else as mail.outbox."""
    if outcome.action == "created":
        schedule_by_default(session, series, [event], now)
    block = block_of(session, event) if outcome.action == "created" else None
    if block is None:
        return outbox.on_talk_saved(session, series=series, event=event, outcome=outcome, now=now)
    if series.auto_announce and event.status != "cancelled" and event.end_utc > now:
        return announce_block(session, block, event, now)
    return 0


def on_talks_created(
    session: Session, *, series: Series, event_ids: list[str], now: datetime
) -> int:
    """Receive `talks_created` (a bulk import): announce them as `on_talk_saved` would."""
    if series.announce_lead and not series.auto_announce:
        for start in range(0, len(event_ids), 500):
            chunk = event_ids[start : start + 500]
            found = session.scalars(select(Event).where(Event.id.in_(chunk))).all()
            schedule_by_default(session, series, list(found), now)
    if not series.auto_announce:
        return 0
    added = 0
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start : start + 500]
        for event in session.scalars(select(Event).where(Event.id.in_(chunk))):
            if event.status != "cancelled" and event.end_utc > now:
                added += announce(session, event, now)
    return added


def schedule_by_default(
    session: Session, series: Series, events: list[Event], now: datetime
) -> int:
    """Schedule new talks' announcements `series.announce_lead` days before their start
    (not when the series announces at once, nor for talks over, cancelled or not talks)."""
    lead = series.announce_lead
    if not lead or series.auto_announce:
        return 0
    added = 0
    for event in events:
        if event.kind not in TALK_KINDS or event.status == "cancelled" or event.end_utc <= now:
            continue
        if session.get(ScheduledAnnouncement, event.id) is not None:
            continue
        session.add(
            ScheduledAnnouncement(
                event_id=event.id,
                lead_days=lead,
                due_at=max(event.start_utc - timedelta(days=lead), now),
                created_by="series default",
                created_at=now,
            )
        )
        added += 1
    return added


def queue_scheduled(session: Session, now: datetime) -> int:
    """Queue the scheduled announcements due by `now`, each claimed once (several workers)."""
    due = session.scalars(
        select(ScheduledAnnouncement).where(
            ScheduledAnnouncement.queued_at.is_(None), ScheduledAnnouncement.due_at <= now
        )
    ).all()
    queued = 0
    for planned in due:
        claimed = session.execute(
            update(ScheduledAnnouncement)
            .where(
                ScheduledAnnouncement.event_id == planned.event_id,
                ScheduledAnnouncement.queued_at.is_(None),
            )
            .values(queued_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            continue  # another worker has it
        event = session.get(Event, planned.event_id)
        if event is not None and event.status != "cancelled":
            queued += announce(session, event, now)
    return queued
