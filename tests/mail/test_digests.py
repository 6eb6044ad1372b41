"""Daily and weekly digests: at 07:00 in each reader's zone (across a DST change), only new
and changed talks, nothing when nothing is new, delivered by the worker to a real SMTP server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.clock import SYSTEM_CLOCK, FrozenClock
from events.config import Settings
from events.models import DigestedTalk, Event, Outbox, Subscription
from events.schemas import validate_event
from mail import subscribers
from mail.worker import Worker
from tests.support.mailtools import SmtpServer, text_part


def follow(sessions: sessionmaker[Session], email: str, zone: str, frequency: str) -> None:
    """Add a confirmed reader of lisbon-ml who wants its talks in a digest."""
    with sessions() as session, session.begin():
        found = subscribers.add_confirmed(session, email, ["lisbon-ml"], zone, SYSTEM_CLOCK.now())
        session.flush()
        for subscription in found.subscriptions:
            subscription.frequency, subscription.reminder_hours = frequency, 0


def save(sessions: sessionmaker[Session], event_id: str, **fields: str) -> None:
    """Create or update a talk of lisbon-ml."""
    data = {"id": event_id, "title": "Deep networks", **fields}
    with sessions() as session, session.begin():
        series = store.get_series(session, "lisbon-ml")
        record = validate_event(data, store.series_record(series))
        store.upsert_event(session, series, record, SYSTEM_CLOCK.now())


def tick(worker: Worker, clock: FrozenClock, at: datetime) -> None:
    """Move the clock to `at` and run one worker loop (due jobs, then the outbox)."""
    clock.instant = at
    worker.run(once=True)
    worker.stopping.clear()


def digests(smtp: SmtpServer) -> list[tuple[str, str, str]]:
    """Return (recipient, subject, text) of the digests received."""
    return [
        (str(m["To"]), str(m["Subject"]), text_part(m).replace("\r\n", "\n"))
        for m in smtp.inbox.messages
        if "digest" in str(m["Subject"])
    ]


def test_daily_digest_at_seven_in_shanghai_and_in_lisbon_only_new_or_changed(
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    make_event(id="t1", title="Deep networks", start="2026-12-20 12:00", end="2026-12-20 13:00")
    follow(sessions, "sh@example.cn", "Asia/Shanghai", "daily")
    follow(sessions, "li@example.pt", "Europe/Lisbon", "daily")
    clock = FrozenClock(datetime(2026, 12, 1, 22, 59, tzinfo=UTC))  # 06:59 in Shanghai
    worker = Worker(sessions, mail_settings, clock, idle=0)
    tick(worker, clock, clock.instant)
    assert digests(smtp) == []
    tick(worker, clock, datetime(2026, 12, 1, 23, 0, tzinfo=UTC))  # 07:00 in Shanghai
    assert [(to, subject) for to, subject, _ in digests(smtp)] == [
        ("sh@example.cn", "Daily digest, Wed 02 Dec 2026: 1 new or changed talk")
    ]
    text = digests(smtp)[0][2]
    assert "Sun 20 Dec 2026\n---" in text  # grouped by the reader's day
    assert "When: Sun 20 Dec 2026, 12:00–13:00 Lisbon time (20:00–21:00 Beijing time)" in text
    assert "Add to calendar: https://events.example.org/events/t1.ics" in text
    tick(worker, clock, datetime(2026, 12, 2, 6, 59, tzinfo=UTC))  # 06:59 in Lisbon
    assert len(digests(smtp)) == 1
    tick(worker, clock, datetime(2026, 12, 2, 7, 0, tzinfo=UTC))  # 07:00 in Lisbon
    assert [to for to, _, _ in digests(smtp)] == ["sh@example.cn", "li@example.pt"]
    # Nothing new: no digest the next day; a title-only edit is not a change either.
    save(sessions, "t1", title="Deep networks, revised", start="2026-12-20 12:00", end="13:00")
    tick(worker, clock, datetime(2026, 12, 2, 23, 0, tzinfo=UTC))
    tick(worker, clock, datetime(2026, 12, 3, 7, 0, tzinfo=UTC))
    assert len(digests(smtp)) == 2
    # A new talk and a moved one: both, the moved one marked as changed, each reader once.
    make_event(id="t2", title="Kernels", start="2026-12-21 09:00", end="2026-12-21 10:00")
    save(sessions, "t1", title="Deep networks, revised", start="2026-12-20 15:00", end="16:00")
    tick(worker, clock, datetime(2026, 12, 3, 23, 0, tzinfo=UTC))
    tick(worker, clock, datetime(2026, 12, 4, 7, 0, tzinfo=UTC))
    tick(worker, clock, datetime(2026, 12, 4, 8, 0, tzinfo=UTC))  # once per day
    later = digests(smtp)[2:]
    assert sorted(to for to, _, _ in later) == ["li@example.pt", "sh@example.cn"]
    for _, subject, body in later:
        assert subject.endswith(": 2 new or changed talks")
        assert "Changed: Lisbon Machine Learning Seminar: Deep networks, revised" in body
        assert "Lisbon Machine Learning Seminar: Kernels" in body
    with sessions() as session:
        keys = session.scalars(select(Outbox.dedupe_key).where(Outbox.kind == "digest")).all()
    assert len(keys) == len(set(keys)) == 4
    # Each talk recorded once per reader, at its current sequence (the moved one updated).
    with sessions() as session:
        query = select(DigestedTalk.sequence, Event.sequence, DigestedTalk.digested_at).join(
            Event, Event.id == DigestedTalk.event_id
        )
        marks = session.execute(query).all()
    assert len(marks) == 4 and all(seen == current for seen, current, _ in marks)
    assert sorted({at for _, _, at in marks}) == [
        datetime(2026, 12, 3, 23, 0, tzinfo=UTC),
        datetime(2026, 12, 4, 7, 0, tzinfo=UTC),
    ]


def test_weekly_digest_on_monday_at_seven_lisbon_time_across_the_dst_change(
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    make_event(id="a", start="2027-04-10 12:00", end="2027-04-10 13:00")
    follow(sessions, "li@example.pt", "Europe/Lisbon", "weekly")
    follow(sessions, "each@example.pt", "Europe/Lisbon", "announcement")
    clock = FrozenClock(datetime(2027, 3, 22, 6, 59, tzinfo=UTC))  # Monday 06:59 WET
    worker = Worker(sessions, mail_settings, clock, idle=0)
    tick(worker, clock, clock.instant)
    assert digests(smtp) == []
    tick(worker, clock, datetime(2027, 3, 22, 7, 0, tzinfo=UTC))  # 07:00 WET = 07:00 UTC
    assert [s for _, s, _ in digests(smtp)] == [
        "Weekly digest, Mon 22 Mar 2027: 1 new or changed talk"
    ]
    make_event(id="b", start="2027-04-11 12:00", end="2027-04-11 13:00")
    tick(worker, clock, datetime(2027, 3, 23, 7, 0, tzinfo=UTC))  # Tuesday: not a digest day
    assert len(digests(smtp)) == 1
    # Clocks go forward on Sunday 28 March: Monday 07:00 WEST is 06:00 UTC.
    tick(worker, clock, datetime(2027, 3, 29, 5, 59, tzinfo=UTC))
    assert len(digests(smtp)) == 1
    tick(worker, clock, datetime(2027, 3, 29, 6, 0, tzinfo=UTC))
    assert [(to, s) for to, s, _ in digests(smtp)][1:] == [
        ("li@example.pt", "Weekly digest, Mon 29 Mar 2027: 1 new or changed talk")
    ]
    assert "/events/b.ics" in digests(smtp)[1][2] and "/events/a.ics" not in digests(smtp)[1][2]
    with sessions() as session:
        kinds = session.execute(select(Outbox.recipient, Outbox.kind)).all()
        assert ("each@example.pt", "digest") not in kinds
        assert session.scalars(select(Subscription.frequency)).all()
