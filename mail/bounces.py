"""Learning about bounces after the fact: delivery status notifications (RFC 3464).

A relay that accepted a message may fail to deliver it later and send a DSN back to the
envelope sender (EVENTFEED_MAIL_FROM's mailbox). Save those messages (one .eml each, or an
mbox) and feed them to `eventfeed bounces FILE...`: every recipient a DSN reports with
`Action: failed` and a permanent status (5.x.x) is marked bounced, exactly like a 5xx
refusal while sending (`subscribers.mark_bounced`). Temporary reports (4.x.x, `delayed`)
and messages that are not DSNs are counted and ignored.
"""

from __future__ import annotations

import mailbox
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

from sqlalchemy.orm import Session

from mail import subscribers


@dataclass
class BounceReport:
    """What `eventfeed bounces` found."""

    messages: int = 0
    not_dsn: int = 0
    temporary: int = 0
    bounced: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Return one line."""
        return (
            f"{self.messages} message(s): {len(self.bounced)} address(es) marked bounced, "
            f"{self.temporary} temporary, {len(self.unknown)} unknown address(es), "
            f"{self.not_dsn} not a delivery report"
        )


def failures(msg: Message) -> tuple[list[tuple[str, str]], int] | None:
    """Return ([(address, status)] permanently failed, temporary count), or None if not a DSN."""
    if msg.get_content_type() != "multipart/report":
        return None
    if str(msg.get_param("report-type", "")).lower() != "delivery-status":
        return None
    failed: list[tuple[str, str]] = []
    temporary = 0
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        # Its payload is a list of header blocks: the message's, then one per recipient.
        blocks = part.get_payload()
        for block in blocks[1:] if isinstance(blocks, list) else []:
            if not isinstance(block, Message):
                continue
            recipient = str(block.get("Final-Recipient", "")).split(";", 1)[-1].strip()
            action = str(block.get("Action", "")).strip().lower()
            status = str(block.get("Status", "")).strip()
            if not recipient:
                continue
            if action == "failed" and status.startswith("5"):
                reason = str(block.get("Diagnostic-Code", "")).split(";", 1)[-1].strip()
                failed.append((recipient.strip("<>"), f"{status} {reason}".strip()))
            else:
                temporary += 1
    return failed, temporary


def read_messages(path: Path) -> list[Message]:
    """Return the messages of an .eml file or an mbox."""
    data = path.read_bytes()
    if data.startswith(b"From "):
        return [message_from_bytes(m.as_bytes(), policy=policy.default) for m in mailbox.mbox(path)]
    return [message_from_bytes(data, policy=policy.default)]


def apply(session: Session, messages: list[Message], now: datetime) -> BounceReport:
    """Mark the addresses of permanent failures bounced; return what was found."""
    report = BounceReport()
    for msg in messages:
        report.messages += 1
        found = failures(msg)
        if found is None:
            report.not_dsn += 1
            continue
        failed, temporary = found
        report.temporary += temporary
        for address, reason in failed:
            subscriber = subscribers.by_email(session, address.lower()) or subscribers.by_email(
                session, address
            )
            if subscriber is None:
                report.unknown.append(address)
                continue
            subscribers.mark_bounced(session, subscriber, f"DSN: {reason}", now)
            report.bounced.append(subscriber.email)
    return report
