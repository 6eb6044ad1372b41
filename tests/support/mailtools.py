"""A real SMTP server on loopback (aiosmtpd) that collects parsed messages, and mail helpers."""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient

from events.config import Settings
from web.context import state


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Inbox:
    """Messages the server accepted, parsed, in arrival order."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    # Answers to RCPT TO / DATA by recipient address (e.g. "550 5.1.1 no such user").
    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    refuse_data: dict[str, str] = field(default_factory=dict)
    peers: set[Any] = field(default_factory=set)
    mail_options: list[list[str]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    parsed: list[EmailMessage] = field(default_factory=list)

    @property
    def messages(self) -> list[EmailMessage]:
        """Return the accepted messages, parsed (lazily: the server thread only stores bytes)."""
        with self.lock:
            for raw in self.raw[len(self.parsed) :]:
                found = message_from_bytes(raw, policy=policy.default)
                assert isinstance(found, EmailMessage)
                self.parsed.append(found)
            return list(self.parsed)

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        """Refuse the addresses of `refuse_rcpt`, accept the others."""
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Accept and keep every message (but those of `refuse_data`)."""
        for address in envelope.rcpt_tos:
            if address in self.refuse_data:
                return self.refuse_data[address]
        raw = envelope.original_content or envelope.content
        with self.lock:
            self.raw.append(raw)
            self.peers.add(session.peer)
            self.mail_options.append(list(envelope.mail_options))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        """Return the messages addressed to `address`."""
        return [m for m in self.messages if m["To"] == address]


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that can be stopped and started again on its port."""

    def __init__(self, **smtp_options: Any) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.controller: Controller | None = None
        # aiosmtpd.smtp.SMTP options: decode_data=True stops offering 8BITMIME.
        self.smtp_options = smtp_options

    @property
    def url(self) -> str:
        """Return the EVENTFEED_SMTP_URL of this server."""
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start listening."""
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, **self.smtp_options
        )
        self.controller.start()

    def stop(self) -> None:
        """Stop listening (connections are dropped)."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def smtp_settings(app: Flask, smtp: SmtpServer) -> Settings:
    """Return the app's settings pointed at the test SMTP server."""
    return state(app).settings.model_copy(update={"smtp_url": smtp.url})


def text_part(msg: EmailMessage) -> str:
    """Return the text/plain body."""
    part = msg.get_body(("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


def html_part(msg: EmailMessage) -> str:
    """Return the text/html body."""
    part = msg.get_body(("html",))
    assert part is not None
    content: str = part.get_content()
    return content


def calendar_part(msg: EmailMessage) -> EmailMessage:
    """Return the text/calendar part."""
    found = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(found) == 1
    part = found[0]
    assert isinstance(part, EmailMessage)
    return part


def link(msg: EmailMessage, pattern: str) -> str:
    """Return the first URL in the text part that matches `pattern`."""
    found = re.search(rf"https?://\S*{pattern}\S*", text_part(msg))
    assert found, f"no link matching {pattern!r}"
    return found.group(0)


def csrf(client: FlaskClient, url: str) -> str:
    """GET a page and return the CSRF token of its form."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found
    return found.group(1)


def path_of(url: str) -> str:
    """Return the path of an absolute URL (for the test client)."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]
