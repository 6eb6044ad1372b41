"""Exception hierarchy: every error a user can cause carries a one-line message."""

from __future__ import annotations


class EventFeedError(Exception):
    """Base of every error the CLI reports as one line (exit code 1)."""


class ConfigError(EventFeedError):
    """The configuration read from the environment is invalid."""


class TimeError(EventFeedError, ValueError):
    """A time, a zone or an interval is invalid."""


class UnknownTimezone(TimeError):
    """A timezone name that is neither an IANA zone nor a known label."""


class NonexistentLocalTime(TimeError):
    """A local wall time skipped by a DST change."""


class InvalidRecord(EventFeedError, ValueError):
    """A record failed validation; `errors` lists (field, message) pairs."""

    def __init__(self, where: str, errors: list[tuple[str, str]]) -> None:
        self.where = where
        self.errors = errors
        detail = "; ".join(f"field '{field}': {message}" for field, message in errors)
        super().__init__(f"{where}: {detail}" if where else detail)


class ImportFailed(EventFeedError):
    """An import was aborted; nothing was written."""


class NotFound(EventFeedError, LookupError):
    """An unknown series slug or event id."""


class StaleRecord(EventFeedError):
    """A write was based on a version of a record that is no longer the current one."""


class Conflict(EventFeedError):
    """A write collided with a concurrent one and could not be completed; retry it."""
