"""The one source of the current instant: a clock object that tests can freeze.

Code that needs "now" receives a `Clock` (the web app keeps one in its state, the CLI
uses the app's) or an instant computed from it; nothing reads the system time elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current instant."""

    def now(self) -> datetime:
        """Return the current instant, aware, in UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current instant, aware, in UTC."""
        return datetime.now(UTC)


@dataclass
class FrozenClock:
    """A clock that stands still until moved (for tests and reproducible runs)."""

    instant: datetime

    def __post_init__(self) -> None:
        if self.instant.tzinfo is None:
            raise ValueError("FrozenClock needs an aware instant")
        self.instant = self.instant.astimezone(UTC)

    def now(self) -> datetime:
        """Return the frozen instant."""
        return self.instant

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (or back, with a negative delta)."""
        self.instant += delta


SYSTEM_CLOCK: Clock = SystemClock()
