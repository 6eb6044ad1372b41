"""Edits made by other processes (SQL, `events.store` in another session, `eventfeed import`,
another web node) are refreshed by each web process's polling of the series' change stamps
(web.warm.Refresher, EVENTFEED_WARM_POLL_SECONDS), so their next reader is answered warm by
the fast path too (issue 21)."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.config import Settings
from events.models import Event, RenderedDocument, RenderedFeed, Series
from tests.conftest import BASE_URL
from tests.support.apiutil import issue_token
from tests.support.scripts import run_benchmark
from tests.web.test_scale_out import BIN, ROOT, _get, _port, _wait_healthy
from tests.web.test_stored_feeds import _retitle
from tests.web.test_warm_after_edit import (
    _api_patch,
    _check_warm,
    _fast,
    _followed_and_read,
    _read,
    _read_all,
    _talks,
    fast_answers,
)
from web.warm import Starter, refresher, settle

POLL = 0.2  # seconds between two looks in these tests
SITE = [("/calendar.ics", False), ("/feed.rss", True), ("/", False), ("/api/v1/events", False)]


@pytest.fixture
def polling(make_app: Callable[..., Flask]) -> Flask:
    """An app that refreshes after edits and looks for other processes' every POLL s."""
    return make_app(warm_after_edit=True, warm_poll_seconds=POLL)


def _look(app: Flask) -> None:
    """Wait (with a deadline) until a look at the stamps starting now has ended."""
    assert refresher(app).wait_look(timeout=30), "no look at the stamps within 30 s"


def _edit_by_sql(engine: Engine, event_id: str, title: str) -> None:
    """Retitle a talk by SQL, as another process would (the triggers move its series' stamps)."""
    with engine.begin() as conn:
        conn.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(title=title, sequence=Event.sequence + 1, updated_at=datetime.now(UTC))
        )


def _stored(sessions: sessionmaker[Session]) -> set[tuple[str, str]]:
    with sessions() as session:
        documents = set(session.execute(select(RenderedDocument.key, RenderedDocument.version)))
        feeds = session.execute(select(RenderedFeed.series_id, RenderedFeed.format))
        versions = session.execute(select(RenderedFeed.format, RenderedFeed.version))
        return documents | {(str(a), b) for a, b in feeds} | set(versions)


def test_an_sql_edit_is_refreshed_by_the_poll(
    polling: Flask,
    engine: Engine,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    # (its first request starts the refresher)
    _followed_and_read(polling, sessions, make_series, make_event)
    _look(polling)
    _edit_by_sql(engine, "a1", "Retitled by SQL")
    assert not fast_answers(polling, "/series/alpha.ics", False), "stale until refreshed"
    _look(polling)
    _check_warm(polling, "Retitled by SQL")  # feeds, pages, the talk's .ics, personal feed
    last = refresher(polling).last_round
    assert last is not None and "a1" in last.moved.talk_ids, "the changed talk is found"
    assert last.moved.series_ids and not last.moved.series_rows, "not the series' own row"


def test_an_edit_through_the_store_in_another_session_is_refreshed(
    polling: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    """Another session (another process's): this process's edit listeners do not see it."""
    _followed_and_read(polling, sessions, make_series, make_event)
    _look(polling)
    _retitle(sessions, "a1", "Retitled elsewhere")
    deadline = time.monotonic() + 30
    while not fast_answers(polling, "/series/alpha.ics", False):
        assert time.monotonic() < deadline, "not refreshed within 30 s"
        time.sleep(POLL / 4)
    _look(polling)  # (the round that refreshed the feed may still be running)
    _check_warm(polling, "Retitled elsewhere")


def test_a_series_row_edit_refreshes_all_its_talks_downloads(
    polling: Flask,
    engine: Engine,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    """A talk's .ics shows its series (its version has the series' `updated_at`)."""
    _talks(make_series, make_event)
    reader = polling.test_client()
    for talk in ("a1", "a2", "a3"):
        assert reader.get(f"/events/{talk}.ics").status_code == 200
    _look(polling)
    before = _stored(sessions)
    with engine.begin() as conn:
        conn.execute(
            update(Series)
            .where(Series.slug == "alpha")
            .values(name="Seminar Renamed", updated_at=datetime.now(UTC))
        )
    _look(polling)
    after = _stored(sessions)
    for talk in ("a1", "a2", "a3"):
        assert fast_answers(polling, f"/events/{talk}.ics", False), talk  # (a new version)
        assert {key for key, _ in after - before} >= {f"talk/{talk}/ics"}, talk


def test_new_and_deleted_series_refresh_the_site_wide_documents(
    polling: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    _talks(make_series, make_event)
    reader = polling.test_client()
    for path, gzipped in SITE:
        assert "Talk 1" in _read(reader, path, gzipped), path
    _look(polling)
    year = datetime.now(UTC).year + 1
    make_series(slug="beta", name="Seminar Beta")  # (in another session: another process)
    make_event("beta", id="b1", title="Beta talk", start=f"{year}-02-20 12:00", end="13:00")
    _look(polling)
    for path, gzipped in SITE:
        assert fast_answers(polling, path, gzipped), f"{path} (gzip: {gzipped}) is cold"
        assert "Beta talk" in _read(reader, path, gzipped), path
    with sessions() as session, session.begin():
        beta = store.get_series(session, "beta")
        store.delete_series(session, beta, seen=beta.version)
    _look(polling)
    for path, gzipped in SITE:
        assert fast_answers(polling, path, gzipped), f"{path} (gzip: {gzipped}) is cold"
        assert "Beta talk" not in _read(reader, path, gzipped), path


def test_polling_off_refreshes_nothing(
    make_app: Callable[..., Flask],
    engine: Engine,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    _talks(make_series, make_event)
    app = make_app(warm_after_edit=True, warm_poll_seconds=0)
    _read_all(app, personal=False)
    before = _stored(sessions)
    _edit_by_sql(engine, "a1", "Retitled unseen")
    assert not refresher(app).wait_look(timeout=5 * POLL), "no look at the stamps"
    assert _stored(sessions) == before
    assert not fast_answers(app, "/series/alpha.ics", False)
    assert "Retitled unseen" in _read(app.test_client(), "/series/alpha.ics", False)


def test_the_default_test_app_starts_no_refresher(app: Flask) -> None:
    """warm_after_edit is off: no starter in the WSGI stack, no thread after a request."""
    assert app.test_client().get("/calendar.ics").status_code == 200
    wrapper: object = app.wsgi_app
    while wrapper is not None:
        assert not isinstance(wrapper, Starter)
        wrapper = getattr(wrapper, "app", None)
    assert "eventfeed_refresher" not in app.extensions


def test_the_refresher_starts_on_a_request_the_fast_path_answers(
    make_app: Callable[..., Flask],
    engine: Engine,
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    _talks(make_series, make_event)
    builder = make_app()  # another worker stores the feed
    assert builder.test_client().get("/series/alpha.ics").status_code == 200
    app = make_app(warm_after_edit=True, warm_poll_seconds=POLL)
    flask_requests: list[str] = []
    app.before_request(lambda: flask_requests.append("flask") and None)
    assert not refresher(app).wait_look(timeout=2 * POLL), "not started before a request"
    assert fast_answers(app, "/series/alpha.ics", False)  # (.answer(): not the WSGI stack)
    assert not refresher(app).wait_look(timeout=2 * POLL), "not started by a fast path read"
    assert app.test_client().get("/series/alpha.ics").status_code == 200
    assert flask_requests == [], "answered by the fast path alone"
    _look(app)
    _edit_by_sql(engine, "a1", "Retitled after a fast read")
    _look(app)
    assert fast_answers(app, "/series/alpha.ics", False), "the thread polls"


def test_the_first_look_only_records(
    make_app: Callable[..., Flask],
    engine: Engine,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    """Changes made before a process's first look are left to their readers."""
    _talks(make_series, make_event)
    builder = make_app()
    _read_all(builder, personal=False)
    _edit_by_sql(engine, "a1", "Retitled before the first look")
    before = _stored(sessions)
    app = make_app(warm_after_edit=True, warm_poll_seconds=POLL)
    assert app.test_client().get("/healthz").status_code == 200  # starts the refresher
    _look(app)
    _look(app)
    assert _stored(sessions) == before, "nothing rebuilt"
    assert not fast_answers(app, "/series/alpha.ics", False)
    last = refresher(app).last_round
    assert last is not None and last.look and not last.moved and last.warmed is None


def test_this_process_s_own_edit_is_not_refreshed_again(
    make_app: Callable[..., Flask],
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    """The round refreshing an edit also looks at the stamps, so the next look finds none
    moved: one stamp read, no request."""
    app = make_app(warm_after_edit=True, warm_poll_seconds=1.0)  # (no look in between)
    _followed_and_read(app, sessions, make_series, make_event)
    _look(app)
    _api_patch(app, issue_token(sessions, admin=True), "Retitled here").close()  # type: ignore[attr-defined]
    assert settle(app)
    seen: list[str] = []
    reader = _fast(app).reader
    reader.on_execute.append(seen.append)
    try:
        _look(app)
    finally:
        reader.on_execute.remove(seen.append)
    last = refresher(app).last_round
    assert last is not None and last.look and not last.moved and last.warmed is None
    assert len(seen) == 1, seen  # the stamps
    _check_warm(app, "Retitled here")


def test_the_setting_is_read_and_validated() -> None:
    def read(value: str) -> float:
        environ = {"EVENTFEED_WARM_POLL_SECONDS": value} if value else {}
        return Settings.from_env(environ, secret_key="x").warm_poll_seconds

    assert read("") == 2.0
    assert read("0") == 0.0
    assert read("0.5") == 0.5
    with pytest.raises(Exception, match="EVENTFEED_WARM_POLL_SECONDS"):
        read("-1")


def test_an_other_process_s_import_is_refreshed_by_forked_gunicorn_workers(
    engine: Engine,
    sessions: sessionmaker[Session],
    cli_env: dict[str, str],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
    tmp_path: Path,
) -> None:
    """Real processes: gunicorn --preload (the master makes the app, forked workers serve)
    and `eventfeed import`; the stored feed is rebuilt with no reader asking."""
    _talks(make_series, make_event)
    port = _port()
    env = {
        **os.environ,
        **cli_env,
        "EVENTFEED_BASE_URL": BASE_URL,
        "EVENTFEED_WARM_POLL_SECONDS": str(POLL),
        "PYTHONPATH": str(ROOT),
    }
    with _gunicorn(port, env, tmp_path) as log:
        status, _, body = _get(port, "/series/alpha.ics")
        assert status == 200 and b"Talk 1" in body, log.read_text()
        time.sleep(1.0)  # (the worker's first look, at its first request, records the stamps)
        year = datetime.now(UTC).year + 1
        csv = tmp_path / "talks.csv"
        csv.write_text(f"id,title,start,end\na1,Imported elsewhere,{year}-02-11 12:00,13:00\n")
        subprocess.run(
            [str(BIN / "eventfeed"), "import", "--series", "alpha", str(csv)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        deadline = time.monotonic() + 30
        while b"Imported elsewhere" not in _stored_feed(sessions, "alpha", "ics"):
            assert time.monotonic() < deadline, "not refreshed: " + log.read_text()
            time.sleep(POLL / 2)


def _stored_feed(sessions: sessionmaker[Session], slug: str, fmt: str) -> bytes:
    with sessions() as session:
        body = session.scalar(
            select(RenderedFeed.body)
            .join(Series, Series.id == RenderedFeed.series_id)
            .where(Series.slug == slug, RenderedFeed.format == fmt)
            .where(RenderedFeed.encoding == "identity")
        )
        return body or b""


@contextmanager
def _gunicorn(port: int, env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    """gunicorn --preload with two workers on `port`; yield its log file."""
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--preload", "--workers", "2"]
            + ["--bind", f"127.0.0.1:{port}", "server:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
        try:
            _wait_healthy(port, time.monotonic() + 60, "gunicorn did not start")
            yield log
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_after_edit_benchmark_runs_with_polling() -> None:
    """benchmarks/after_edit.py --through sql --poll runs end to end (a smoke test)."""
    done = run_benchmark("after_edit.py", "--rounds", "1", "--through", "sql", "--poll", str(POLL))
    assert done.returncode == 0, done.stderr
    assert "each app's look at the stamps" in done.stdout
    assert done.stdout.count("\n| ") == 11, done.stdout  # the header and 10 routes


def test_a_failing_look_is_logged_once_and_the_polling_goes_on(
    polling: Flask,
    engine: Engine,
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While the stamps cannot be read, one error is logged; a change made meanwhile is
    refreshed once they can be read again."""
    _talks(make_series, make_event)
    assert polling.test_client().get("/series/alpha.ics").status_code == 200
    _look(polling)
    broken = [True]

    def away(sql: str) -> None:
        if broken[0] and sql.startswith("SELECT series.id, series.feed_revision"):
            raise RuntimeError("the database is away")

    reader = _fast(polling).reader
    reader.on_execute.append(away)
    try:
        with caplog.at_level(logging.WARNING, logger="web.warm"):
            _look(polling)
            _edit_by_sql(engine, "a1", "Retitled while away")
            _look(polling)
            _look(polling)
            assert caplog.text.count("reading the series' change stamps failed") == 1
            assert not fast_answers(polling, "/series/alpha.ics", False)
            broken[0] = False
            _look(polling)
            assert "works again" in caplog.text
    finally:
        reader.on_execute.remove(away)
    assert fast_answers(polling, "/series/alpha.ics", False)
    assert "Retitled while away" in _read(polling.test_client(), "/series/alpha.ics", False)
