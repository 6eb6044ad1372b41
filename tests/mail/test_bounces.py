"""`eventfeed bounces FILE...`: delivery status notifications mark addresses bounced."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events.clock import SYSTEM_CLOCK
from events.models import Subscriber
from mail import subscribers


def dsn(recipient: str, action: str, status: str) -> str:
    """Return a delivery status notification (RFC 3464) as a relay writes it."""
    return f"""From: Mail Delivery System <MAILER-DAEMON@relay.example.net>
To: noreply@events.example.org
Subject: Undelivered Mail Returned to Sender
Date: Tue, 01 Dec 2026 03:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host relay.example.net. Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example.net
Arrival-Date: Tue, 01 Dec 2026 02:59:00 +0000

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown

--B
Content-Type: text/rfc822-headers

From: EventFeed <noreply@events.example.org>
To: {recipient}
Subject: [Seminar] A talk

--B--
"""


def test_permanent_failures_in_dsns_mark_addresses_bounced(
    run: Callable[..., Result],
    sessions: sessionmaker[Session],
    write_file: Callable[[str, str | bytes], Path],
    make_series: Callable[..., object],
) -> None:
    make_series(slug="s")
    with sessions() as session, session.begin():
        for address in ("gone@example.org", "slow@example.org", "fine@example.org"):
            subscribers.add_confirmed(session, address, ["s"], "UTC", SYSTEM_CLOCK.now())
    gone = write_file("gone.eml", dsn("gone@example.org", "failed", "5.1.1"))
    slow = write_file("slow.eml", dsn("slow@example.org", "delayed", "4.4.7"))
    stranger = write_file("x.eml", dsn("stranger@example.org", "failed", "5.1.1"))
    other = write_file("other.eml", "From: a@example.org\nSubject: hi\n\nnot a report\n")
    result = run("bounces", str(gone), str(slow), str(stranger), str(other))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "bounced gone@example.org",
        "4 message(s): 1 address(es) marked bounced, 1 temporary, 1 unknown address(es), "
        "1 not a delivery report",
    ]
    with sessions() as session:
        found = {s.email: s for s in session.scalars(select(Subscriber))}
        assert found["gone@example.org"].state == "bounced"
        reason = found["gone@example.org"].bounce_reason or ""
        assert reason.startswith("DSN: 5.1.1 550 5.1.1")
        assert found["slow@example.org"].state == "confirmed"
    listed = run("subscribers", "list")
    assert "gone@example.org\tbounced\tUTC\ts\tbounced " in listed.output
