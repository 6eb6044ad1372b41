"""Settings from the environment, and migrations that match the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy import Engine

from events.config import Settings
from events.db import Base
from events.errors import ConfigError


def test_defaults_and_derived_values(tmp_path: object) -> None:
    env = {"EVENTFEED_INSTANCE_PATH": str(tmp_path), "EVENTFEED_MODE": "development"}
    settings = Settings.from_env(env)
    assert settings.base_url == "http://localhost:5000"
    assert settings.domain == "localhost"
    assert settings.database_url == f"sqlite:///{tmp_path}/eventfeed.sqlite3"
    assert settings.cancelled_retention_days == 30
    assert settings.secret_key


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EVENTFEED_BASE_URL": "localhost"}, "EVENTFEED_BASE_URL"),
        ({"EVENTFEED_DATABASE_URL": "mysql://x"}, "EVENTFEED_DATABASE_URL"),
        ({"EVENTFEED_FEED_WINDOW_DAYS": "ninety"}, "whole number"),
        ({"EVENTFEED_FEED_MAX_EVENTS": "-1"}, "must not be negative"),
        ({"EVENTFEED_SMTP_URL": "http://mail"}, "EVENTFEED_SMTP_URL"),
    ],
)
def test_invalid_settings_fail_fast(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**env, "EVENTFEED_SECRET_KEY": "x"})


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="EVENTFEED_SECRET_KEY is required in production"):
        Settings.from_env({"EVENTFEED_INSTANCE_PATH": str(tmp_path)})


def test_development_keeps_one_secret_key_per_instance(tmp_path: Path) -> None:
    env = {"EVENTFEED_INSTANCE_PATH": str(tmp_path), "EVENTFEED_MODE": "development"}
    first, second = Settings.from_env(env), Settings.from_env(env)
    assert first.secret_key == second.secret_key and len(first.secret_key) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_settings_are_immutable() -> None:
    settings = Settings.from_env({}, secret_key="x")
    with pytest.raises(ValidationError):
        settings.base_url = "https://x.example"  # type: ignore[misc]


# Each database's own search index (migration 0011_discovery), which no model declares:
# SQLite's FTS5 table and its shadow tables, PostgreSQL's pg_trgm GIN index.
SEARCH_INDEX_OBJECTS = ("search_fts", "ix_search_doc_body_trgm")


def _declared(name: str | None, kind: str, parent: object) -> bool:
    return not (name or "").startswith(SEARCH_INDEX_OBJECTS)


def test_migrations_create_exactly_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _declared})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
