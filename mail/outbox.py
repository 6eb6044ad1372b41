"""Queueing emails in the outbox, in the caller's transaction, never twice.

Each row has a unique `dedupe_key`, so queueing the same email again is a no-op:

- confirmation `confirmation:<subscriber>:<UTC hour>`: subscribing (at most one an hour);
- announcement `announcement:<subscriber>:<event>`: `eventfeed announce ID`, or storing a
  new talk of an `auto_announce` series;
- session `session:<subscriber>:<block>` and `session-update:<subscriber>:<block>:<talk>`:
  the same for a talk inside a session or workshop, one email per block (mail.blocks);
- change `change:<subscriber>:<event>:<sequence>`: a material change of an announced talk;
- cancellation `cancellation:<subscriber>:<event>:<sequence>`: an announced talk cancelled;
- reminder `reminder:<subscriber>:<event>:<start epoch>`: `eventfeed send`, once a talk is
  within the subscriber's reminder hours; and `...:revealed` past the reveal moment of a
  `revealed` meeting when the reminder was queued before it (it carries the join details);
- digest `digest:<subscriber>:<daily|weekly>:<day or ISO year-week>`: the worker (or
  `eventfeed send`) from 07:00 in the subscriber's zone, daily or on Mondays, when talks of
  the series followed at that frequency are new or changed since their last digest
  (`DigestedTalk` records each talk's SEQUENCE digested);
- signin `signin:<sign-in link id>`: the organiser workspace's one-time sign-in link (no
  subscriber; the message is built when queued, see `queue_signin`).

Messages are built when they are first claimed for sending (mail.sender) and stored, so
every retry sends the same bytes with the same Message-ID.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, bindparam, exists, insert, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from events import access, accounts, times
from events.config import Settings
from events.db import UTCDateTime
from events.models import (
    TALK_KINDS,
    DigestedTalk,
    Event,
    Outbox,
    Series,
    Subscriber,
    Subscription,
    Topic,
    TopicLink,
)
from events.models.mail import DIGEST_FREQUENCIES
from events.store import Outcome
from feeds import email as mail_email

MAX_REMINDER_HOURS = 168


def _mailable() -> tuple[ColumnElement[bool], ...]:
    """Return the conditions of a subscriber who gets email: confirmed, not left, paused
    or bounced."""
    return (
        Subscriber.confirmed_at.is_not(None),
        Subscriber.unsubscribed_at.is_(None),
        Subscriber.bounced_at.is_(None),
        Subscriber.paused_at.is_(None),
    )


def followers(session: Session, series_id: int) -> list[tuple[Subscriber, Subscription]]:
    """Return the mailable subscribers of a series with their confirmed subscription."""
    query = (
        select(Subscriber, Subscription)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(
            Subscription.series_id == series_id,
            Subscription.confirmed_at.is_not(None),
            *_mailable(),
        )
        .order_by(Subscriber.id)
    )
    return [(subscriber, subscription) for subscriber, subscription in session.execute(query)]


def active_subscribers(session: Session, series_id: int) -> list[Subscriber]:
    """Return confirmed, still-subscribed, not paused or bounced subscribers of a series."""
    return [subscriber for subscriber, _ in followers(session, series_id)]


def _topics_of(session: Session, event: Event) -> list[int]:
    """Return the topics a talk of a public series is listed under (its own and its series',
    with their parents: a topic page lists its subtopics' talks too)."""
    linked = select(TopicLink.topic_id).where(
        or_(TopicLink.event_id == event.id, TopicLink.series_id == event.series_id)
    )
    query = select(Topic.id, Topic.parent_id).where(
        Topic.id.in_(linked),
        exists().where(Series.id == event.series_id, Series.visibility == "public"),
    )
    found: set[int] = set()
    for topic_id, parent_id in session.execute(query):
        found.add(topic_id)
        if parent_id is not None:
            found.add(parent_id)
    return sorted(found)


Followers = dict[int, tuple[Subscriber, list[Subscription]]]


def talk_followers(session: Session, event: Event) -> Followers:
    """Return the mailable readers of a talk, through its series or its topics, by id: one
    entry per reader, with every subscription that brings them the talk."""
    found: Followers = {}
    for subscriber, subscription in followers(session, event.series_id):
        found.setdefault(subscriber.id, (subscriber, []))[1].append(subscription)
    topic_ids = _topics_of(session, event)
    if topic_ids:
        query = (
            select(Subscriber, Subscription)
            .join(Subscription, Subscription.subscriber_id == Subscriber.id)
            .where(
                Subscription.topic_id.in_(topic_ids),
                Subscription.confirmed_at.is_not(None),
                *_mailable(),
            )
            .order_by(Subscriber.id, Subscription.id)
        )
        for subscriber, subscription in session.execute(query):
            found.setdefault(subscriber.id, (subscriber, []))[1].append(subscription)
    return dict(sorted(found.items()))


def announced_to(session: Session, event: Event) -> list[Subscriber]:
    """Return the readers of a talk who get an email per new talk (any way they follow it
    asks for one; one email however many ways)."""
    return [
        subscriber
        for subscriber, subscriptions in talk_followers(session, event).values()
        if any(s.frequency == "announcement" for s in subscriptions)
    ]


Row = tuple[str, str, Subscriber, str | None, dict[str, Any]]


def queue(session: Session, rows: Iterable[Row], now: datetime) -> int:
    """Add (kind, dedupe_key, subscriber, event_id, payload) rows whose key is new; return count."""
    pending = list(rows)
    if not pending:
        return 0
    keys = [row[1] for row in pending]
    existing: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        existing.update(
            session.scalars(select(Outbox.dedupe_key).where(Outbox.dedupe_key.in_(chunk)))
        )
    values: list[dict[str, Any]] = []
    for kind, key, subscriber, event_id, payload in pending:
        if key in existing:
            continue
        existing.add(key)
        values.append(
            {
                "kind": kind,
                "dedupe_key": key,
                "subscriber_id": subscriber.id,
                "event_id": event_id,
                "recipient": subscriber.email,
                "payload": payload,
                "status": "queued",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    if values:  # one executemany, not an ORM flush of one object per row
        session.execute(insert(Outbox), values)
    return len(values)


def queue_confirmation(session: Session, subscriber: Subscriber, now: datetime) -> int:
    """Queue the double opt-in email (at most one per subscriber per hour)."""
    key = f"confirmation:{subscriber.id}:{now.strftime('%Y%m%d%H')}"
    return queue(session, [("confirmation", key, subscriber, None, {})], now)


def queue_signin(
    session: Session,
    link_id: int,
    address: str,
    signin_url: str,
    settings: Settings,
    now: datetime,
    *,
    invited_to: str = "",
    language: str = "en",
) -> None:
    """Queue an organiser's sign-in (or invitation) email, built now: it has no subscriber.

    `language` (a locale of feeds.i18n.LOCALES) is the page's where it was asked for.
    """
    envelope = mail_email.Envelope.new(settings.mail_from, settings.domain)
    minutes = int(accounts.SIGNIN_LIFETIME.total_seconds() // 60)
    msg = mail_email.signin_email(
        address,
        envelope,
        signin_url=signin_url,
        minutes=minutes,
        invited_to=invited_to,
        language=language,
    )
    key = f"signin:{link_id}"
    session.add(built("signin", key, address, str(msg["Subject"]), msg, envelope.message_id, now))
    session.flush()


def built(
    kind: str,
    key: str,
    address: str,
    subject: str,
    msg: EmailMessage,
    message_id: str,
    now: datetime,
) -> Outbox:
    """Return a queued outbox row for a message built now (for no subscriber, on no talk)."""
    return Outbox(
        kind=kind,
        dedupe_key=key,
        subscriber_id=None,
        event_id=None,  # a talk with emails about it is never deleted
        recipient=address,
        subject=subject,
        payload={},
        message=mail_email.to_bytes(msg),
        message_id=message_id,
        status="queued",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


def announce(session: Session, event: Event, now: datetime) -> int:
    """Queue the announcement of a talk to every active subscriber who wants announcements."""
    session.flush()
    subscribers = announced_to(session, event)
    rows: list[Row] = [
        ("announcement", f"announcement:{s.id}:{event.id}", s, event.id, {}) for s in subscribers
    ]
    return queue(session, rows, now)


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def on_talk_saved(
    session: Session, *, series: Series, event: Event, outcome: Outcome, now: datetime
) -> int:
    """Receive `talk_saved`: queue auto-announcements and change notices."""
    if outcome.action == "created":
        if series.auto_announce and event.status != "cancelled" and event.end_utc > now:
            session.flush()
            return announce(session, event, now)
        return 0
    if not outcome.material or (event.status == "cancelled" and "status" in outcome.previous):
        return 0  # a cancellation: on_talk_cancelled tells the readers
    return _follow_up(session, series, event, outcome, now)


def on_talk_cancelled(
    session: Session, *, series: Series, event: Event, outcome: Outcome, now: datetime
) -> int:
    """Receive `talk_cancelled`: queue cancellation notices (and drop unsent announcements)."""
    return _follow_up(session, series, event, outcome, now)


def _follow_up(
    session: Session, series: Series, event: Event, outcome: Outcome, now: datetime
) -> int:
    """Queue a change or cancellation notice to everyone the talk was announced to."""
    session.flush()
    announced = list(
        session.scalars(
            select(Outbox).where(
                Outbox.kind == "announcement",
                Outbox.event_id == event.id,
                Outbox.status != "skipped",
            )
        )
    )
    if event.parent_id is not None:
        announced += _listed_in_block(session, event)
    if not announced:
        return 0
    kind = "cancellation" if event.status == "cancelled" else "change"
    previous = {name: _json_value(value) for name, value in outcome.previous.items()}
    # An unsent change notice is superseded: the new one says what the reader last saw.
    earlier: dict[int, dict[str, Any]] = {}
    for stale in session.scalars(
        select(Outbox).where(
            Outbox.kind == "change", Outbox.event_id == event.id, Outbox.status == "queued"
        )
    ):
        stale.status, stale.last_error = "skipped", "superseded by a newer change"
        earlier[stale.subscriber_id or -1] = dict(stale.payload.get("previous", {}))
    active = talk_followers(session, event)
    rows: list[Row] = []
    for row in announced:
        found = active.get(row.subscriber_id or -1)
        if found is None:
            continue
        subscriber, subscriptions = found
        if row.status == "queued" and row.kind == "announcement":
            # Not sent yet: the announcement will show the current state when it is built.
            if kind == "cancellation":
                row.status = "skipped"
                row.last_error = "talk cancelled before the announcement was sent"
            continue
        if kind == "cancellation" and not any(s.cancellations for s in subscriptions):
            continue
        key = f"{kind}:{subscriber.id}:{event.id}:{event.sequence}"
        seen = {**previous, **earlier.get(subscriber.id, {})}
        rows.append((kind, key, subscriber, event.id, {"previous": seen}))
    return queue(session, rows, now)


def _listed_in_block(session: Session, event: Event) -> list[Outbox]:
    """Return the built rows of its session's announcement (mail.blocks) that listed a talk."""
    query = select(Outbox).where(
        Outbox.kind.in_(("session", "session-update")),
        Outbox.event_id == event.parent_id,
        Outbox.status != "skipped",
    )
    # Built rows name their talks (kept when old bytes are pruned); a built row counts as
    # announced even while a retry is queued.
    return [row for row in session.scalars(query) if event.id in row.payload.get("talks", [])]


def skip_pending(
    session: Session, subscriber: Subscriber, reason: str, *, series_id: int | None = None
) -> None:
    """Mark a subscriber's queued emails (about one series' talks) as skipped."""
    query = update(Outbox).where(Outbox.subscriber_id == subscriber.id, Outbox.status == "queued")
    if series_id is not None:
        talks = select(Event.id).where(Event.series_id == series_id)
        query = query.where(Outbox.event_id.in_(talks))
    session.execute(query.values(status="skipped", last_error=reason))


def _subscribed_events(
    session: Session, subscriber_ids: list[int], start: datetime, end: datetime
) -> list[tuple[int, Event]]:
    return [(sid, event) for sid, _, event in _followed_events(session, subscriber_ids, start, end)]


def _followed_events(
    session: Session, subscriber_ids: list[int], start: datetime, end: datetime
) -> list[tuple[int, Subscription, Event]]:
    query = (
        select(Subscription.subscriber_id, Subscription, Event)
        .join(Event, Event.series_id == Subscription.series_id)
        .where(
            Subscription.subscriber_id.in_(subscriber_ids),
            Subscription.confirmed_at.is_not(None),
            Event.status != "cancelled",
            Event.start_utc >= start,
            Event.start_utc < end,
        )
        .order_by(Event.start_utc, Event.id)
    )
    found = [(sid, sub, event) for sid, sub, event in session.execute(query)]
    by_topic = (
        select(Subscription.subscriber_id, Subscription, Event)
        .select_from(Subscription)
        .join(Event, _about_topic())
        .where(
            Subscription.subscriber_id.in_(subscriber_ids),
            Subscription.confirmed_at.is_not(None),
            Subscription.topic_id.is_not(None),
            Event.status != "cancelled",
            Event.start_utc >= start,
            Event.start_utc < end,
        )
        .order_by(Event.start_utc, Event.id)
    )
    found += [(sid, sub, event) for sid, sub, event in session.execute(by_topic)]
    return found


def _about_topic() -> ColumnElement[bool]:
    """Return the condition that a talk of a public series is listed under the followed
    topic (directly, through its series, or through a subtopic)."""
    child = aliased(Topic)
    return and_(
        exists().where(Series.id == Event.series_id, Series.visibility == "public"),
        exists()
        .where(child.id == TopicLink.topic_id)
        .where(or_(child.id == Subscription.topic_id, child.parent_id == Subscription.topic_id))
        .where(or_(TopicLink.event_id == Event.id, TopicLink.series_id == Event.series_id)),
    )


def _active(session: Session) -> list[Subscriber]:
    query = select(Subscriber).where(*_mailable())
    return list(session.scalars(query.order_by(Subscriber.id)))


def queue_reminders(session: Session, now: datetime) -> int:
    """Queue reminders of talks starting within the reminder hours of each subscription.

    A talk whose meeting details are `revealed` after the reminder was due gets a second
    reminder at the reveal moment, carrying them (the first one could not).
    """
    subscribers = {s.id: s for s in _active(session)}
    if not subscribers:
        return 0
    horizon = now + timedelta(hours=MAX_REMINDER_HOURS)
    rows: list[Row] = []
    revealed: list[tuple[Row, datetime]] = []
    # One reminder per talk, at the longest of the ways the reader follows it.
    longest: dict[tuple[int, str], tuple[int, Event]] = {}
    for sid, subscription, event in _followed_events(session, list(subscribers), now, horizon):
        hours = max(subscription.reminder_hours, longest.get((sid, event.id), (0, event))[0])
        longest[(sid, event.id)] = (hours, event)
    for (sid, _), (hours, event) in sorted(longest.items(), key=lambda i: i[1][1].start_utc):
        subscriber = subscribers[sid]
        if hours > 0 and event.start_utc <= now + timedelta(hours=hours):
            key = f"reminder:{sid}:{event.id}:{int(event.start_utc.timestamp())}"
            row: Row = ("reminder", key, subscriber, event.id, {})
            reveal = access.reveal_at(event.meeting, event.start_utc)
            if reveal is not None and reveal <= now:
                revealed.append((row, reveal))
            else:
                rows.append(row)
    # Past the reveal moment: a reminder queued before it gets a follow-up with the details;
    # one not queued yet goes out now, details included.
    queued = _queued_at(session, [row[1] for row, _ in revealed])
    for (kind, key, subscriber, event_id, payload), reveal in revealed:
        first = queued.get(key)
        final = key if first is None or first >= reveal else f"{key}:revealed"
        rows.append((kind, final, subscriber, event_id, payload))
    return queue(session, rows, now)


def _queued_at(session: Session, keys: list[str]) -> dict[str, datetime]:
    """Return when each of the outbox keys among `keys` was queued."""
    found: dict[str, datetime] = {}
    for start in range(0, len(keys), 500):
        query = select(Outbox.dedupe_key, Outbox.created_at).where(
            Outbox.dedupe_key.in_(keys[start : start + 500])
        )
        found.update({key: times.utc(at) for key, at in session.execute(query)})
    return found


DIGEST_HOUR = 7  # digests go out at 07:00 in the reader's zone
DIGEST_GRACE_HOURS = 3  # a worker that was down sends them until 10:00; later, next time
DIGEST_WEEKDAY = 0  # weekly digests on Mondays
DIGEST_MAX_TALKS = 100  # the earliest ones; the rest wait for the next digest
DIGEST_CHUNK = 2000  # readers per query (on PostgreSQL, a scan of subscription per chunk)


def digest_period(now: datetime, zone: str, frequency: str) -> str | None:
    """Return the period a digest due now belongs to ('2026-12-01', '2026-W49'), or None.

    Daily digests are due at 07:00 every day in the reader's zone, weekly ones at 07:00 on
    Mondays; a worker that was down sends them until `DIGEST_GRACE_HOURS` later, once.
    Missed altogether, their talks wait for the next digest (nothing is marked digested).
    """
    local = times.local(now, zone)
    if not DIGEST_HOUR <= local.hour < DIGEST_HOUR + DIGEST_GRACE_HOURS:
        return None
    if frequency == "daily":
        return local.date().isoformat()
    if frequency == "weekly" and local.weekday() == DIGEST_WEEKDAY:
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return None


class _Candidate(NamedTuple):
    """A digest reader's upcoming talk, with how they follow it and the sequence digested."""

    subscriber_id: int
    frequency: str
    cancellations: bool
    event: Event
    seen: int | None


def _digest_candidates(
    session: Session, subscriber_ids: list[int], now: datetime
) -> list[_Candidate]:
    """Return the digest readers' upcoming talks not yet digested at their current sequence.

    Columns, not entities, per (reader, talk): each talk is loaded once.
    """
    digested = aliased(DigestedTalk)
    columns = (
        Subscription.subscriber_id,
        Subscription.frequency,
        Subscription.cancellations,
        Event.id,
        digested.sequence,
    )
    seen_at = and_(
        digested.subscriber_id == Subscription.subscriber_id, digested.event_id == Event.id
    )
    due = (
        Subscription.subscriber_id.in_(subscriber_ids),
        Subscription.confirmed_at.is_not(None),
        Subscription.frequency.in_(DIGEST_FREQUENCIES),
        Event.kind.in_(TALK_KINDS),
        Event.end_utc > now,
        or_(digested.sequence.is_(None), digested.sequence < Event.sequence),
    )
    query = (
        select(*columns)
        .join(Event, Event.series_id == Subscription.series_id)
        .outerjoin(digested, seen_at)
        .where(*due)
        .order_by(Event.start_utc, Event.id)
    )
    found: list[tuple[int, str, bool, str, int | None]]
    found = [(a, b, c, d, e) for a, b, c, d, e in session.execute(query)]
    by_topic = (
        select(*columns)
        .select_from(Subscription)
        .join(Event, _about_topic())
        .outerjoin(digested, seen_at)
        .where(Subscription.topic_id.is_not(None), *due)
        .order_by(Event.start_utc, Event.id)
    )
    found += [(a, b, c, d, e) for a, b, c, d, e in session.execute(by_topic)]
    ids = sorted({row[3] for row in found})
    events: dict[str, Event] = {}
    for start in range(0, len(ids), 500):
        chunk = select(Event).where(Event.id.in_(ids[start : start + 500]))
        events.update((event.id, event) for event in session.scalars(chunk))
    rows = [
        _Candidate(sid, frequency, cancellations, events[eid], seen)
        for sid, frequency, cancellations, eid, seen in found
    ]
    return sorted(rows, key=lambda row: (row.event.start_utc, row.event.id))


def _announced(
    session: Session, subscriber_ids: list[int], event_ids: set[str]
) -> set[tuple[int, str]]:
    """Return the (subscriber, talk) pairs of these that had an announcement queued."""
    if not event_ids:
        return set()
    query = select(Outbox.subscriber_id, Outbox.event_id).where(
        Outbox.kind == "announcement",
        Outbox.status != "skipped",
        Outbox.subscriber_id.in_(subscriber_ids),
        Outbox.event_id.in_(sorted(event_ids)),
    )
    return {(sid, eid) for sid, eid in session.execute(query) if sid is not None and eid}


def queue_digests(session: Session, now: datetime) -> int:
    """Queue the daily and weekly digests due now: per subscriber and period, the new and
    changed talks of the series followed at that frequency; nothing when nothing is new."""
    # Per zone, not per reader: only the readers of zones where a digest is due are loaded.
    zones = session.scalars(select(Subscriber.timezone).where(*_mailable()).distinct())
    by_zone: dict[str, dict[str, str]] = {}
    for zone in zones:
        periods = {
            frequency: period
            for frequency in DIGEST_FREQUENCIES
            if (period := digest_period(now, zone, frequency)) is not None
        }
        if periods:
            by_zone[zone] = periods
    if not by_zone:
        return 0
    readers = select(Subscriber).where(*_mailable(), Subscriber.timezone.in_(sorted(by_zone)))
    due: dict[int, tuple[Subscriber, dict[str, str]]] = {
        subscriber.id: (subscriber, by_zone[subscriber.timezone])
        for subscriber in session.scalars(readers.order_by(Subscriber.id))
    }
    rows: list[Row] = []
    marks: dict[str, list[tuple[int, Event, bool]]] = {}
    ids = list(due)
    for start in range(0, len(ids), DIGEST_CHUNK):
        found: dict[tuple[int, str], list[tuple[Event, int | None]]] = {}
        batch = ids[start : start + DIGEST_CHUNK]
        candidates = _digest_candidates(session, batch, now)
        # One email per talk however it is followed: a talk announced to the reader (they
        # follow it another way too, for every talk) stays out of their digests.
        taken = _announced(session, batch, {c.event.id for c in candidates})
        for sid, frequency, cancellations, event, seen in candidates:
            if frequency not in due[sid][1] or (sid, event.id) in taken:
                continue
            if event.status == "cancelled" and (seen is None or not cancellations):
                continue  # never announced to this reader, or they hid cancellations
            talks = found.setdefault((sid, frequency), [])
            if len(talks) < DIGEST_MAX_TALKS:
                talks.append((event, seen))
                taken.add((sid, event.id))
        for (sid, frequency), talks in found.items():
            subscriber, periods = due[sid]
            key = f"digest:{sid}:{frequency}:{periods[frequency]}"
            payload = {
                "frequency": frequency,
                "day": times.local_date(now, subscriber.timezone).isoformat(),
                "event_ids": [e.id for e, _ in talks],
                "changed": [e.id for e, seen in talks if seen is not None],
            }
            rows.append(("digest", key, subscriber, None, payload))
            marks[key] = [(sid, e, seen is not None) for e, seen in talks]
    keys = [row[1] for row in rows]
    existing: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        existing.update(
            session.scalars(select(Outbox.dedupe_key).where(Outbox.dedupe_key.in_(chunk)))
        )
    fresh = [row for row in rows if row[1] not in existing]
    _mark_digested(session, [talk for row in fresh for talk in marks[row[1]]], now)
    return queue(session, fresh, now)


def _mark_digested(session: Session, talks: list[tuple[int, Event, bool]], now: datetime) -> None:
    """Record that these talks, at their current sequence, went into a digest (one
    statement for the new records, one for those updated)."""
    values = [
        {"subscriber_id": sid, "event_id": event.id, "sequence": event.sequence, "digested_at": now}
        for sid, event, _ in talks
    ]
    seen = [value for value, (_, _, again) in zip(values, talks, strict=True) if again]
    new = [value for value, (_, _, again) in zip(values, talks, strict=True) if not again]
    if session.connection().dialect.name == "postgresql":
        # One statement each over arrays: an executemany of 10,000s of rows is round trips.
        for rows, statement in ((seen, _PG_UPDATE_DIGESTED), (new, _PG_INSERT_DIGESTED)):
            if rows:
                session.execute(
                    statement,
                    {
                        "sids": [row["subscriber_id"] for row in rows],
                        "eids": [row["event_id"] for row in rows],
                        "seqs": [row["sequence"] for row in rows],
                        "now": now,
                    },
                )
        return
    if seen:  # by primary key, executemany
        session.execute(update(DigestedTalk), seen)
    if new:
        session.execute(insert(DigestedTalk), new)


_PG_ROWS = (
    "unnest(CAST(:sids AS integer[]), CAST(:eids AS varchar[]), CAST(:seqs AS integer[]))"
    " AS t(sid, eid, seq)"
)
_PG_INSERT_DIGESTED = text(
    "INSERT INTO digested_talk (subscriber_id, event_id, sequence, digested_at)"
    f" SELECT sid, eid, seq, :now FROM {_PG_ROWS}"
).bindparams(bindparam("now", type_=UTCDateTime()))
_PG_UPDATE_DIGESTED = text(
    f"UPDATE digested_talk SET sequence = t.seq, digested_at = :now FROM {_PG_ROWS}"
    " WHERE digested_talk.subscriber_id = t.sid AND digested_talk.event_id = t.eid"
).bindparams(bindparam("now", type_=UTCDateTime()))
