"""Per-recipient outcomes against a real SMTP server on loopback (issue 14 item 2, issue 17).

A permanent refusal bounces that address and nothing else; a temporary one is retried with
backoff; everyone else is delivered in the same pass on one connection; `eventfeed send`
says what happened in one line and exits non-zero when anything was not delivered.
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import dkim
import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.clock import SYSTEM_CLOCK
from events.models import Event, Outbox, Subscriber
from mail import outbox, sender, subscribers
from server import cli
from tests.support.mailtools import SmtpServer, free_port, text_part
from web.context import state

FUTURE = (SYSTEM_CLOCK.now() + timedelta(days=30)).strftime("%Y-%m-%d")


def add_many(sessions: sessionmaker[Session], addresses: list[str]) -> None:
    """Add confirmed subscribers of lisbon-ml."""
    with sessions() as session, session.begin():
        for address in addresses:
            subscribers.add_confirmed(session, address, ["lisbon-ml"], "UTC", SYSTEM_CLOCK.now())


def announce(sessions: sessionmaker[Session], event_id: str) -> int:
    """Queue the announcement of a talk."""
    with sessions() as session, session.begin():
        return outbox.announce(session, store.get_event(session, event_id), SYSTEM_CLOCK.now())


def send(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run `eventfeed send`; return (exit code, output)."""
    result = CliRunner().invoke(cli, ["send", *args], env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_one_refused_recipient_in_eight_leaves_everyone_else_delivered_in_one_pass(
    cli_env: dict[str, str],
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
) -> None:
    event = make_event(start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00")
    addresses = [f"reader{n:03d}@example.org" for n in range(400)]
    refused = addresses[::8]  # 12.5%
    smtp.inbox.refuse_rcpt = {a: "550 5.1.1 <x>: Recipient address rejected" for a in refused}
    add_many(sessions, addresses)
    assert announce(sessions, event.id) == 400
    env = {**cli_env, "EVENTFEED_SMTP_URL": smtp.url}

    code, output = send(env)

    assert len(smtp.inbox.messages) == 350  # before the fix: 3 in the first run
    assert {m["To"] for m in smtp.inbox.messages} == set(addresses) - set(refused)
    assert len(smtp.inbox.peers) == 1  # one connection for the whole pass (4 batches)
    assert code == 1
    assert output.splitlines()[-1] == (
        "Error: sent 350, deferred 0, bounced 50, failed 0, skipped 0"
    )
    with sessions() as session:
        bounced = session.scalars(
            select(Subscriber.email).where(Subscriber.bounced_at.is_not(None))
        ).all()
        assert sorted(bounced) == refused
        found = session.execute(select(Outbox.status, func.count()).group_by(Outbox.status))
        states = {status: count for status, count in found}
        assert states == {"sent": 350, "bounced": 50}
        reason = session.scalars(
            select(Subscriber.bounce_reason).limit(1).where(Subscriber.email == refused[0])
        ).one()
        assert reason is not None and reason.startswith("550 5.1.1")

    # Never retried, and nothing new goes to a bounced address.
    assert send(env) == (0, "")
    later = make_event(start=f"{FUTURE} 15:00", end=f"{FUTURE} 16:00")
    assert announce(sessions, later.id) == 350

    listed = CliRunner().invoke(cli, ["subscribers", "list"], env=env)
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert len(lines) == 400
    bounced_lines = [line for line in lines if "\tbounced\t" in line]
    assert len(bounced_lines) == 50
    assert bounced_lines[0].startswith(f"{refused[0]}\tbounced\tUTC\tlisbon-ml\tbounced ")
    assert "550 5.1.1" in bounced_lines[0]


def test_temporary_refusals_are_retried_with_backoff(
    app: Flask,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
) -> None:
    event = make_event(start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00")
    add_many(sessions, ["a@example.org", "busy@example.org", "c@example.org"])
    announce(sessions, event.id)
    smtp.inbox.refuse_rcpt = {"busy@example.org": "451 4.7.1 greylisted, try later"}
    settings = state(app).settings.model_copy(update={"smtp_url": smtp.url})
    now = SYSTEM_CLOCK.now()

    first = sender.send_batch(sessions, settings, now=now, progress=False)
    assert (first.sent, first.deferred, first.bounced) == (2, 1, 0)
    assert first.errors == ["busy@example.org: 451 4.7.1 greylisted, try later"]
    # Not due before its backoff.
    early = sender.send_batch(sessions, settings, now=now + timedelta(seconds=30), progress=False)
    assert early.processed == 0
    again = sender.send_batch(sessions, settings, now=now + timedelta(minutes=1), progress=False)
    assert (again.sent, again.deferred) == (0, 1)
    smtp.inbox.refuse_rcpt = {}
    # Second backoff is twice the first.
    early = sender.send_batch(sessions, settings, now=now + timedelta(minutes=2), progress=False)
    assert early.processed == 0
    last = sender.send_batch(sessions, settings, now=now + timedelta(minutes=3), progress=False)
    assert last.sent == 1 and last.ok
    assert sorted(m["To"] for m in smtp.inbox.messages) == [
        "a@example.org",
        "busy@example.org",
        "c@example.org",
    ]
    with sessions() as session:
        assert session.scalars(select(Subscriber.bounced_at)).all() == [None, None, None]


def test_a_message_refused_after_data_bounces_only_its_recipient(
    app: Flask,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
) -> None:
    event = make_event(start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00")
    add_many(sessions, ["a@example.org", "full@example.org", "c@example.org"])
    announce(sessions, event.id)
    smtp.inbox.refuse_data = {"full@example.org": "552 5.2.2 mailbox full"}
    report = sender.send_batch(
        sessions, state(app).settings.model_copy(update={"smtp_url": smtp.url}), progress=False
    )
    assert (report.sent, report.bounced, report.deferred) == (2, 1, 0)
    with sessions() as session:
        subscriber = session.scalars(
            select(Subscriber).where(Subscriber.email == "full@example.org")
        ).one()
        assert subscriber.state == "bounced"
        assert subscriber.bounce_reason == "552 5.2.2 mailbox full"


def test_send_exits_non_zero_with_one_line_when_the_server_is_unreachable(
    cli_env: dict[str, str],
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
) -> None:
    event = make_event(start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00")
    add_many(sessions, ["a@example.org", "b@example.org"])
    announce(sessions, event.id)
    env = {**cli_env, "EVENTFEED_SMTP_URL": f"smtp://127.0.0.1:{free_port()}"}
    code, output = send(env)
    assert code == 1
    last = output.splitlines()[-1]
    assert last.startswith(
        "Error: sent 0, deferred 1, bounced 0, failed 0, skipped 0; SMTP server unreachable: "
    )
    assert "cannot use SMTP server 127.0.0.1" in last
    with sessions() as session:
        rows = session.scalars(select(Outbox).order_by(Outbox.id)).all()
        assert [(r.status, r.attempts) for r in rows] == [("queued", 1), ("queued", 0)]


@pytest.mark.parametrize("offers_8bitmime", [True, False])
def test_utf8_bodies_declare_8bitmime_or_are_transfer_encoded(
    app: Flask,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    offers_8bitmime: bool,
) -> None:
    server = SmtpServer(decode_data=not offers_8bitmime)
    server.start()
    try:
        event = make_event(
            title="冷冻电镜原理 — Café", start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00"
        )
        add_many(sessions, ["a@example.org"])
        announce(sessions, event.id)
        settings = state(app).settings.model_copy(update={"smtp_url": server.url})
        assert sender.send_batch(sessions, settings, progress=False).sent == 1
    finally:
        server.stop()
    [raw] = server.inbox.raw
    [options] = server.inbox.mail_options
    [msg] = server.inbox.messages
    if offers_8bitmime:
        assert "BODY=8BITMIME" in options  # RFC 6152
        assert not raw.isascii()
    else:
        assert not [o for o in options if o.startswith("BODY")]
        assert raw.isascii()  # quoted-printable instead
        encodings = {p["Content-Transfer-Encoding"] for p in msg.walk() if not p.is_multipart()}
        assert "8bit" not in encodings
    assert "冷冻电镜原理 — Café" in text_part(msg)


def test_dkim_signature_verifies_with_the_published_key(
    app: Flask,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    event = make_event(title="冷冻电镜原理 — Café", start=f"{FUTURE} 12:00", end=f"{FUTURE} 13:00")
    add_many(sessions, ["a@example.org"])
    announce(sessions, event.id)
    settings = state(app).settings.model_copy(
        update={"smtp_url": smtp.url, "dkim_key_file": str(key), "dkim_selector": "ef2026"}
    )
    assert sender.send_batch(sessions, settings, progress=False).sent == 1
    [raw] = smtp.inbox.raw
    assert raw.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;")
    domain = settings.mail_from.rsplit("@", 1)[1].rstrip(">")
    looked_up: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        looked_up.append(name)
        return record if name == f"ef2026._domainkey.{domain}.".encode() else b""

    assert dkim.verify(raw, dnsfunc=dns)
    assert looked_up == [f"ef2026._domainkey.{domain}.".encode()]
    tampered = raw.replace("Café".encode(), b"Cafe!")
    assert tampered != raw and not dkim.verify(tampered, dnsfunc=dns)
