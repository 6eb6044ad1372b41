"""Settings read once from the environment, validated at start-up, immutable afterwards.

| variable | default | meaning |
|---|---|---|
| EVENTFEED_MODE | production | production, development or demo (see below) |
| EVENTFEED_DATABASE_URL | sqlite:///<instance>/eventfeed.sqlite3 | SQLAlchemy URL (PostgreSQL: postgresql+psycopg://...) |
| EVENTFEED_INSTANCE_PATH | ./instance | folder for the SQLite file and other local state |
| EVENTFEED_BASE_URL | http://localhost:5000 | absolute links; its host is the domain of event UIDs |
| EVENTFEED_SECRET_KEY | required in production | signs cookies and forms; the same in every worker |
| EVENTFEED_CANCELLED_RETENTION_DAYS | 30 | days a cancelled talk stays in feeds after its start |
| EVENTFEED_FEED_WINDOW_DAYS | 90 | how far back site-wide and personal feeds reach |
| EVENTFEED_FEED_MAX_EVENTS | 1000 | cap on the number of events in one feed |
| EVENTFEED_SMTP_URL | smtp://localhost:25 | smtp:// (plain), smtp+starttls://, smtps:// with user:pass@ |
| EVENTFEED_MAIL_FROM | EventFeed <noreply@HOST> | sender of emails |
| EVENTFEED_DKIM_KEY_FILE | (none) | PEM RSA private key: sign every email with DKIM (d= the sender's domain) |
| EVENTFEED_DKIM_SELECTOR | eventfeed | DKIM selector: publish the public key at SELECTOR._domainkey.DOMAIN |
| EVENTFEED_MAIL_CATCH | on in development/demo without an SMTP URL, else off | keep emails in the outbox (read them at /dev/mail) instead of sending them |
| EVENTFEED_MAX_BODY_BYTES | 5242880 | largest request body accepted (413 above) |
| EVENTFEED_API_WRITES_PER_MINUTE | 120 | API writes per token per minute (429 above) |
| EVENTFEED_API_IMPORTS_PER_HOUR | 30 | API imports per token per hour (429 above) |
| EVENTFEED_WARM_AFTER_EDIT | true | after a web or API edit, rebuild the stored feeds and pages that show it (those readers asked for before) once the response is sent (web.warm) |
| EVENTFEED_WARM_POLL_SECONDS | 2 | how often each web process (with EVENTFEED_WARM_AFTER_EDIT on) reads the series' change stamps and refreshes, as after an edit, the series other processes changed (the worker's imports and mirrors, `eventfeed import`, other web nodes, SQL); 0: never |
| EVENTFEED_MIRROR_EVERY_MINUTES | 60 | how often the worker refreshes a mirrored series (failures back off up to 8 times longer) |
| EVENTFEED_MIRROR_TIMEOUT_SECONDS | 10 | timeout of each connect and read of a mirror fetch (and 3 times that for the whole fetch) |
| EVENTFEED_MIRROR_MAX_BYTES | 5242880 | largest upstream calendar a mirror accepts |
| EVENTFEED_MIRROR_ALLOWED_NETWORKS | (none) | comma-separated networks (e.g. `127.0.0.0/8,10.1.0.0/16`) a mirror may fetch from although private, loopback or link-local; by default every such address is refused |

Modes: `production` refuses to start without EVENTFEED_SECRET_KEY (a random key per
process would break sessions and forms across workers). `development` and `demo` (set by
`eventfeed demo`) create a key once and keep it in `<instance>/secret_key`, so every
process of that instance shares it; there, unless EVENTFEED_SMTP_URL is set, emails are
caught (marked sent, kept in the outbox and shown at `/dev/mail`), never sent. Production
never catches mail (EVENTFEED_MAIL_CATCH=true is refused there).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from events.errors import ConfigError

PREFIX = "EVENTFEED_"
SECRET_FILE = "secret_key"
Mode = Literal["production", "development", "demo"]
IPNetwork = IPv4Network | IPv6Network


class Settings(BaseSettings):
    """The whole configuration of one EventFeed process."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="forbid")

    mode: Mode = "production"
    database_url: str = ""
    instance_path: str = "instance"
    base_url: str = "http://localhost:5000"
    secret_key: str = ""
    cancelled_retention_days: int = Field(default=30, ge=0)
    feed_window_days: int = Field(default=90, ge=0)
    feed_max_events: int = Field(default=1000, ge=0)
    smtp_url: str = "smtp://localhost:25"
    mail_from: str = ""
    mail_catch: bool | None = None
    dkim_key_file: str = ""
    dkim_selector: str = "eventfeed"
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=0)
    api_writes_per_minute: int = Field(default=120, ge=0)
    api_imports_per_hour: int = Field(default=30, ge=0)
    # Workspace imports with more talks than this are applied by `eventfeed worker`.
    import_background_talks: int = Field(default=2000, ge=0)
    # Who may create an organiser account by signing in: anyone ("open") or only people
    # an admin or a series owner invited ("invite"; `eventfeed organiser add` always works).
    organiser_signup: Literal["open", "invite"] = "open"
    signin_per_address_per_hour: int = Field(default=5, ge=0)
    signin_per_ip_per_hour: int = Field(default=20, ge=0)
    # Shared caches (issue 21): max-age and stale-while-revalidate of public feeds, and how
    # many reverse proxies in front are trusted for X-Forwarded-For/-Proto (0: none).
    feed_max_age: int = Field(default=300, ge=0)
    feed_stale_seconds: int = Field(default=60, ge=0)
    proxy_hops: int = Field(default=0, ge=0, le=10)
    # After an edit through the web or the API, refresh the stored documents that show it
    # once the response is sent, so their next readers find them warm (web.warm).
    warm_after_edit: bool = True
    # Seconds between two looks at the series' change stamps, to refresh what other
    # processes changed (web.warm.Refresher; 0: only this process's edits are refreshed).
    warm_poll_seconds: float = Field(default=2.0, ge=0, le=3600)
    # Mirrored series (issue 16): refresh interval, fetch limits, non-public networks allowed.
    mirror_every_minutes: int = Field(default=60, ge=1)
    mirror_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    mirror_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    mirror_allowed_networks: str = ""

    @property
    def domain(self) -> str:
        """Return the host of the base URL, the domain of event UIDs."""
        return urlsplit(self.base_url).hostname or "localhost"

    @property
    def mirror_networks(self) -> tuple[IPNetwork, ...]:
        """Return the networks a mirror may fetch from although not public."""
        return tuple(
            ip_network(part.strip(), strict=False)
            for part in self.mirror_allowed_networks.split(",")
            if part.strip()
        )

    @field_validator("mirror_allowed_networks")
    @classmethod
    def _mirror_allowed_networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                try:
                    ip_network(part.strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"{part.strip()!r} is not a network such as 127.0.0.0/8"
                    ) from None
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http(s) URL, not {value!r}")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:", "postgresql")):
            raise ValueError(f"must be sqlite:///... or postgresql+psycopg://..., not {value!r}")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtp+starttls", "smtps") or not parts.hostname:
            raise ValueError(
                f"must be smtp://, smtp+starttls:// or smtps://HOST[:PORT], not {value!r}"
            )
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read EVENTFEED_* variables, apply overrides, fill defaults and validate."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            raw = env.get(PREFIX + name.upper())
            if raw:
                values[name] = raw
        values.update({key.lower(): value for key, value in overrides.items()})
        try:
            return cls.model_validate(values).completed()
        except ValidationError as exc:
            raise ConfigError(_one_line(exc)) from None

    def completed(self) -> Settings:
        """Fill derived defaults (database, mail sender, secret key outside production)."""
        updates: dict[str, object] = {}
        if not self.database_url:
            db_file = Path(self.instance_path).resolve() / "eventfeed.sqlite3"
            updates["database_url"] = f"sqlite:///{db_file}"
        if not self.mail_from:
            updates["mail_from"] = f"EventFeed <noreply@{self.domain}>"
        if self.dkim_key_file and not Path(self.dkim_key_file).is_file():
            raise ConfigError(f"{PREFIX}DKIM_KEY_FILE: no such file {self.dkim_key_file!r}")
        if self.mail_catch is None:
            updates["mail_catch"] = self.dev_tools and "smtp_url" not in self.model_fields_set
        elif self.mail_catch and not self.dev_tools:
            raise ConfigError(
                f"{PREFIX}MAIL_CATCH is for development and demo mode only: production sends mail"
            )
        if not self.secret_key:
            if self.mode == "production":
                raise ConfigError(
                    f"{PREFIX}SECRET_KEY is required in production: set it to a long random "
                    "value shared by every process (or set EVENTFEED_MODE=development)"
                )
            updates["secret_key"] = instance_secret(Path(self.instance_path))
        return self.model_copy(update=updates) if updates else self

    @property
    def dev_tools(self) -> bool:
        """Return whether development helpers (mail viewer, sign-in links) may be shown."""
        return self.mode in ("development", "demo")


def instance_secret(instance: Path) -> str:
    """Return the secret key kept in the instance folder, creating it once (mode 0600)."""
    path = instance / SECRET_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(key)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text(encoding="ascii").strip()
    return key


def _one_line(exc: ValidationError) -> str:
    """Return the first problem of a validation error as one line naming the variable."""
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else "setting"
    if error["type"] == "extra_forbidden":
        return f"unknown setting: {name}"
    if error["type"] == "int_parsing":
        message = f"must be a whole number, not {error['input']!r}"
    elif error["type"] == "greater_than_equal":
        message = "must not be negative"
    else:
        message = error["msg"].removeprefix("Value error, ")
    return f"{PREFIX}{name.upper()} {message}"
