"""The feed endpoints: content, conditional GET, gzip, HEAD, 404, and the issues' user stories."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from events import importer, store
from events.clock import SYSTEM_CLOCK
from events.models import Event, Series
from events.schemas import validate_event
from server import sample_data_path
from tests.support import zones
from tests.support.feed_checks import every_calendar_parses  # noqa: F401
from tests.support.parsers import all_parsers, icaljs

FEEDS = ["rss", "atom", "json"]
SECRET = {
    "platform": "Tencent Meeting",
    "url": "https://meeting.example/secret-join-link",
    "id": "329744341",
    "passcode": "974114",
    "alternate_id": "553 2421 7498",
    "access": "subscribers",
}


def _edit(sessions: sessionmaker[Session], event_id: str, **changes: object) -> tuple[Event, bool]:
    """Change an event through the validation path, as an organiser's edit would."""
    with sessions() as session, session.begin():
        event = store.get_event(session, event_id)
        data = {
            "id": event.id,
            "title": event.title,
            "speakers": event.speakers,
            "abstract": event.abstract,
            "timezone": event.timezone,
            "start": event.start_local,
            "end": event.end_local,
            "location": event.location or None,
            "status": event.status,
            "tags": event.tags,
            **changes,
        }
        record = validate_event(data, store.series_record(event.series))
        stored, outcome = store.upsert_event(session, event.series, record, SYSTEM_CLOCK.now())
        return stored, outcome.material


def _load_sample(sessions: sessionmaker[Session]) -> None:
    importer.import_files(sessions, [sample_data_path()])


def test_sample_beijing_seminar_in_a_lisbon_calendar(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    _load_sample(sessions)
    response = client.get("/series/ml-joint-seminar.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    calendar, events = icaljs(response.data)
    assert calendar["timezones"] == ["Asia/Shanghai"]
    lisbon = ZoneInfo("Europe/Lisbon")
    by_uid = {e.uid: e for e in events}
    summer = by_uid["2021-10-30-zhang@events.example.org"]  # Lisbon still on WEST
    winter = by_uid["2021-11-27-wang@events.example.org"]  # Lisbon back on WET
    assert summer.start_zone == winter.start_zone == "Asia/Shanghai"
    assert summer.start.astimezone(lisbon).strftime("%H:%M") == "02:30"
    assert winter.start.astimezone(lisbon).strftime("%H:%M") == "01:30"
    assert winter.summary == "冷冻电镜原理及相关算法 — 王宇航"
    for e in events:
        assert e.start.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M") == "09:30"

    # Editing the time of one talk: same UID, higher SEQUENCE, and the new time.
    etag = response.headers["ETag"]
    _edit(sessions, "2021-11-27-wang", start="2021-11-27 10:00", end="2021-11-27 12:00")
    again = client.get("/series/ml-joint-seminar.ics", headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["ETag"] != etag
    _, events_after = icaljs(again.data)
    moved = {e.uid: e for e in events_after}["2021-11-27-wang@events.example.org"]
    assert moved.sequence == winter.sequence + 1
    assert moved.start.astimezone(lisbon).strftime("%H:%M") == "02:00"

    # A second fetch with the ETag gets 304.
    third = client.get(
        "/series/ml-joint-seminar.ics", headers={"If-None-Match": again.headers["ETag"]}
    )
    assert third.status_code == 304 and third.data == b""


def test_every_feed_of_the_sample_data_parses_everywhere(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    _load_sample(sessions)
    with sessions() as session:
        stored = {e.id: e for e in session.query(Event).all()}
        slugs = [s.slug for s in session.query(Series).all()]
    # Every series feed, the site feed and two single-talk downloads (one node run each).
    urls = [f"/series/{slug}.ics" for slug in slugs] + ["/calendar.ics"]
    urls += [f"/events/{i}.ics" for i in ("2021-11-27-wang", "2021-10-30-zhang")]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        for parser, parsed in all_parsers(response.data).items():
            assert parsed or url == "/calendar.ics", (url, parser)
            for p in parsed:
                original = stored[p.uid.removesuffix("@events.example.org")]
                assert (p.start, p.end) == (original.start_utc, original.end_utc), (url, parser)
        assert b"974114" not in response.data and b"p1q2HxwW3x4r" not in response.data


def test_conditional_get_gzip_head_and_content_types(
    client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    make_event(abstract="A long abstract. " * 100)
    cases = {
        "/series/lisbon-ml.ics": "text/calendar; charset=utf-8",
        "/series/lisbon-ml.rss": "application/rss+xml; charset=utf-8",
        "/series/lisbon-ml.atom": "application/atom+xml; charset=utf-8",
        "/series/lisbon-ml.json": "application/feed+json; charset=utf-8",
        "/events/talk-1.ics": "text/calendar; charset=utf-8",
    }
    for url, content_type in cases.items():
        first = client.get(url)
        assert first.status_code == 200, url
        assert first.headers["Content-Type"] == content_type
        assert first.headers["Cache-Control"] == "public, max-age=300, stale-while-revalidate=60"
        assert "Accept-Encoding" in first.headers["Vary"]
        etag = first.headers["ETag"]
        assert etag.startswith('"') and not etag.startswith("W/")
        assert client.get(url).headers["ETag"] == etag  # stable between fetches
        not_modified = client.get(url, headers={"If-None-Match": etag})
        assert not_modified.status_code == 304 and not_modified.data == b""
        assert not_modified.headers["ETag"] == etag
        since = first.headers["Last-Modified"]
        assert client.get(url, headers={"If-Modified-Since": since}).status_code == 304
        earlier = (first.last_modified - timedelta(seconds=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        assert client.get(url, headers={"If-Modified-Since": earlier}).status_code == 200
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
        zipped = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(zipped.data) == first.data
        assert zipped.headers["ETag"] != etag
        assert client.get(url, headers={"If-None-Match": zipped.headers["ETag"]}).status_code == 304
        head = client.head(url)
        assert head.status_code == 200 and head.data == b""
        assert head.headers["ETag"] == etag
        assert head.headers["Content-Type"] == content_type
    download = client.get("/events/talk-1.ics")
    assert download.headers["Content-Disposition"] == 'attachment; filename="talk-1.ics"'


@pytest.mark.parametrize(
    "url",
    [
        "/series/nope.ics",
        "/series/nope.rss",
        "/series/nope.atom",
        "/series/nope.json",
        "/events/nope.ics",
        "/calendar.ics?series=nope",
        "/feed.rss?series=nope",
    ],
)
def test_unknown_series_or_talk_is_a_plain_404(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert response.mimetype == "text/plain"
    assert "nope" in response.get_data(as_text=True)


def test_site_feed_filters_window_visibility_and_retention(
    client: FlaskClient,
    app: object,
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    now = SYSTEM_CLOCK.now().astimezone(ZoneInfo("Europe/Lisbon"))

    def at(days: int) -> str:
        return (now + timedelta(days=days)).strftime("%Y-%m-%d 12:00")

    def end(days: int) -> str:
        return (now + timedelta(days=days)).strftime("%Y-%m-%d 13:00")

    make_series(slug="algebra", name="Algebra Seminar")
    make_series(slug="secret", name="Unlisted Seminar", visibility="unlisted")
    make_event(id="old", start=at(-120), end=end(-120))
    make_event(id="recent", start=at(-10), end=end(-10))
    make_event(id="ahead", start=at(400), end=end(400), tags=["pde"])
    make_event(id="gone", start=at(-40), end=end(-40), status="cancelled")
    make_event(id="called-off", start=at(-5), end=end(-5), status="cancelled")
    make_event("algebra", id="algebra-1", start=at(3), end=end(3), tags=["groups", "pde"])
    make_event("secret", id="hidden-1", start=at(4), end=end(4), tags=["pde"])

    def uids(url: str) -> set[str]:
        response = client.get(url)
        assert response.status_code == 200, url
        return {p.uid.split("@")[0] for p in icaljs(response.data)[1]}

    assert uids("/calendar.ics") == {"recent", "ahead", "called-off", "algebra-1"}
    assert uids("/calendar.ics?series=algebra") == {"algebra-1"}
    assert uids("/calendar.ics?series=algebra,lisbon-ml,unknown") == {
        "recent",
        "ahead",
        "called-off",
        "algebra-1",
    }
    assert uids("/calendar.ics?tag=pde") == {"ahead", "algebra-1"}
    assert uids("/calendar.ics?tag=groups,nothing") == {"algebra-1"}
    assert uids("/calendar.ics?series=lisbon-ml&tag=pde") == {"ahead"}
    assert client.get("/calendar.ics?series=secret").status_code == 404
    # A series feed has the whole history (old talks too) but drops expired cancellations.
    assert uids("/series/lisbon-ml.ics") == {"old", "recent", "ahead", "called-off"}
    assert uids("/series/secret.ics") == {"hidden-1"}
    for fmt in FEEDS:
        text = client.get(f"/feed.{fmt}").get_data(as_text=True)
        assert "hidden-1" not in text and "Unlisted Seminar" not in text
        assert ":event/gone" not in text and ":event/called-off" in text


def test_feed_cost_a_fixed_number_of_queries(
    app: object,
    client: FlaskClient,
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    from web.context import state

    for n in range(3):
        make_series(slug=f"s{n}", name=f"Series {n}")
    for n in range(12):
        make_event(f"s{n % 3}", id=f"q{n}", start=f"2026-02-{n + 1:02d} 12:00", end="13:00")
    engine = state(app).engine  # type: ignore[arg-type]
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        for url in ["/series/s1.ics", "/series/s1.rss", "/calendar.ics", "/feed.json"]:
            statements.clear()
            assert client.get(url).status_code == 200
            selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
            # stamp, series, talk stamps, stored pieces, and (cold) the talks to render;
            # the fast path's try first (web.fastpath: stamp, stored row); reader feeds
            # pick their newest talks' ids first, then load those (queries._capped)
            assert len(selects) <= 8, (url, selects)
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)


def test_zone_cases_over_http_in_every_parser(
    client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    for case in zones.ALL_CASES:
        make_event(id=case.name, timezone=case.timezone, start=case.start, end=case.end)
    response = client.get("/series/lisbon-ml.ics")
    expected = {case.name: case for case in zones.ALL_CASES}
    for parser, parsed in all_parsers(response.data).items():
        assert len(parsed) == len(expected), parser
        for p in parsed:
            case = expected[p.uid.split("@")[0]]
            assert (p.start, p.end) == (case.start_utc, case.end_utc), (parser, case.name)


def test_cancelled_and_rescheduled_talks_keep_their_uid(
    client: FlaskClient, sessions: sessionmaker[Session], make_event: Callable[..., Event]
) -> None:
    make_event(id="moved", start=zones.LISBON_SUMMER.start, end=zones.LISBON_SUMMER.end)
    make_event(id="off", start="2027-01-15 12:00", end="2027-01-15 13:00")
    before = {p.uid: p for p in icaljs(client.get("/series/lisbon-ml.ics").data)[1]}
    _edit(sessions, "moved", start="2026-07-16 15:00", end="2026-07-16 16:00")
    _edit(sessions, "off", status="cancelled")
    after = {p.uid: p for p in icaljs(client.get("/series/lisbon-ml.ics").data)[1]}
    assert set(after) == set(before)
    moved, off = after["moved@events.example.org"], after["off@events.example.org"]
    assert moved.sequence > before["moved@events.example.org"].sequence
    assert moved.start == datetime(2026, 7, 16, 14, 0, tzinfo=UTC)
    assert off.status == "CANCELLED"
    assert off.sequence > before["off@events.example.org"].sequence
