"""Shared content for topic and listing tests: upcoming days and the Mathematics › PDEs topics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from events import topics


def day(days: int, clock: str = "12:00") -> str:
    """Return `clock` on the (UTC) day `days` from now, as an import writes a talk's start."""
    return (datetime.now(UTC) + timedelta(days=days)).strftime(f"%Y-%m-%d {clock}")


def add_math_topics(session: Session, description: str = "") -> None:
    """Add the topic Mathematics (`math`) and under it Analysis of PDEs (`math-ap`)."""
    topics.add_topic(session, "math", "Mathematics", description=description)
    topics.add_topic(session, "math-ap", "Analysis of PDEs", parent="math")
