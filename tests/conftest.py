"""Shared fixtures: a real database (SQLite by default, PostgreSQL when configured),
an app, and factories that build records through the same validation path as imports.

Set EVENTFEED_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)
to run the whole suite on PostgreSQL; the schema there is dropped and rebuilt.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.clock import SYSTEM_CLOCK, Clock
from events.config import Settings
from events.db import Base, make_engine, make_sessionmaker, migrate
from events.models import Event, Series
from events.schemas import validate_event, validate_series
from feeds import email
from server import cli, create_app
from tests.support import vnu
from tests.support.mailtools import SmtpServer, smtp_settings
from web import warm

TEST_DATABASE_ENV = "EVENTFEED_TEST_DATABASE_URL"
HTML_CHECKER_KEY = pytest.StashKey["vnu.NuChecker | None"]()
BASE_URL = "https://events.example.org"
SECRET_KEY = "test-secret-key"


def _reset_schema(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
            conn.execute(text("DROP TABLE IF EXISTS search_fts"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test database: EVENTFEED_TEST_DATABASE_URL, or a fresh SQLite file."""
    url = os.environ.get(TEST_DATABASE_ENV)
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    """An engine on a schema built from nothing by the migrations."""
    engine = make_engine(database_url)
    _reset_schema(engine)
    migrate(engine)
    yield engine
    engine.dispose()


def _empty_tables(engine: Engine) -> None:
    tables = [t for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    """The migrated engine, with every table emptied before the test."""
    _empty_tables(migrated_engine)
    return migrated_engine


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """A session factory on the test database."""
    return make_sessionmaker(engine)


@pytest.fixture
def make_app(engine: Engine, database_url: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build applications on the test database with a clock; keyword arguments override settings."""
    made: list[Flask] = []

    def build(clock: Clock = SYSTEM_CLOCK, **overrides: Any) -> Flask:
        config = {
            "database_url": database_url,
            "base_url": BASE_URL,
            "instance_path": str(tmp_path),
            "secret_key": SECRET_KEY,
            # Off: tests count renders and statements (tests/web/test_warm_after_edit.py: on)
            "warm_after_edit": False,
            **overrides,
        }
        application = create_app(config, clock=clock)
        application.testing = True
        made.append(application)
        return application

    yield build
    for application in made:
        warm.stop(application)  # (its polling thread reads the database)
        application.extensions["eventfeed"].engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """An application on the test database."""
    return make_app()


@pytest.fixture
def cli_env(database_url: str, engine: Engine, tmp_path: Path) -> dict[str, str]:
    """Environment variables for running the CLI on the (emptied) test database."""
    return {
        "EVENTFEED_DATABASE_URL": database_url,
        "EVENTFEED_INSTANCE_PATH": str(tmp_path),
        "EVENTFEED_SECRET_KEY": SECRET_KEY,
    }


@pytest.fixture
def run(cli_env: dict[str, str]) -> Callable[..., Result]:
    """Invoke the `eventfeed` CLI on the test database (exceptions propagate)."""

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=cli_env, catch_exceptions=False)

    return invoke


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of `app`."""
    return app.test_client()


SERIES_DEFAULTS: dict[str, Any] = {
    "slug": "lisbon-ml",
    "name": "Lisbon Machine Learning Seminar",
    "description": "Talks on machine learning.\nHeld online.",
    "timezone": "Europe/Lisbon",
    "organisers": ["Ana Silva"],
}


@pytest.fixture
def make_series(sessions: sessionmaker[Session]) -> Callable[..., Series]:
    """Build and store a series through the validation path; keyword arguments override."""

    def build(**overrides: Any) -> Series:
        record = validate_series({**SERIES_DEFAULTS, **overrides})
        with sessions() as session, session.begin():
            series, _ = store.upsert_series(session, record, SYSTEM_CLOCK.now())
        return series

    return build


EVENT_DEFAULTS: dict[str, Any] = {
    "title": "Deep networks and their limits",
    "speakers": [{"name": "Maria Costa", "affiliation": "IST Lisbon"}],
    "start": "2026-01-15 12:00",
    "end": "2026-01-15 13:00",
    "abstract": "On the $\\infty$-Laplacian.",
    "tags": ["deep-learning"],
}


@pytest.fixture
def make_event(
    sessions: sessionmaker[Session], make_series: Callable[..., Series]
) -> Callable[..., Event]:
    """Build and store an event (and its series if missing); keyword arguments override."""
    counter = iter(range(1, 1_000_000))

    def build(series: str | None = None, **overrides: Any) -> Event:
        slug = series or SERIES_DEFAULTS["slug"]
        with sessions() as session, session.begin():
            found = session.query(Series).filter_by(slug=slug).one_or_none()
        if found is None:
            make_series(slug=slug)
        data = {"id": f"talk-{next(counter)}", **EVENT_DEFAULTS, **overrides}
        with sessions() as session, session.begin():
            stored = store.get_series(session, slug)
            record = validate_event(data, store.series_record(stored))
            event, _ = store.upsert_event(session, stored, record, SYSTEM_CLOCK.now())
            session.flush()
            session.refresh(event, ["series"])
        return event

    return build


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """Write a file under tmp_path and return its path."""

    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return write


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the Nu HTML checker now when a collected test needs it (its JVM takes seconds)."""
    wanted = not session.config.option.collectonly and any(
        "html_checker" in getattr(item, "fixturenames", ()) for item in session.items
    )
    checker = vnu.NuChecker() if wanted and vnu.missing() is None else None
    session.config.stash[HTML_CHECKER_KEY] = checker


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the Nu HTML checker."""
    checker = config.stash.get(HTML_CHECKER_KEY, None)
    if checker is not None:
        checker.close()


@pytest.fixture(scope="session")
def html_checker(request: pytest.FixtureRequest) -> vnu.NuChecker:
    """The Nu HTML checker (W3C's validator) as a local service: `assert_valid(html, where)`.

    Skips when Java or the jar is missing (`bash scripts/test` installs both).
    """
    reason = vnu.missing()
    if reason is not None:
        pytest.skip(reason)
    checker = request.config.stash.get(HTML_CHECKER_KEY, None)
    if checker is None:  # collected without the hook (e.g. a plugin re-ran collection)
        checker = vnu.NuChecker()
        request.config.stash[HTML_CHECKER_KEY] = checker
    checker.wait_ready()
    return checker


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A running SMTP server on 127.0.0.1 (aiosmtpd), stopped after the test."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_settings(app: Flask, smtp: SmtpServer) -> Settings:
    """The app's settings pointed at the test SMTP server."""
    return smtp_settings(app, smtp)


@pytest.fixture
def event_emails_made(monkeypatch: pytest.MonkeyPatch) -> list[email.EventEmails]:
    """Every `feeds.email.EventEmails` (the senders' template caches) made during the test."""
    made: list[email.EventEmails] = []

    class Recorded(email.EventEmails):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(email, "EventEmails", Recorded)
    return made
