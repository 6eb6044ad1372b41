"""Emails to a series' organisers (not subscribers): built when queued, sent by the worker."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from events.config import Settings
from feeds import email as mail_email
from mail import outbox

NOTICE = "notice"  # the outbox kind: no subscriber, sent as built


def queue_notice(
    session: Session,
    recipients: Iterable[str],
    subject: str,
    text: str,
    settings: Settings,
    now: datetime,
    *,
    key: str,
) -> int:
    """Queue one plain-text notice per organiser address; `key` makes each row unique."""
    count = 0
    for address in sorted(set(recipients)):
        envelope = mail_email.Envelope.new(settings.mail_from, settings.domain)
        msg = envelope.message(address, subject)
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(text)
        row_key = f"{NOTICE}:{key}:{address}"[:300]
        session.add(outbox.built(NOTICE, row_key, address, subject, msg, envelope.message_id, now))
        count += 1
    session.flush()
    return count
