"""After an edit through the web or the API, the stored documents readers asked for are
refreshed once the response is sent (web.warm, issue 21): the next reader is answered by
the fast path, from a body stored under the current version, and sees the edit."""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import EnvironBuilder

from benchmarks.all import after_edit_goals
from events.config import Settings
from events.errors import ConfigError
from events.models import Event, RenderedDocument, RenderedFeed, Series
from events.queries import Shape
from tests.support.apiutil import bearer, issue_token
from tests.support.scripts import run_benchmark
from tests.web.test_organise import organiser, post, signed_in, talk_fields
from tests.web.test_stored_feeds import TOKEN, _follow
from web.fastpath import StoredFeeds, installed
from web.feeds import _shape, shape_query
from web.warm import settle

GZIP = {"Accept-Encoding": "gzip"}
# What readers asked for before the edit (path, gzip?).
READ = [
    ("/series/alpha.ics", False),
    ("/series/alpha.ics", True),
    ("/series/alpha.rss", False),
    ("/series/alpha.rss", True),
    ("/calendar.ics", False),
    ("/feed.rss", True),
    ("/", False),
    ("/series/alpha", False),
    ("/events/a1", False),
    ("/events/a2", False),
    ("/events/a1.ics", False),
    ("/api/v1/events", False),
    (f"/s/{TOKEN}.ics", False),
]
# Never asked for: the refresh must not build them.
UNREAD_FEEDS = ["atom", "json"]
UNREAD_DOCUMENTS = ["site/atom", "site/json"]


@pytest.fixture
def warming(make_app: Callable[..., Flask]) -> Flask:
    """An app that refreshes stored documents after edits (its own only: no polling, so
    nothing else runs meanwhile; tests/web/test_warm_poll.py polls)."""
    return make_app(warm_after_edit=True, warm_poll_seconds=0)


def _talks(make_series: Callable[..., Series], make_event: Callable[..., Event]) -> None:
    make_series(slug="alpha", name="Seminar Alpha")
    year = datetime.now(UTC).year + 1
    for k in (1, 2, 3):
        make_event(
            "alpha", id=f"a{k}", title=f"Talk {k}", start=f"{year}-02-1{k} 12:00", end="13:00"
        )


def _fast(app: Flask) -> StoredFeeds:
    fast = installed(app)
    assert fast is not None
    return fast


def fast_answers(app: Flask, path: str, gzipped: bool, **headers: str) -> bool:
    """Return whether the fast path answers this GET (a body stored for the current version),
    without asking Flask."""
    builder = EnvironBuilder(path=path, headers={**(GZIP if gzipped else {}), **headers})
    try:
        return _fast(app).answer(builder.get_environ()) is not None
    finally:
        builder.close()


def _read(client: FlaskClient, path: str, gzipped: bool) -> str:
    answer = client.get(path, headers=GZIP if gzipped else {})
    assert answer.status_code == 200, path
    data = answer.data
    if answer.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return data.decode()


def _read_all(app: Flask, personal: bool = True) -> None:
    reader = app.test_client()
    for path, gzipped in READ if personal else READ[:-1]:
        assert "Talk 1" in _read(reader, path, gzipped) or path in ("/events/a2",), path
        assert fast_answers(app, path, gzipped), path


def _followed_and_read(
    app: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    """The series alpha with three talks, followed by the reader, and every document read."""
    _talks(make_series, make_event)
    _follow(sessions, ["alpha"])
    _read_all(app)


def _api_patch(app: Flask, admin: str, title: str) -> object:
    editor = app.test_client()
    etag = editor.get("/api/v1/events/a1").headers["ETag"]
    answer = editor.patch(
        "/api/v1/events/a1", json={"title": title}, headers=bearer(admin, If_Match=etag)
    )
    assert answer.status_code == 200, answer.get_json()
    return answer


def _check_warm(app: Flask, title: str) -> None:
    """Every document read before is answered by the fast path and shows `title`."""
    reader = app.test_client()
    for path, gzipped in READ:
        assert fast_answers(app, path, gzipped), f"{path} (gzip: {gzipped}) is cold"
        body = _read(reader, path, gzipped)
        if path != "/events/a2":  # (another talk's page: only its series' stamp moved)
            assert title in body, path
            assert "Talk 1" not in body, path


def _unread_not_built(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        formats = set(session.scalars(select(RenderedFeed.format)))
        keys = set(session.scalars(select(RenderedDocument.key)))
    assert not formats & set(UNREAD_FEEDS), formats
    assert not keys & set(UNREAD_DOCUMENTS), keys
    assert not [key for key in keys if key.startswith("personal/") and key.endswith("/rss")]


def test_api_edit_leaves_the_read_documents_warm(
    warming: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    _followed_and_read(warming, sessions, make_series, make_event)
    portuguese = {"Cookie": "lang=pt-PT"}
    reader = warming.test_client()
    reader.set_cookie("lang", "pt-PT")
    assert "Talk 1" in reader.get("/").get_data(as_text=True)
    assert fast_answers(warming, "/", False, **portuguese)
    answer = _api_patch(warming, issue_token(sessions, admin=True), "Retitled by the API")
    # The edit changed the versions: nothing is current until the response is closed.
    assert not fast_answers(warming, "/series/alpha.ics", False)
    assert not fast_answers(warming, "/", False, **portuguese)
    answer.close()  # type: ignore[attr-defined]
    assert settle(warming)
    _check_warm(warming, "Retitled by the API")
    assert fast_answers(warming, "/", False, **portuguese), "each stored language"
    assert "Retitled by the API" in reader.get("/").get_data(as_text=True)
    _unread_not_built(sessions)


def test_workspace_edit_leaves_the_read_documents_warm(
    warming: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    _talks(make_series, make_event)
    _follow(sessions, ["alpha"])
    ana = organiser(sessions, "ana@example.org", admin=True)
    _read_all(warming)
    client = signed_in(warming, ana)
    with sessions() as session:
        talk = session.get(Event, "a1")
        assert talk is not None
        start = talk.start_local
    fields = talk_fields(
        title="Retitled in the workspace",
        date=start[:10],
        start_time=start[11:16],
        end_time="13:00",
        timezone="Europe/Lisbon",
        tags="",
    )
    saved = post(client, "/organise/talks/a1", {**fields, "action": "save"})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    assert not fast_answers(warming, "/series/alpha.ics", False)
    saved.close()
    assert settle(warming)
    _check_warm(warming, "Retitled in the workspace")


def test_warming_off_builds_nothing(
    make_app: Callable[..., Flask],
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    _talks(make_series, make_event)
    _follow(sessions, ["alpha"])
    app = make_app(warm_after_edit=False)
    _read_all(app)
    with sessions() as session:
        before = set(session.execute(select(RenderedDocument.key, RenderedDocument.version)))
    _api_patch(app, issue_token(sessions, admin=True), "Retitled but not warmed").close()  # type: ignore[attr-defined]
    assert settle(app)
    with sessions() as session:
        after = set(session.execute(select(RenderedDocument.key, RenderedDocument.version)))
    assert after == before
    for path, gzipped in READ:
        if path != "/events/a2":
            assert not fast_answers(app, path, gzipped), path
    # Still never stale: Flask rebuilds on the first request.
    assert "Retitled but not warmed" in _read(app.test_client(), "/series/alpha.ics", False)


def test_a_failing_refresh_does_not_break_the_edit(
    warming: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken: list[str] = []

    @warming.before_request
    def broken_feed() -> None:
        if request.path in broken:
            raise RuntimeError("the calendar feed is broken")

    _followed_and_read(warming, sessions, make_series, make_event)
    broken.append("/series/alpha.ics")
    answer = _api_patch(warming, issue_token(sessions, admin=True), "Retitled anyway")
    with caplog.at_level(logging.ERROR, logger="web.warm"):
        answer.close()  # type: ignore[attr-defined]
        assert settle(warming)
    assert "/series/alpha.ics failed" in caplog.text
    assert not fast_answers(warming, "/series/alpha.ics", False)
    assert fast_answers(warming, "/series/alpha.rss", True), "the others are refreshed"
    assert fast_answers(warming, f"/s/{TOKEN}.ics", False)


def test_a_failed_edit_refreshes_nothing(
    warming: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    _talks(make_series, make_event)
    _read_all(warming, personal=False)
    editor = warming.test_client()
    admin = issue_token(sessions, admin=True)
    seen: list[str] = []
    reader = _fast(warming).reader
    reader.on_execute.append(seen.append)
    try:
        etag = editor.get("/api/v1/events/a1").headers["ETag"]
        refused = editor.patch(
            "/api/v1/events/a1", json={"start": "never"}, headers=bearer(admin, If_Match=etag)
        )
        assert refused.status_code == 422, refused.get_json()
        refused.close()
        assert settle(warming)
        assert seen == [], "a rolled back edit requests nothing"
        _api_patch(warming, admin, "Retitled").close()  # type: ignore[attr-defined]
        assert settle(warming)
        assert seen, "an edit requests the stored documents"
    finally:
        reader.on_execute.remove(seen.append)


def test_api_import_of_new_talks_leaves_the_feeds_warm(
    warming: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    """New talks of an import are inserted in bulk (events.store.create_events): refreshed."""
    _followed_and_read(warming, sessions, make_series, make_event)
    year = datetime.now(UTC).year + 1
    csv_text = f"id,title,start,end\nnew-1,Imported talk,{year}-03-02 10:00,11:00\n"
    done = warming.test_client().post(
        "/api/v1/import?series=alpha",
        data=csv_text,
        content_type="text/csv",
        headers=bearer(issue_token(sessions, admin=True)),
    )
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["events"]["created"] == 1
    assert not fast_answers(warming, "/series/alpha.ics", False)
    done.close()
    assert settle(warming)
    reader = warming.test_client()
    for path, gzipped in READ:
        assert fast_answers(warming, path, gzipped), f"{path} (gzip: {gzipped}) is cold"
        if not path.startswith("/events/"):  # (other talks' pages)
            assert "Imported talk" in _read(reader, path, gzipped), path


def test_after_edit_benchmark_runs_through_the_api() -> None:
    """benchmarks/after_edit.py --through api runs end to end (a smoke test, no timings)."""
    done = run_benchmark("after_edit.py", "--rounds", "1", "--through", "api")
    assert done.returncode == 0, done.stderr
    assert "edits through the API" in done.stdout
    assert done.stdout.count("\n| ") == 11, done.stdout  # the header and 10 routes
    goals = after_edit_goals("sqlite", "through the API", done.stdout)  # as all.py reads it
    assert len(goals) == 20 and all(goal.value > 0 for goal in goals), done.stdout


def test_the_setting_is_read_from_the_environment() -> None:
    def read(value: str) -> bool:
        environ = {"EVENTFEED_WARM_AFTER_EDIT": value} if value else {}
        return Settings.from_env(environ, secret_key="x").warm_after_edit

    assert read("") is True
    assert read("false") is False
    assert read("true") is True
    with pytest.raises(ConfigError, match="EVENTFEED_WARM_AFTER_EDIT"):
        read("sometimes")


def test_deleting_a_series_refreshes_the_site_wide_documents(
    warming: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    _talks(make_series, make_event)
    year = datetime.now(UTC).year + 1
    make_series(slug="beta", name="Seminar Beta")
    make_event("beta", id="b1", title="Beta talk", start=f"{year}-02-20 12:00", end="13:00")
    site = [("/calendar.ics", False), ("/feed.rss", True), ("/", False), ("/api/v1/events", False)]
    reader = warming.test_client()
    for path, gzipped in site:
        assert "Beta talk" in _read(reader, path, gzipped), path
    gone = warming.test_client().delete(
        "/api/v1/series/beta", headers=bearer(issue_token(sessions, admin=True))
    )
    assert gone.status_code == 204, gone.get_json()
    gone.close()
    assert settle(warming)
    for path, gzipped in site:
        assert fast_answers(warming, path, gzipped), f"{path} (gzip: {gzipped}) is cold"
        assert "Beta talk" not in _read(reader, path, gzipped), path


def test_the_refresh_runs_beside_the_next_request(
    warming: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    """Closing the edit's response hands the refresh to the background thread: the request's
    thread (and a keep-alive connection) is free while a slow rebuild is still running."""
    held, release = threading.Event(), threading.Event()

    @warming.before_request
    def slow_feed() -> None:
        if request.path == "/series/alpha.ics" and threading.current_thread().name.startswith(
            "eventfeed-refresh"
        ):
            held.set()
            release.wait(10)

    _talks(make_series, make_event)
    _read_all(warming, personal=False)
    answer = _api_patch(warming, issue_token(sessions, admin=True), "Retitled meanwhile")
    answer.close()  # type: ignore[attr-defined]
    assert held.wait(10), "the refresh started"
    assert warming.test_client().get("/series/alpha").status_code == 200  # served meanwhile
    assert not settle(warming, timeout=0.2), "the refresh is still running"
    release.set()
    assert settle(warming)
    assert fast_answers(warming, "/series/alpha.ics", False)


@pytest.mark.parametrize(
    ("group", "breaks"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_a_stored_shape_is_asked_for_with_the_query_that_selects_it(
    make_app: Callable[..., Flask], group: bool, breaks: bool
) -> None:
    """The refresh asks for a stored calendar shape (`ics-s-b`) with `shape_query`: the view's
    `_shape` reads that query back as the very shape, so the stored row is the one rebuilt."""
    key = Shape(group=group, breaks=breaks).key
    with make_app().test_request_context(f"/series/alpha.ics?{shape_query('ics' + key)}"):
        assert _shape().key == key
