"""A fixed-window rate limiter stored in the database, so every worker process shares it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from events.models import RateWindow


@dataclass(frozen=True)
class Decision:
    """The outcome of one hit: allowed or not, and seconds until the window resets."""

    allowed: bool
    count: int
    limit: int
    retry_after: int


def window_of(now: datetime, period: int) -> datetime:
    """Return the start of the fixed window of `period` seconds that contains `now`."""
    seconds = int(now.timestamp())
    return datetime.fromtimestamp(seconds - seconds % period, UTC)


def hit(
    factory: sessionmaker[Session], key: str, limit: int, period: int, now: datetime
) -> Decision:
    """Count one hit of `key` in its own transaction; refuse beyond `limit` per window."""
    start = window_of(now, period)
    key = key[:200]
    for _attempt in range(3):
        try:
            with factory() as session, session.begin():
                count = _increment(session, key, start)
                if count is None:
                    session.execute(
                        delete(RateWindow).where(
                            RateWindow.key == key, RateWindow.window_start < start
                        )
                    )
                    session.add(RateWindow(key=key, window_start=start, hits=1))
                    count = 1
            break
        except IntegrityError:  # another worker created the window first: count again
            continue
    else:  # pragma: no cover - three lost races in a row
        count = limit + 1
    reset = start + timedelta(seconds=period)
    retry = max(1, int((reset - now).total_seconds() + 0.999))
    return Decision(count <= limit, count, limit, retry)


def _increment(session: Session, key: str, start: datetime) -> int | None:
    result = session.execute(
        update(RateWindow)
        .where(RateWindow.key == key, RateWindow.window_start == start)
        .values(hits=RateWindow.hits + 1)
        .returning(RateWindow.hits)
    )
    row = result.first()
    return None if row is None else int(row[0])
