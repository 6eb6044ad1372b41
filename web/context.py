"""Per-application state and per-request database sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from events.clock import Clock
from events.config import Settings

EXTENSION = "eventfeed"


@dataclass(frozen=True)
class AppState:
    """What one application holds: its settings, engine and session factory."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock


def state(app: Flask | None = None) -> AppState:
    """Return the EventFeed state of `app` (default: the current app)."""
    found: AppState = (app or current_app).extensions[EXTENSION]
    return found


def settings() -> Settings:
    """Return the current app's settings."""
    return state().settings


def now() -> datetime:
    """Return the current instant from the app's clock."""
    return state().clock.now()


def db() -> Session:
    """Return this request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = state().sessions()
    session: Session = g.db_session
    return session


def close_db(_exc: BaseException | None = None) -> None:
    """Close this request's session, if one was opened."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
