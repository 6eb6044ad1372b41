"""Beyond one machine (issue 21): two app processes and three send workers on one PostgreSQL
behave like one service: no email twice, no stale feed on either node, one rate limit."""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.clock import SYSTEM_CLOCK
from events.models import Event
from mail import outbox, subscribers
from mail.subscribers import SUBSCRIBE_LIMIT
from tests.conftest import BASE_URL
from tests.support.mailtools import SmtpServer
from tests.web.test_stored_feeds import _retitle

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        conn.close()


def _wait_healthy(port: int, deadline: float, failure: str) -> None:
    """Wait until the server on `port` answers `/healthz` with 200 (by `time.monotonic()`
    `deadline`, else fail with `failure`)."""
    while True:
        try:
            if _get(port, "/healthz")[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, failure
        time.sleep(0.2)


def _post(port: int, path: str, body: str, cookie: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        conn.request("POST", path, body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


@pytest.fixture
def nodes(
    engine: Engine, cli_env: dict[str, str], smtp: SmtpServer, tmp_path: Path
) -> Iterator[tuple[list[int], dict[str, str]]]:
    """Two gunicorn nodes (separate processes) sharing the test PostgreSQL database."""
    if engine.dialect.name != "postgresql":
        pytest.skip("scale-out shares one PostgreSQL (set EVENTFEED_TEST_DATABASE_URL)")
    env = {
        **os.environ,
        **cli_env,
        "EVENTFEED_BASE_URL": BASE_URL,
        "EVENTFEED_SMTP_URL": smtp.url,
        "EVENTFEED_MAIL_FROM": "events@example.org",
        "PYTHONPATH": str(ROOT),
    }
    ports = [_port(), _port()]
    logs = [(tmp_path / f"node-{port}.log").open("wb") for port in ports]
    procs = [
        subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{port}",
                "server:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    try:
        deadline = time.monotonic() + 60
        for port in ports:
            _wait_healthy(port, deadline, "a node did not start")
        yield ports, env
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        for log in logs:
            log.close()


def test_two_nodes_and_three_workers_behave_like_one(
    nodes: tuple[list[int], dict[str, str]],
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
) -> None:
    (a, b), env = nodes
    make_event(id="node-talk", title="Shared talk", start="2027-05-03 12:00", end="13:00")

    # no stale feed: both nodes warm, an edit (from anywhere) is seen by both at once
    urls = ["/series/lisbon-ml.ics", "/series/lisbon-ml.rss", "/calendar.ics", "/feed.json"]
    etags = {}
    for port in (a, b):
        for url in urls:
            status, headers, body = _get(port, url)
            assert status == 200 and b"Shared talk" in body, (port, url)
            etags[url] = headers["ETag"]
    _retitle(sessions, "node-talk", "Edited once")
    for port in (b, a):
        for url in urls:
            status, _, body = _get(port, url, {"If-None-Match": etags[url]})
            assert status == 200 and b"Edited once" in body, (port, url)

    # no duplicate email: 12 readers, three `eventfeed send` processes at once
    for n in range(12):
        with sessions() as session, session.begin():
            subscribers.add_confirmed(
                session, f"r{n}@example.org", ["lisbon-ml"], "UTC", SYSTEM_CLOCK.now()
            )
    with sessions() as session, session.begin():
        queued = outbox.announce(session, store.get_event(session, "node-talk"), SYSTEM_CLOCK.now())
    assert queued == 12
    senders = [
        subprocess.Popen(
            [str(BIN / "eventfeed"), "send", "--batch", "2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(3)
    ]
    assert [proc.wait(timeout=120) for proc in senders] == [0, 0, 0]
    recipients = [m["To"] for m in smtp.inbox.messages]
    assert len(recipients) == 12 and len(set(recipients)) == 12

    # one rate limit: the subscribe form's limit per client address holds across nodes,
    # and the session (CSRF) made by one node is accepted by the other (shared secret key)
    status, headers, page = _get(a, "/series/lisbon-ml/subscribe")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert status == 200 and token is not None
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    answers = [
        _post(
            (a, b)[n % 2],
            "/series/lisbon-ml/subscribe",
            f"csrf_token={token.group(1).decode()}&email=x{n}%40example.org&timezone=UTC"
            "&announcements=on",
            cookie,
        )
        for n in range(SUBSCRIBE_LIMIT + 4)
    ]
    assert answers.count(200) == SUBSCRIBE_LIMIT, answers
    assert answers[SUBSCRIBE_LIMIT:] == [429] * 4, answers
