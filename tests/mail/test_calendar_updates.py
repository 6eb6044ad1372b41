"""Change and cancellation emails update the reader's calendar entry in place.

Each email's calendar is an iTIP message (RFC 5546) from the series: METHOD:REQUEST with the
talk's UID and a growing SEQUENCE, METHOD:CANCEL when cancelled; the reader is the ATTENDEE.
A client applying them in order (parsed by Mozilla's ical.js) ends with one entry at the new
time, then none.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.clock import SYSTEM_CLOCK
from events.config import Settings
from events.models import Event
from events.schemas import validate_event
from tests.mail.test_subscriptions_delivery import add, announce, drain
from tests.support.mailtools import SmtpServer, calendar_part
from tests.support.parsers import Parsed, icaljs


def apply(calendar: dict[str, Parsed], method: str, events: list[Parsed]) -> None:
    """Apply an iTIP message as a calendar client does: newer SEQUENCE wins, by UID."""
    for event in events:
        known = calendar.get(event.uid)
        if known is not None and event.sequence < known.sequence:
            continue
        if method == "CANCEL":
            calendar.pop(event.uid, None)
        else:
            calendar[event.uid] = event


def test_announce_then_change_leaves_one_event_at_the_new_time_then_cancel_removes_it(
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,  # noqa: F811
    mail_settings: Settings,  # noqa: F811
) -> None:
    event = make_event(id="moving", start="2026-12-04 17:00", end="2026-12-04 18:00")
    add(sessions, "sh@example.cn", "Asia/Shanghai")
    announce(sessions, event.id)
    drain(sessions, mail_settings)

    def save(**changes: str) -> None:
        data = {"id": "moving", "title": event.title, **changes}
        with sessions() as session, session.begin():
            series = store.get_series(session, "lisbon-ml")
            record = validate_event(data, store.series_record(series))
            store.upsert_event(session, series, record, SYSTEM_CLOCK.now())

    save(start="2026-12-10 17:00", end="2026-12-10 18:00")
    drain(sessions, mail_settings)
    calendar: dict[str, Parsed] = {}
    methods = []
    for msg in smtp.inbox.messages:
        part = calendar_part(msg)
        ics = part.get_content().encode()
        properties, events = icaljs(ics)
        assert properties["method"] == part.get_param("method")  # Content-Type says the same
        assert b"\r\nORGANIZER;CN=" in ics
        assert b"\r\nATTENDEE;RSVP=FALSE:mailto:sh@example.cn\r\n" in ics
        methods.append(properties["method"])
        apply(calendar, properties["method"], events)
    assert methods == ["REQUEST", "REQUEST"]
    [entry] = calendar.values()  # one event, not a duplicate
    assert entry.uid == "moving@events.example.org"
    assert entry.start == datetime(2026, 12, 10, 17, 0, tzinfo=UTC)  # Lisbon = UTC in December

    save(start="2026-12-10 17:00", end="2026-12-10 18:00", status="cancelled")
    drain(sessions, mail_settings)
    last = smtp.inbox.messages[-1]
    part = calendar_part(last)
    properties, events = icaljs(part.get_content().encode())
    assert properties["method"] == part.get_param("method") == "CANCEL"
    assert events[0].status == "CANCELLED"
    apply(calendar, "CANCEL", events)
    assert calendar == {}
