"""Large workspace imports applied in the background by the worker: progress, summary, errors.

The threshold (`import_background_talks`) is lowered to 3 talks so a 5-talk file is "large".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import import_jobs, importer
from events.clock import FrozenClock
from events.models import ImportJob
from mail.worker import run_imports
from tests.web.test_organise import organiser, post, signed_in
from tests.web.test_organise_import import (
    NOW,
    SLUG,
    events_file,
    rows,
    talk,
    upload,
)
from tests.web.test_organise_import import owner as owner  # noqa: PLC0414  (fixture by name)

WriteFile = Callable[[str, "str | bytes"], Path]


@pytest.fixture
def web(make_app: Callable[..., Flask]) -> Flask:
    """An app on a frozen clock that hands files of more than 3 talks to the worker."""
    return make_app(clock=FrozenClock(NOW), import_background_talks=3)


def queue_large(client: FlaskClient, raw: bytes) -> str:
    """Upload and apply a large file; return the job page's URL."""
    preview_url = upload(client, raw).headers["Location"]
    sent = post(client, preview_url, {})
    assert sent.status_code == 302
    location: str = sent.headers["Location"]
    assert "/import/jobs/" in location
    return location


def test_a_large_file_is_applied_by_the_worker(
    owner: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    before = rows(sessions)
    raw = events_file(talk(1), talk(2, title="Renamed"), talk(3), talk(4), talk(5))
    job_url = queue_large(owner, raw)
    html = owner.get(job_url).get_data(as_text=True)
    assert "Waiting for the worker" in html and '<progress id="import-progress" max="5"' in html
    assert 'href="' + job_url + '"' in html  # the reload button without JavaScript
    assert owner.get(job_url + ".json").get_json()["status"] == "queued"
    assert rows(sessions) == before  # nothing written by the web request
    assert run_imports(sessions, NOW) == 1
    after = rows(sessions)
    assert after["t2"][0] == "Renamed" and {"t4", "t5"} <= after.keys()
    html = owner.get(job_url).get_data(as_text=True)
    assert "Imported talks.yaml: 2 new, 1 changed, 2 unchanged." in html
    status = owner.get(job_url + ".json").get_json()
    assert status["status"] == "done" and status["done"] == status["total"] == 5
    assert status["summary"] == {"created": 2, "updated": 1, "unchanged": 2, "cancelled": 0}
    with sessions() as session:
        assert session.scalars(select(ImportJob.raw)).one() is None  # bytes dropped at the end
    assert run_imports(sessions, NOW) == 0


def test_a_small_file_still_applies_at_once(
    owner: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    preview_url = upload(owner, events_file(talk(1, title="Now"))).headers["Location"]
    done = post(owner, preview_url, {})
    assert done.headers["Location"].endswith(f"/organise/series/{SLUG}")
    assert rows(sessions)["t1"][0] == "Now"


def test_an_error_in_the_last_row_writes_nothing(
    owner: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    before = rows(sessions)
    raw = events_file(talk(1, title="X"), talk(4), talk(5), talk(6, end="nope"))
    job_url = queue_large(owner, raw)
    assert run_imports(sessions, NOW) == 1
    assert rows(sessions) == before
    html = owner.get(job_url).get_data(as_text=True)
    assert "This file was not imported" in html and "Nothing was imported:" in html
    assert "end" in owner.get(job_url + ".json").get_json()["error"]


def test_progress_is_reported_in_its_own_transaction(
    owner: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    job_url = queue_large(owner, events_file(*(talk(n) for n in range(1, 6))))
    job_id = int(job_url.rsplit("/", 1)[1])
    report = import_jobs.reporter(sessions, job_id, lambda: NOW)
    seen = []
    with sessions() as session, session.begin():
        session.get_one(ImportJob, job_id).status = "running"
    for done in (1, 3, 4):
        report(done, 5)
        seen.append(owner.get(job_url + ".json").get_json()["done"])
    assert seen == [1, 3, 4]
    assert 'Talks checked: <span id="import-done">4</span> of 5' in owner.get(job_url).get_data(
        as_text=True
    )


def test_apply_calls_on_progress_every_batch(
    sessions: sessionmaker[Session], make_series: Callable[..., Any]
) -> None:
    make_series(slug="big")
    count = 2 * importer.PROGRESS_EVERY + 50
    talks = [
        {"id": f"b{n}", "title": f"B{n}", "start": "2026-05-01 10:00", "end": "2026-05-01 11:00"}
        for n in range(count)
    ]
    parsed = importer.parse_bytes("big.yaml", events_file(*talks), "yaml", "big", NOW)
    calls: list[tuple[int, int]] = []
    with sessions() as session:
        importer.apply(
            session, parsed, NOW, progress=False, on_progress=lambda d, t: calls.append((d, t))
        )
        session.rollback()
    step = importer.PROGRESS_EVERY
    assert calls == [(step, count), (2 * step, count)]


def test_only_the_series_organisers_see_a_job(
    owner: FlaskClient, web: Flask, sessions: sessionmaker[Session]
) -> None:
    job_url = queue_large(owner, events_file(*(talk(n) for n in range(1, 6))))
    outsider = signed_in(web, organiser(sessions, "other@example.org"))
    assert outsider.get(job_url).status_code == 404
    assert outsider.get(job_url + ".json").status_code == 404
    admin = signed_in(web, organiser(sessions, "root@example.org", admin=True))
    assert admin.get(job_url).status_code == 200
    assert owner.get(job_url.replace(SLUG, "no-such-series")).status_code == 404
    assert owner.get(job_url.rsplit("/", 1)[0] + "/9999").status_code == 404


CHILD = """
import sys, time
from datetime import UTC, datetime
from events import import_jobs, db
real = import_jobs.reporter
def stalling(factory, job_id, clock):
    report = real(factory, job_id, clock)
    def stall(done, total):
        report(done, total)
        print("progress", done, flush=True)
        time.sleep(120)
    return stall
import_jobs.reporter = stalling
factory = db.make_sessionmaker(db.make_engine(sys.argv[1]))
now = datetime.now(UTC)
import_jobs.run(factory, import_jobs.claim(factory, now), now, lambda: datetime.now(UTC))
"""


def test_a_worker_killed_mid_job_writes_nothing_and_the_job_runs_again(
    owner: FlaskClient, sessions: sessionmaker[Session], database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("live progress (and so a kill after it) is PostgreSQL's")
    before = rows(sessions)
    count = importer.PROGRESS_EVERY + 20
    talks = [talk(1, title="Killed?")] + [
        {"id": f"k{n}", "title": f"K{n}", "start": "2026-05-01 10:00", "end": "2026-05-01 11:00"}
        for n in range(count)
    ]
    job_url = queue_large(owner, events_file(*talks))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, database_url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().split() == ["progress", str(importer.PROGRESS_EVERY)]
        status = owner.get(job_url + ".json").get_json()
        assert status["status"] == "running" and status["done"] == importer.PROGRESS_EVERY
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert rows(sessions) == before
    assert run_imports(sessions, datetime.now(UTC)) == 0  # not stale yet: left alone
    later = datetime.now(UTC) + import_jobs.STALE + import_jobs.STALE
    assert run_imports(sessions, later) == 1
    assert rows(sessions)["t1"][0] == "Killed?" and len(rows(sessions)) == 3 + count
    status = owner.get(job_url + ".json").get_json()
    assert status["status"] == "done" and status["summary"]["created"] == count
