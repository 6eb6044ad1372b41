"""Settings read once from the environment, validated at start-up, immutable afterwards.

| variable | default | meaning |
|---|---|---|
| EVENTFEED_DATABASE_URL | sqlite:///<instance>/eventfeed.sqlite3 | SQLAlchemy URL (PostgreSQL: postgresql+psycopg://...) |
| EVENTFEED_INSTANCE_PATH | ./instance | folder for the SQLite file and other local state |
| EVENTFEED_BASE_URL | http://localhost:5000 | absolute links; its host is the domain of event UIDs |
| EVENTFEED_SECRET_KEY | random per process | signs cookies and forms; set it in production |
| EVENTFEED_CANCELLED_RETENTION_DAYS | 30 | days a cancelled talk stays in feeds after its start |
| EVENTFEED_FEED_WINDOW_DAYS | 90 | how far back site-wide and personal feeds reach |
| EVENTFEED_FEED_MAX_EVENTS | 1000 | cap on the number of events in one feed |
| EVENTFEED_SMTP_URL | smtp://localhost:25 | smtp:// (plain), smtp+starttls://, smtps:// with user:pass@ |
| EVENTFEED_MAIL_FROM | EventFeed <noreply@HOST> | sender of emails |
| EVENTFEED_MAX_BODY_BYTES | 5242880 | largest request body accepted (413 above) |
| EVENTFEED_API_WRITES_PER_MINUTE | 120 | API writes per token per minute (429 above) |
| EVENTFEED_API_IMPORTS_PER_HOUR | 30 | API imports per token per hour (429 above) |
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

from events.errors import ConfigError

PREFIX = "EVENTFEED_"


@dataclass(frozen=True)
class Settings:
    """The whole configuration of one EventFeed process."""

    database_url: str = ""
    instance_path: str = "instance"
    base_url: str = "http://localhost:5000"
    secret_key: str = ""
    cancelled_retention_days: int = 30
    feed_window_days: int = 90
    feed_max_events: int = 1000
    smtp_url: str = "smtp://localhost:25"
    mail_from: str = ""
    max_body_bytes: int = 5 * 1024 * 1024
    api_writes_per_minute: int = 120
    api_imports_per_hour: int = 30

    @property
    def domain(self) -> str:
        """Return the host of the base URL, the domain of event UIDs."""
        return urlsplit(self.base_url).hostname or "localhost"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read EVENTFEED_* variables, apply overrides, fill defaults and validate."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = env.get(PREFIX + field.name.upper())
            if raw is None or raw == "":
                continue
            if field.type == "int":
                try:
                    values[field.name] = int(raw)
                except ValueError as exc:
                    raise ConfigError(
                        f"{PREFIX}{field.name.upper()} must be a whole number, not {raw!r}"
                    ) from exc
            else:
                values[field.name] = raw
        values.update({k.lower(): v for k, v in overrides.items()})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**values).completed()  # type: ignore[arg-type]

    def completed(self) -> Settings:
        """Fill derived defaults and validate every value."""
        settings = self
        if not settings.database_url:
            db_file = Path(settings.instance_path).resolve() / "eventfeed.sqlite3"
            settings = replace(settings, database_url=f"sqlite:///{db_file}")
        if not settings.secret_key:
            settings = replace(settings, secret_key=secrets.token_hex(32))
        if not settings.mail_from:
            settings = replace(settings, mail_from=f"EventFeed <noreply@{settings.domain}>")
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise ConfigError for the first invalid value."""
        base = urlsplit(self.base_url)
        if base.scheme not in ("http", "https") or not base.hostname:
            raise ConfigError(f"EVENTFEED_BASE_URL must be an http(s) URL, not {self.base_url!r}")
        if not self.database_url.startswith(("sqlite:", "postgresql")):
            raise ConfigError(
                "EVENTFEED_DATABASE_URL must be sqlite:///... or postgresql+psycopg://..., "
                f"not {self.database_url!r}"
            )
        smtp = urlsplit(self.smtp_url)
        if smtp.scheme not in ("smtp", "smtp+starttls", "smtps") or not smtp.hostname:
            raise ConfigError(
                "EVENTFEED_SMTP_URL must be smtp://, smtp+starttls:// or smtps://HOST[:PORT], "
                f"not {self.smtp_url!r}"
            )
        for name in (
            "cancelled_retention_days",
            "feed_window_days",
            "feed_max_events",
            "max_body_bytes",
            "api_writes_per_minute",
            "api_imports_per_hour",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{PREFIX}{name.upper()} must not be negative")
