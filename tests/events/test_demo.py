"""The living demo data: schedules, sessions and a timetable around the clock's today."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import demo, importer
from events.models import Event, Series
from server import sample_data_path

NOW = datetime(2027, 5, 12, 8, 0, tzinfo=UTC)


def test_demo_data_lives_around_today(sessions: sessionmaker[Session]) -> None:
    living = json.dumps(demo.document(sample_data_path(), NOW)).encode()
    parsed = importer.parse_bytes("demo", living, "json", now=NOW)
    with sessions() as session, session.begin():
        importer.apply(session, parsed, NOW, progress=False)
    with sessions() as session:
        rows = session.scalars(select(Event).join(Event.series)).all()
        by_series: dict[str, list[Event]] = {}
        for e in rows:
            by_series.setdefault(e.series.slug, []).append(e)
        beijing = by_series["ml-joint-seminar"]
        ahead = [e for e in beijing if e.kind == "session" and e.start_utc > NOW]
        assert len(ahead) >= 4
        assert all(e.start_local.endswith("09:30") for e in ahead)
        assert any(len(e.items) == 2 for e in ahead)
        assert any(e.kind == "tba" and e.start_utc > NOW for e in beijing)
        lisbon = by_series["lisbon-ml-seminars"]
        slots = [e for e in lisbon if e.kind == "tba"]
        assert slots and all(e.start_local.endswith("17:00") for e in slots)
        assert any(e.start_utc < NOW for e in lisbon) and any(e.start_utc > NOW for e in lisbon)
        workshop = [e for e in by_series["physics-deep-learning-workshop"] if e.kind == "workshop"]
        assert len(workshop) == 1 and workshop[0].start_utc > NOW
        kinds = {item.kind for item in workshop[0].items}
        assert {"opening", "invited-talk", "contributed-talk", "lunch", "break"} <= kinds
        assert {"poster-spotlights", "poster-session"} <= kinds
        for series in session.scalars(select(Series)):
            assert "Demo-data" not in series.description
            assert "transcri" not in series.description.lower()
