"""Workspace imports applied in the background: queued by the web, run by `eventfeed worker`.

A job holds the uploaded bytes (checked and authorised when "Apply" was pressed). A worker
claims one (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one writer at a time, and the claim
is a compare-and-set on the row), re-parses the bytes and applies them in ONE transaction,
which also marks the job done with its summary: the talks and the "done" status commit
together, or neither does.

Progress: while applying, the worker writes `done`/`total` (and a heartbeat) every
`importer.PROGRESS_EVERY` talks through a separate short transaction on its own connection,
so the counts are honest (talks checked so far) but say nothing is written yet. On SQLite a
second writer would wait for the import's own lock, so there the counts only move by phase
(0 while applying, all at the end).

A worker killed mid-job: its transaction dies with its connection, nothing is written, and
the job stays "running" with a heartbeat that stops moving; after `STALE` another worker
claims it again from scratch. After `MAX_ATTEMPTS` claims it is marked failed instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from events import history, importer
from events.errors import EventFeedError
from events.models import ImportJob

STALE = timedelta(minutes=10)
MAX_ATTEMPTS = 3


def queue(
    session: Session,
    *,
    series: str,
    organiser_id: int,
    who: str,
    name: str,
    fmt: str,
    raw: bytes,
    cancel_missing: bool,
    total: int,
    now: datetime,
) -> ImportJob:
    """Add a queued job in the caller's transaction and return it (its id set)."""
    job = ImportJob(
        series_slug=series,
        organiser_id=organiser_id,
        who=who,
        name=name,
        format=fmt,
        raw=raw,
        cancel_missing=cancel_missing,
        status="queued",
        done=0,
        total=total,
        attempts=0,
        summary={},
        error="",
        created_at=now,
    )
    session.add(job)
    session.flush()
    return job


def status(job: ImportJob) -> dict[str, Any]:
    """Return a job's state as JSON for the progress endpoint."""
    return {
        "id": job.id,
        "status": job.status,
        "done": job.done,
        "total": job.total,
        "summary": job.summary,
        "error": job.error,
    }


def claim(factory: sessionmaker[Session], now: datetime) -> int | None:
    """Take the oldest queued (or stale running) job; return its id, None when there is none."""
    with factory() as session, session.begin():
        query = (
            select(ImportJob.id, ImportJob.status, ImportJob.attempts)
            .where(
                or_(
                    ImportJob.status == "queued",
                    (ImportJob.status == "running") & (ImportJob.heartbeat < now - STALE),
                )
            )
            .order_by(ImportJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        found = session.execute(query).first()
        if found is None:
            return None
        job_id, was, attempts = found
        if attempts >= MAX_ATTEMPTS:
            session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id)
                .values(
                    status="failed",
                    raw=None,
                    finished_at=now,
                    error=f"The worker stopped {attempts} times while applying this file; "
                    "nothing was imported. Upload it again.",
                )
            )
            return None
        taken = session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.status == was, ImportJob.attempts == attempts)
            .values(status="running", attempts=attempts + 1, heartbeat=now, done=0)
        )
        return job_id if getattr(taken, "rowcount", 0) == 1 else None


def reporter(
    factory: sessionmaker[Session], job_id: int, clock: Callable[[], datetime]
) -> Callable[[int, int], None]:
    """Return `on_progress(done, total)` writing the counts in its own short transaction."""

    def report(done: int, total: int) -> None:
        with factory() as session, session.begin():
            session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id, ImportJob.status == "running")
                .values(done=done, total=total, heartbeat=clock())
            )

    return report


def run(
    factory: sessionmaker[Session], job_id: int, now: datetime, clock: Callable[[], datetime]
) -> str:
    """Apply a claimed job all or nothing; return its final status ('done' or 'failed')."""
    with factory() as session, session.begin():
        job = session.get(ImportJob, job_id)
        if job is None or job.raw is None:
            return "failed"
        name, fmt, raw, slug = job.name, job.format, job.raw, job.series_slug
        cancel, actor = job.cancel_missing, history.Actor(job.who, "browser")
        live = session.get_bind().dialect.name != "sqlite"
    try:
        parsed = importer.parse_bytes(name, raw, fmt, slug, now)
        with factory() as session, session.begin():
            session.info[history.ACTOR_KEY] = actor
            result = importer.apply(
                session,
                parsed,
                now,
                progress=False,
                cancel_missing=cancel,
                on_progress=reporter(factory, job_id, clock) if live else None,
            )
            counts = {**result.events, "cancelled": len(result.cancelled)}
            total = len(parsed.events)
            session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id)
                .values(
                    status="done",
                    done=total,
                    total=total,
                    summary=counts,
                    raw=None,
                    finished_at=clock(),
                )
            )
    except EventFeedError as exc:
        _fail(factory, job_id, f"Nothing was imported: {exc}", clock())
        return "failed"
    return "done"


def _fail(factory: sessionmaker[Session], job_id: int, error: str, now: datetime) -> None:
    with factory() as session, session.begin():
        session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id)
            .values(status="failed", error=error, raw=None, finished_at=now)
        )


def run_next(factory: sessionmaker[Session], now: datetime, clock: Callable[[], datetime]) -> int:
    """Claim and run queued jobs until none is left; return how many ran."""
    ran = 0
    while (job_id := claim(factory, now)) is not None:
        run(factory, job_id, now, clock)
        ran += 1
    return ran
