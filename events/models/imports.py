"""Table of workspace imports applied in the background by `eventfeed worker`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from events.db import Base, UTCDateTime

IMPORT_JOB_STATUSES = ("queued", "running", "done", "failed")


class ImportJob(Base):
    """One uploaded file to apply all or nothing: its bytes, who asked, progress and outcome.

    `raw` is dropped once the job ends; `summary` holds the created/updated/unchanged/cancelled
    counts of a finished job, `error` the reason a job failed (nothing written then).
    """

    __tablename__ = "import_job"
    __table_args__ = (Index("ix_import_job_status", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_slug: Mapped[str] = mapped_column(String(100))
    organiser_id: Mapped[int] = mapped_column(Integer)
    who: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(8))
    raw: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    cancel_missing: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(8), default="queued")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
