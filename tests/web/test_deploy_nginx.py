"""deploy/nginx-eventfeed.conf, run by Debian's nginx in front of the app on loopback
(issue 21): a public feed's second fetch is a cache HIT, an edit is visible at once after
revalidation (also with the cache file's descriptor kept open), keep-alive hits never wait
for a delayed ACK, personal feeds are never cached, and the app sees the client's address."""

from __future__ import annotations

import gzip
import http.client
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.serving import make_server

from events.models import Event, Subscription
from tests.support.records import add_reader
from tests.web.test_stored_feeds import _retitle

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx (Debian package) is not installed")

MAIN = """
user root;
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    # As Debian's /etc/nginx/nginx.conf, whose http block includes the deploy file.
    sendfile on;
    tcp_nopush on;
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include {d}/eventfeed.conf;
}}
"""
TOKEN = "n" * 40


def _port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def proxied(make_app: Callable[..., Flask], tmp_path: Path) -> Iterator[tuple[int, list[str]]]:
    """The app (werkzeug's server, 1 s max-age) behind the deploy config; yields nginx's
    port and the client addresses the app saw."""
    app = make_app(feed_max_age=1, proxy_hops=1)
    seen: list[str] = []
    # Count at the WSGI level, inside ProxyFix: stored feeds are answered before Flask
    # (web.fastpath), so a Flask hook would miss them.
    proxy = app.wsgi_app
    assert isinstance(proxy, ProxyFix)
    inner = proxy.app

    def remember(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(environ.get("REMOTE_ADDR", ""))
        return inner(environ, start_response)

    proxy.app = remember

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = _port()
    config = (ROOT / "deploy" / "nginx-eventfeed.conf").read_text()
    config = config.replace("/var/cache/nginx/eventfeed", str(tmp_path / "cache"))
    config = config.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{server.port};")
    config = re.sub(r"listen 80;", f"listen 127.0.0.1:{port};", config)
    (tmp_path / "eventfeed.conf").write_text(config)
    (tmp_path / "nginx.conf").write_text(MAIN.format(d=tmp_path))
    nginx = subprocess.Popen(
        [
            str(NGINX),
            "-c",
            str(tmp_path / "nginx.conf"),
            "-p",
            str(tmp_path),
            "-e",
            str(tmp_path / "error.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 15
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
                break
            except OSError:
                if time.time() > deadline or nginx.poll() is not None:
                    log = tmp_path / "error.log"
                    raise RuntimeError(log.read_text() if log.exists() else "no nginx") from None
                time.sleep(0.1)
        yield port, seen
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
        server.shutdown()
        server.server_close()


def _get(port: int, path: str, **headers: str) -> tuple[int, Any, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_public_feed_cached_edit_visible_after_revalidation_personal_never_cached(
    proxied: tuple[int, list[str]],
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
) -> None:
    port, seen = proxied
    make_event(id="proxied-1", title="Before the edit", start="2027-03-01 12:00", end="13:00")
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        reader = add_reader(session, "r@example.org", "UTC", TOKEN, now)
        series_id = session.scalars(select(Event.series_id)).first()
        session.add(
            Subscription(
                subscriber_id=reader.id, series_id=series_id, confirmed_at=now, created_at=now
            )
        )

    path = "/series/lisbon-ml.ics"
    status, headers, body = _get(port, path)
    assert status == 200 and headers["X-Cache-Status"] == "MISS"
    assert b"Before the edit" in body
    status, headers, again = _get(port, path)
    assert status == 200 and headers["X-Cache-Status"] == "HIT" and again == body
    # gzip clients have their own cached copy, compressed by the app (none decompressed here)
    status, headers, zipped = _get(port, path, **{"Accept-Encoding": "gzip"})
    assert headers["X-Cache-Status"] == "MISS" and headers["Content-Encoding"] == "gzip"
    status, headers, zipped = _get(port, path, **{"Accept-Encoding": "gzip, deflate"})
    assert headers["X-Cache-Status"] == "HIT" and headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped) == body
    assert headers["Vary"] == "Accept-Encoding"

    requests_before = len(seen)
    _retitle(sessions, "proxied-1", "After the edit")
    time.sleep(2.1)  # the app's max-age (1 s here; nginx counts whole seconds) runs out
    # stale-while-revalidate: this answer may still be the old copy, while nginx
    # revalidates in the background; the edit is visible once that revalidation is done
    status, headers, body = _get(port, path)
    assert headers["X-Cache-Status"] in ("STALE", "EXPIRED", "REVALIDATED")
    if headers["X-Cache-Status"] == "STALE":
        deadline = time.time() + 5
        while len(seen) == requests_before and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        status, headers, body = _get(port, path)
        assert headers["X-Cache-Status"] == "HIT"
    assert status == 200 and b"After the edit" in body and b"Before the edit" not in body
    assert len(seen) == requests_before + 1  # one revalidating request reached the app
    time.sleep(2.1)  # unchanged: revalidation is a 304 from the app, the body from the cache
    _get(port, path)
    deadline = time.time() + 5  # the revalidation may run in the background (a loaded box)
    while len(seen) == requests_before + 1 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    status, headers, body2 = _get(port, path)
    assert body2 == body and len(seen) == requests_before + 2

    # A second edit after that 304 (which rewrote the cached header in place): the feeds
    # location keeps cache files open (open_file_cache), and nginx reopens the file once
    # the entry's inode changed, so the new copy is served, never the old descriptor's.
    _retitle(sessions, "proxied-1", "Third title")
    time.sleep(2.1)
    _get(port, path)
    deadline = time.time() + 5
    while len(seen) == requests_before + 2 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    for _ in range(3):
        status, headers, body3 = _get(port, path)
        assert headers["X-Cache-Status"] == "HIT"
        assert b"Third title" in body3 and b"After the edit" not in body3

    for _ in range(2):
        status, headers, personal = _get(port, f"/s/{TOKEN}.ics")
        assert status == 200 and b"Third title" in personal
        assert "X-Cache-Status" not in headers
        assert headers["Cache-Control"].startswith("private")
    count = len(seen)
    _get(port, f"/s/{TOKEN}.ics")
    assert len(seen) == count + 1  # every personal fetch reaches the app

    # ProxyFix with one trusted hop: the address nginx saw, not what the client claims
    _get(port, "/", **{"X-Forwarded-For": "6.6.6.6"})
    assert seen[-1] == "127.0.0.1"


def _long_talks(
    make_event: Callable[..., Event], prefix: str, count: int, sentences: Callable[[int], int]
) -> None:
    """Make `count` talks whose abstracts repeat a sentence `sentences(n)` times (big feeds)."""
    for n in range(count):
        make_event(
            id=f"{prefix}-{n}",
            title=f"Talk {n} on a long subject",
            abstract=f"Talk {n}: " + "a long abstract with many words. " * sentences(n),
            start=f"2027-{n % 12 + 1:02d}-{n % 28 + 1:02d} 12:00",
            end="13:00",
        )


def test_a_chunked_gzip_feed_decodes_the_same_through_nginx_and_curl(
    proxied: tuple[int, list[str]],
    make_event: Callable[..., Event],
) -> None:
    # A feed big enough for chunked gzip (feeds.gzipped): nginx caches the app's gzip copy
    # and, apart, its plain one; curl --compressed decodes the gzip; all the same bytes.
    from feeds.gzipped import CHUNKED_MIN, boundaries

    port, _ = proxied
    _long_talks(make_event, "big", 70, lambda n: 5 + n % 20)
    path = "/series/lisbon-ml.ics"
    status, headers, zipped = _get(port, path, **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    body = gzip.decompress(zipped)
    assert len(body) >= CHUNKED_MIN and len(boundaries(body)) > 2  # several chunks
    status, headers, zipped_again = _get(port, path, **{"Accept-Encoding": "gzip"})
    assert headers["X-Cache-Status"] == "HIT" and zipped_again == zipped
    status, headers, plain = _get(port, path)
    assert headers["X-Cache-Status"] == "MISS" and "Content-Encoding" not in headers
    assert plain == body  # the app's plain copy equals the chunked stream decoded
    curl = shutil.which("curl")
    if curl is not None:
        done = subprocess.run(
            [curl, "-sS", "--compressed", f"http://127.0.0.1:{port}{path}"],
            capture_output=True,
            check=True,
            timeout=30,
        )
        assert done.stdout == body


def test_keep_alive_hits_of_a_large_plain_copy_never_wait_for_a_delayed_ack(
    proxied: tuple[int, list[str]],
    make_event: Callable[..., Event],
) -> None:
    # Debian's sendfile on + tcp_nopush on (MAIN): a cached body of 64-128 KB, sent from
    # its odd offset in the cache file, stalled each keep-alive hit 40 ms on loopback
    # (Nagle left on after the cork waits for the client's delayed ACK); the feeds
    # location turns the cork off (deploy/nginx-eventfeed.conf).
    port, _ = proxied
    _long_talks(make_event, "large", 60, lambda n: 20 + n % 10)
    path = "/series/lisbon-ml.ics"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        times = []
        for _ in range(25):
            started = time.perf_counter()
            connection.request("GET", path)
            answer = connection.getresponse()
            body = answer.read()
            times.append(time.perf_counter() - started)
            assert answer.status == 200 and not answer.will_close
        assert answer.getheader("X-Cache-Status") == "HIT"
        assert 64 * 1024 < len(body) < 128 * 1024
    finally:
        connection.close()
    hits = sorted(times[2:])  # the MISS and the first HIT aside
    assert hits[len(hits) // 2] < 0.02, [round(1000 * t, 1) for t in times]
