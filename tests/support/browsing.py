"""Browser-test plumbing: the app and host pages served on 127.0.0.1, an owner signed in
through a link, and a page whose console errors are collected."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from events import accounts
from events.db import transaction
from events.models import Series


@contextmanager
def serving(build: Callable[[str], Flask]) -> Iterator[tuple[Flask, str]]:
    """Serve the app `build(root)` makes from a server thread on 127.0.0.1; yield it and root."""
    server = make_server("127.0.0.1", 0, None, threaded=True)  # type: ignore[arg-type]
    root = f"http://127.0.0.1:{server.server_port}"
    app = build(root)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, root
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@contextmanager
def host_pages() -> Iterator[Callable[[str], str]]:
    """Start host servers on 127.0.0.1 (each its own origin), each serving the page given."""
    running: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(page: str) -> str:
        body = page.encode()

        class Host(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Host)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    try:
        yield start
    finally:
        for server, thread in running:
            server.shutdown()
            thread.join()
            server.server_close()


def owner_signin(sessions: sessionmaker[Session], slug: str, email: str, now: datetime) -> str:
    """Make `email` an owner of series `slug`; return the token of a sign-in link for it."""
    with transaction(sessions) as session:
        found = session.scalar(select(Series).where(Series.slug == slug))
        assert found is not None
        accounts.set_role(session, found, email, accounts.OWNER, now)
        made = accounts.create_signin(session, email, now, browser_nonce=None, signup="open")
        assert made is not None
    return made[1]


def watch(page: Any, problems: list[str]) -> Any:
    """Collect the page's console errors and uncaught exceptions in `problems`; return it."""
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return page


def sign_in(page: Any, root: str, token: str) -> None:
    """Follow the sign-in link `token` and press its button."""
    page.goto(f"{root}/login/{token}")
    page.get_by_role("button", name="Sign in").click()
