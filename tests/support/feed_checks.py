"""An autouse fixture for the feed tests: every calendar served is read by all parsers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from events.models import Event
from tests.support.parsers import CalendarChecker


@pytest.fixture(autouse=True)
def every_calendar_parses(app: Flask, sessions: sessionmaker[Session]) -> Iterator[None]:
    """After the test, parse each distinct .ics the app served with ical.js, ical, icalendar."""
    checker = CalendarChecker()
    app.after_request(checker.collect)
    yield
    with sessions() as session:
        stored = {e.id: (e.sequence, e.start_utc, e.end_utc) for e in session.query(Event)}
    checker.check(stored)
