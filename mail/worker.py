"""`eventfeed worker`: the long-running mail service.

One loop, any number of copies on one or many machines (they share the outbox through row
leases, `mail.sender.claim`; on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED`):

- **drain the outbox**: claim due rows in batches, send them on `connections` SMTP
  connections kept open between batches (`sender.Mailer`; with more than one, a thread
  each, `sender.send_batch`), record each outcome;
- **scheduled jobs** (`JOBS`), each run by whichever worker gets there first (idempotent by
  the outbox's dedupe keys):
  `due-mail` every minute: queue the reminders that are due;
  `digests` every minute: queue the daily and weekly digests due (07:00 in each reader's
  zone, `mail.outbox.queue_digests`);
  `announcements` every minute: queue the announcements scheduled from the workspace that
  are due (`mail.blocks.queue_scheduled`, each claimed once by a conditional update);
  `prune` hourly: drop the stored bytes of messages sent more than `KEEP_MESSAGES` ago
  (the rows stay, as the record of what was sent);
  `mirror` every minute: refresh the mirrored series that are due (`events.mirror`; each
  mirror is claimed by one worker, so copies share them);
  `imports` on every turn of the loop: apply the workspace imports queued for the
  background (`events.import_jobs`; each job claimed by one worker, all or nothing).

Stopping: `stop()` (SIGTERM or SIGINT in the CLI) lets the message in hand finish, records
every outcome, hands the unsent rest of the batch back to the queue and returns.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from events import import_jobs, mirror
from events.clock import SYSTEM_CLOCK, Clock
from events.config import Settings
from events.models import Outbox
from feeds.email import EventEmails
from mail import blocks, sender

KEEP_MESSAGES = timedelta(days=30)


def queue_due_mail(factory: sessionmaker[Session], now: datetime) -> int:
    """Queue due reminders (two workers at once: the loser's rows exist)."""
    with contextlib.suppress(IntegrityError):
        return sender.queue_reminders(factory, now)
    return 0


def queue_digests(factory: sessionmaker[Session], now: datetime) -> int:
    """Queue the daily and weekly digests due at 07:00 in their readers' zones.

    Several workers may run this at once: a digest's dedupe key (subscriber, frequency,
    period) is unique, so the second transaction to insert it fails and rolls back whole,
    talks-digested records included; its rows already exist.
    """
    with contextlib.suppress(IntegrityError):
        return sender.queue_digests(factory, now)
    return 0


def queue_scheduled(factory: sessionmaker[Session], now: datetime) -> int:
    """Queue the scheduled announcements due (each claimed by one worker; keys dedupe too)."""
    with contextlib.suppress(IntegrityError), factory() as session, session.begin():
        return blocks.queue_scheduled(session, now)
    return 0


def prune(factory: sessionmaker[Session], now: datetime) -> int:
    """Drop the stored message bytes of rows sent before `now - KEEP_MESSAGES`."""
    with factory() as session, session.begin():
        result = session.execute(
            update(Outbox)
            .where(
                Outbox.status == "sent",
                Outbox.sent_at < now - KEEP_MESSAGES,
                Outbox.message.is_not(None),
            )
            .values(message=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def run_imports(factory: sessionmaker[Session], now: datetime) -> int:
    """Apply the workspace imports queued for the background, one at a time."""
    return import_jobs.run_next(factory, now, lambda: datetime.now(now.tzinfo))


@dataclass
class Job:
    """A scheduled job: run `action(factory, now)` every `every`."""

    name: str
    every: timedelta
    action: Callable[[sessionmaker[Session], datetime], int]
    last: datetime | None = None


def default_jobs() -> list[Job]:
    """Return the worker's scheduled jobs."""
    return [
        Job("due-mail", timedelta(minutes=1), queue_due_mail),
        Job("digests", timedelta(minutes=1), queue_digests),
        Job("announcements", timedelta(minutes=1), queue_scheduled),
        Job("prune", timedelta(hours=1), prune),
        Job("imports", timedelta(0), run_imports),
    ]


@dataclass
class Worker:
    """Drain the outbox and run scheduled jobs until stopped."""

    factory: sessionmaker[Session]
    settings: Settings
    clock: Clock = SYSTEM_CLOCK
    batch: int = 100
    idle: float = 5.0
    name: str = field(default_factory=sender.worker_name)
    jobs: list[Job] = field(default_factory=default_jobs)
    log: Callable[[str], None] = lambda line: None
    stopping: threading.Event = field(default_factory=threading.Event)
    total: sender.SendReport = field(default_factory=sender.SendReport)
    mirrors: bool = True  # add the `mirror` job (it needs the settings' fetch limits)
    connections: int = 1  # SMTP connections used at once (sending waits on the server)

    def __post_init__(self) -> None:
        if self.mirrors and all(job.name != "mirror" for job in self.jobs):
            settings = self.settings
            self.jobs.append(
                Job(
                    "mirror",
                    timedelta(minutes=1),
                    lambda factory, now: mirror.refresh_due(factory, now, settings),
                )
            )
        self.emails = EventEmails()  # each talk's email rendered once, for every batch
        self.mailers = [sender.Mailer(self.settings) for _ in range(max(self.connections, 1))]
        self.mailer = self.mailers[0]

    def stop(self) -> None:
        """Ask the worker to stop after the message in hand."""
        self.stopping.set()

    def close(self) -> None:
        """Close the SMTP connections."""
        for mailer in self.mailers:
            mailer.close()

    def run_jobs(self) -> None:
        """Run the scheduled jobs that are due."""
        now = self.clock.now()
        for job in self.jobs:
            if job.last is None or now - job.last >= job.every:
                job.last = now
                done = job.action(self.factory, now)
                if done:
                    self.log(f"{job.name}: {done}")

    def drain(self) -> sender.SendReport:
        """Send batches until nothing is due, the server is unreachable, or stopping."""
        report = sender.SendReport()
        while not self.stopping.is_set():
            found = sender.send_batch(
                self.factory,
                self.settings,
                batch=self.batch,
                now=self.clock.now(),
                worker=self.name,
                progress=False,
                emails=self.emails,
                mailer=self.mailer,
                mailers=self.mailers,
                stop=self.stopping.is_set,
            )
            report.add(found)
            if found.processed:
                self.log(found.summary())
            if found.unreachable or found.processed < self.batch:
                break
        self.total.add(report)
        return report

    def run(self, *, once: bool = False) -> sender.SendReport:
        """Loop: jobs, drain, wait `idle` seconds (woken at once by stop). Return the totals."""
        try:
            while not self.stopping.is_set():
                try:
                    self.run_jobs()
                    report = self.drain()
                except OperationalError as exc:  # the database went away: wait, try again
                    self.log(f"database error: {str(exc.orig or exc).strip().splitlines()[0]}")
                    report = sender.SendReport(unreachable="database")
                if once:
                    break
                # Unreachable server: wait longer (the rows wait their backoff anyway).
                self.stopping.wait(self.idle * (6 if report.unreachable else 1))
        finally:
            self.close()
        return self.total
