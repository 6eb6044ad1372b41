"""Delivering the outbox over SMTP: claim with a lease, build once, send, record the outcome.

Guarantee: **at least once, and in practice exactly once**. A sender claims due rows in one
short transaction (PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`; SQLite: one atomic
`UPDATE ... RETURNING`, SQLite's single writer), marking them `sending` with its name and a
lease. Another sender skips rows under a live lease, so two senders never send the same row
(a sender hands back what it has not sent after half the lease).
The message is built once (emails about one talk from a template per talk version and reader
zone, `feeds.email.EventEmails`) and stored with its Message-ID before the first SMTP
attempt; after the SMTP server accepts it, the row is marked `sent`. The
only window for a duplicate is a crash (or lost database) between the server's acceptance
and that commit (outcomes are committed in groups of up to `RECORD_EVERY` messages or
`RECORD_SECONDS`): the lease then expires (`LEASE`) and the row is sent again, byte-identical
with the same Message-ID, so receiving systems that deduplicate on Message-ID show it once.

Outcome per recipient (`classify`): a permanent refusal (5xx to RCPT or DATA) marks the row
`bounced` and the subscriber's address bounced (`subscribers.mark_bounced`: nothing more is
sent to it, not even what is queued, until its owner confirms again); a temporary refusal
(4xx) puts the row back with exponential backoff (1 min, 2, 4, ... capped at 6 h; given up as
`failed` after `MAX_ATTEMPTS`); either way the next recipient is sent on the same connection
in the same pass. A lost connection (or a refused sender, or 421) ends the pass: the row in
hand is retried with backoff, the rest go back to the queue without counting an attempt.
The SMTP connection (`Mailer`) is kept across messages and, in the worker, across batches.
With several connections (`eventfeed worker --connections N`) each has a thread that sends
while the caller's thread builds and stores the next rows and records outcomes
(`_send_parallel`); the guarantee and the outcomes are the same, with up to N messages in
hand when the pass stops.
"""

from __future__ import annotations

import contextlib
import os
import queue
import smtplib
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Literal, Never
from urllib.parse import unquote, urlsplit

import dkim
from icalendar import Event as IcalEvent
from icalendar import vCalAddress
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker
from tqdm import tqdm

from events.access import is_revealed
from events.clock import SYSTEM_CLOCK
from events.config import Settings
from events.errors import EventFeedError
from events.models import Event, Outbox, PreviousValues, Series, Subscriber
from feeds import email as mail
from feeds import i18n, ical
from feeds.links import Links
from mail import blocks, outbox, subscribers

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 10
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)


class SmtpUnavailable(EventFeedError):
    """The SMTP server could not be reached or dropped the connection."""


@dataclass
class SendReport:
    """What one or more batches of the sender did."""

    sent: int = 0
    deferred: int = 0
    bounced: int = 0
    failed: int = 0
    skipped: int = 0
    unreachable: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def retry(self) -> int:
        """Return the number of messages put back for a later attempt."""
        return self.deferred

    @property
    def processed(self) -> int:
        """Return the number of rows given an outcome."""
        return self.sent + self.deferred + self.bounced + self.failed + self.skipped

    @property
    def ok(self) -> bool:
        """Return whether everything due was delivered (or rightly skipped)."""
        return not (self.deferred or self.bounced or self.failed or self.unreachable)

    def add(self, other: SendReport) -> None:
        """Add the counts of another batch."""
        self.sent += other.sent
        self.deferred += other.deferred
        self.bounced += other.bounced
        self.failed += other.failed
        self.skipped += other.skipped
        self.unreachable = other.unreachable or self.unreachable
        self.errors.extend(other.errors)

    def summary(self) -> str:
        """Return 'sent 350, deferred 0, bounced 50, failed 0, skipped 0' (+ unreachable)."""
        text = (
            f"sent {self.sent}, deferred {self.deferred}, bounced {self.bounced}, "
            f"failed {self.failed}, skipped {self.skipped}"
        )
        if self.unreachable:
            text += f"; SMTP server unreachable: {self.unreachable}"
        return text


def backoff(attempts: int) -> timedelta:
    """Return the wait before attempt number `attempts + 1`."""
    wait: timedelta = BACKOFF_FIRST * (2 ** max(attempts - 1, 0))
    return min(wait, BACKOFF_MAX)


def worker_name() -> str:
    """Return a name for this sender process: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


# -- building -------------------------------------------------------------------------------


def reader_for(subscriber: Subscriber, links: Links) -> mail.Reader:
    """Return the recipient view of a subscriber with their personal links."""
    return mail.Reader(
        email=subscriber.email,
        timezone=subscriber.timezone,
        language=i18n.locale_of(subscriber.language),  # None: a preview's stand-in
        manage_url=links.manage(subscriber.token),
        unsubscribe_url=links.unsubscribe(subscriber.token),
        calendar_url=links.personal_feed(subscriber.token, "ics") if subscriber.active else None,
    )


def event_calendar(
    event: Event, series: Series, settings: Settings, now: datetime | None = None
) -> str:
    """Return the talk's calendar (METHOD:PUBLISH) as the feeds render it, for subscribers
    (a `revealed` meeting's details only when `now` is past its reveal moment)."""
    links = Links(settings.base_url)
    info = ical.CalendarInfo(name=series.name, url=links.series_page(series.slug), method="PUBLISH")
    data = ical.render_calendar(
        [event], info=info, links=links, domain=settings.domain, audience="subscriber", now=now
    )
    return with_organizer(data, series.name, parseaddr(settings.mail_from)[1]).decode("utf-8")


def with_organizer(calendar: bytes, name: str, address: str) -> bytes:
    """Add ORGANIZER (expected with METHOD:PUBLISH in email) to each VEVENT of a calendar."""
    holder = IcalEvent()
    holder.add("organizer", vCalAddress(f"mailto:{address}"), parameters={"CN": name})
    lines = bytes(holder.to_ical()).split(b"\r\n")
    organizer = b"\r\n".join(lines[1:-2]) + b"\r\n"  # between BEGIN and END:VEVENT
    return calendar.replace(b"END:VEVENT\r\n", organizer + b"END:VEVENT\r\n")


def build(
    session: Session,
    row: Outbox,
    settings: Settings,
    envelope: mail.Envelope,
    calendars: dict[tuple[str, int, bool], str] | None = None,
    now: datetime | None = None,
) -> EmailMessage | None:
    """Return the message of an outbox row made at `now`, or None when it must not be sent
    any more."""
    subscriber = row.subscriber
    if subscriber is None:
        return None
    links = Links(settings.base_url)
    reader = reader_for(subscriber, links)
    if row.kind == "confirmation":
        names = [s.name for s in subscriber.subscriptions if s.confirmed_at is None]
        names = names or [s.name for s in subscriber.subscriptions]
        # Asked for after leaving: send it (it resumes nothing until followed); left after
        # asking: drop it.
        left = subscriber.unsubscribed_at
        if not names or (left is not None and left >= row.created_at):
            return None
        confirm_url = links.confirm(subscribers.confirmation_token(subscriber))
        return mail.confirmation_email(names, reader, envelope, confirm_url=confirm_url)
    if not subscriber.active or subscriber.paused:
        return None
    if row.kind == "digest":
        return _digest(session, row, reader, envelope, links)
    if row.kind == "recording":
        return _recording_note(row, links, reader, envelope)
    if row.kind in blocks.BLOCK_KINDS:
        return block_email(session, row, subscriber, settings, reader, envelope, calendars)
    event = _event_to_send(row)
    kind = row.kind
    if event is None or not mail.is_event_kind(kind):
        return None
    return mail.event_email(
        kind,
        event,
        event.series,
        reader,
        envelope,
        event_url=links.event_page(event.id),
        ics=_calendar(event, settings, {} if calendars is None else calendars, now),
        previous=row.payload.get("previous"),
        now=now,
    )


def _recording_note(
    row: Outbox, links: Links, reader: mail.Reader, envelope: mail.Envelope
) -> EmailMessage | None:
    """Return a 'recording available' note, or None when the talk or its link is gone."""
    event = row.event
    link = row.payload.get("link", "")
    url = getattr(event, link, None) if link in ("recording", "slides") else None
    if event is None or event.status == "cancelled" or not isinstance(url, str) or not url:
        return None
    return mail.recording_email(
        event,
        event.series,
        reader,
        envelope,
        link=link,
        url=url,
        event_url=links.event_page(event.id),
    )


def _block_parts(
    session: Session, row: Outbox, subscriber: Subscriber
) -> tuple[Event, list[Event], list[str]] | None:
    """Return (block, talks to list, talks new to this reader) of a session row, or None.

    Records the talks it lists in the row (`payload["talks"]`, see mail.blocks); None when
    the session is gone or cancelled, has no talk left, or an update has nothing new.
    """
    block = row.event
    if block is None or block.status == "cancelled":
        return None
    talks = blocks.talks_of(block)
    added: list[str] = []
    if row.kind == "session-update":
        mine = blocks.block_rows(session, block.id).get(subscriber.id, [])
        seen = blocks.listed([r for r in mine if r.id != row.id])
        added = [t.id for t in talks if t.id not in seen]
        if not added:
            return None
    if not talks:
        return None
    row.payload = {**row.payload, "talks": [t.id for t in talks]}
    return block, talks, added


def _session_builder(
    block: Event,
    talks: list[Event],
    added: list[str],
    settings: Settings,
    calendars: dict[tuple[str, int, bool], str],
) -> tuple[tuple[object, ...], Callable[[mail.Reader, mail.Envelope], EmailMessage]]:
    """Return (template key, builder) of a session's email for any reader."""
    links = Links(settings.base_url)
    urls = {e.id: links.event_page(e.id) for e in (block, *talks)}
    ics = _talks_calendar(talks, block.series, settings, calendars)
    key = ("session", block.id, block.updated_at, block.series.name, tuple(added), ics)

    def build(reader: mail.Reader, envelope: mail.Envelope) -> EmailMessage:
        return mail.session_email(
            block, talks, block.series, reader, envelope, urls=urls, ics=ics, added=added
        )

    return key, build


def block_email(
    session: Session,
    row: Outbox,
    subscriber: Subscriber,
    settings: Settings,
    reader: mail.Reader,
    envelope: mail.Envelope,
    calendars: dict[tuple[str, int, bool], str] | None = None,
) -> EmailMessage | None:
    """Return a session's announcement (or update) from its talks as they are now."""
    parts = _block_parts(session, row, subscriber)
    if parts is None:
        return None
    _, build = _session_builder(*parts, settings, {} if calendars is None else calendars)
    return build(reader, envelope)


def _talks_calendar(
    talks: list[Event],
    series: Series,
    settings: Settings,
    calendars: dict[tuple[str, int, bool], str],
) -> str:
    """Return the talks' calendar, rendered once per set of talk versions into `calendars`."""
    key = (" ".join(f"{t.id}:{t.sequence}:{t.updated_at.isoformat()}" for t in talks), -1, False)
    if key not in calendars:
        calendars[key] = talks_calendar(talks, series, settings)
    return calendars[key]


def talks_calendar(talks: list[Event], series: Series, settings: Settings) -> str:
    """Return talks as one calendar (METHOD:PUBLISH), one VEVENT per talk as in the feeds."""
    links = Links(settings.base_url)
    info = ical.CalendarInfo(name=series.name, url=links.series_page(series.slug), method="PUBLISH")
    data = ical.render_calendar(
        talks, info=info, links=links, domain=settings.domain, audience="subscriber"
    )
    return with_organizer(data, series.name, parseaddr(settings.mail_from)[1]).decode("utf-8")


def _digest(
    session: Session, row: Outbox, reader: mail.Reader, envelope: mail.Envelope, links: Links
) -> EmailMessage | None:
    """Return a digest as its talks are now (a talk deleted since is left out)."""
    parts = _digest_parts(session, row, links)
    if parts is None:
        return None
    items, frequency, day = parts
    return mail.digest_email(items, reader, envelope, frequency=frequency, day=day)


def _digest_parts(
    session: Session, row: Outbox, links: Links
) -> tuple[list[mail.DigestItem], str, date] | None:
    """Return (items, frequency, day) of a digest row as its talks are now, or None.

    Talks already in the session (`_prepare` loads a batch's at once) are not queried again.
    """
    ids = list(row.payload.get("event_ids", []))
    changed = set(row.payload.get("changed", []))
    found = [session.get(Event, i) for i in ids]
    events = sorted((e for e in found if e is not None), key=lambda e: e.id)
    items = [
        mail.DigestItem(
            e, e.series, links.event_page(e.id), links.event_ics(e.id), changed=e.id in changed
        )
        for e in events
        if e.status != "cancelled" or e.id in changed
    ]
    if not items:
        return None
    frequency = str(row.payload.get("frequency", "weekly"))
    day = date.fromisoformat(str(row.payload.get("day", row.created_at.date().isoformat())))
    return items, frequency, day


def _digest_key(items: list[mail.DigestItem], frequency: str, day: date) -> tuple[object, ...]:
    """Return everything `digest_email` reads but the reader's and envelope's own values."""
    return (
        "digest",
        frequency,
        day,
        *(
            (
                i.event.id,
                i.event.title,
                repr(i.event.speakers),
                i.event.start_utc,
                i.event.end_utc,
                i.event.timezone,
                repr(i.event.location),
                i.event.status,
                i.event.livestream,
                i.event.slides,
                i.series.name,
                i.url,
                i.ics_url,
                i.changed,
            )
            for i in items
        ),
    )


def _digest_rendered(
    session: Session,
    row: Outbox,
    subscriber: Subscriber,
    settings: Settings,
    envelope: mail.Envelope,
    emails: mail.EventEmails,
) -> tuple[bytes, str] | None:
    """Return (bytes, subject) of a digest through a template per talk set, day and zone."""
    links = Links(settings.base_url)
    parts = _digest_parts(session, row, links)
    if parts is None:
        return None
    items, frequency, day = parts

    def build(reader: mail.Reader, envelope: mail.Envelope) -> EmailMessage:
        return mail.digest_email(items, reader, envelope, frequency=frequency, day=day)

    key = _digest_key(items, frequency, day)
    return emails.render_built(key, build, reader_for(subscriber, links), envelope)


def _event_to_send(row: Outbox) -> Event | None:
    """Return the talk of an event email, or None when the email must not be sent any more."""
    event = row.event
    if event is None:
        return None
    if row.kind in ("announcement", "reminder") and event.status == "cancelled":
        return None
    return event


def _calendar(
    event: Event,
    settings: Settings,
    calendars: dict[tuple[str, int, bool], str],
    now: datetime | None = None,
) -> str:
    """Return the talk's calendar, rendered once per talk version (and reveal state)."""
    key = (event.id, event.sequence, is_revealed(event.meeting, event.start_utc, now))
    if key not in calendars:
        calendars[key] = event_calendar(event, event.series, settings, now)
    return calendars[key]


def event_message(
    emails: mail.EventEmails,
    kind: mail.EventKind,
    event: Event,
    subscriber: Subscriber,
    settings: Settings,
    envelope: mail.Envelope,
    calendars: dict[tuple[str, int, bool], str],
    previous: PreviousValues | None = None,
    now: datetime | None = None,
) -> tuple[bytes, str]:
    """Return (message bytes, subject) of an email about `event` to `subscriber`, made at
    `now` (a `revealed` meeting's details only after its reveal moment)."""
    links = Links(settings.base_url)
    return emails.render(
        kind,
        event,
        event.series,
        reader_for(subscriber, links),
        envelope,
        event_url=links.event_page(event.id),
        ics=_calendar(event, settings, calendars, now),
        previous=previous,
        now=now,
    )


def render(
    session: Session,
    row: Outbox,
    settings: Settings,
    envelope: mail.Envelope,
    emails: mail.EventEmails,
    calendars: dict[tuple[str, int, bool], str],
    now: datetime | None = None,
) -> tuple[bytes, str] | None:
    """Return (message bytes, subject) of an outbox row, or None as `build` does.

    Emails about one talk come from `emails` (bytes as `build` makes them, see
    `mail.EventEmails`); confirmations and digests from `build`.
    """
    subscriber = row.subscriber
    if (
        row.kind in blocks.BLOCK_KINDS
        and subscriber is not None
        and subscriber.active
        and not subscriber.paused
    ):
        parts = _block_parts(session, row, subscriber)
        if parts is None:
            return None
        key, builder = _session_builder(*parts, settings, calendars)
        reader = reader_for(subscriber, Links(settings.base_url))
        return emails.render_built(key, builder, reader, envelope)
    if row.kind == "digest" and subscriber is not None:
        if not subscriber.active or subscriber.paused:
            return None
        return _digest_rendered(session, row, subscriber, settings, envelope, emails)
    if (
        row.kind not in mail.EVENT_KINDS
        or subscriber is None
        or not subscriber.active
        or subscriber.paused
    ):
        msg = build(session, row, settings, envelope, calendars, now)
        return None if msg is None else (mail.to_bytes(msg), str(msg["Subject"]))
    event = _event_to_send(row)
    if event is None:
        return None
    return event_message(
        emails,
        row.kind,
        event,
        subscriber,
        settings,
        envelope,
        calendars,
        row.payload.get("previous"),
        now,
    )


def preview(session: Session, event: Event, settings: Settings) -> list[tuple[str, bytes]]:
    """Return (recipient, .eml bytes) of the announcement of a talk, queuing nothing."""
    emails = mail.EventEmails()
    calendars: dict[tuple[str, int, bool], str] = {}
    found = []
    block = blocks.block_of(session, event)
    for subscriber in outbox.announced_to(session, event):
        if block is not None:  # the session's one announcement, as it would be built now
            envelope = mail.Envelope.new(settings.mail_from, settings.domain)
            row = Outbox(kind="session", event=block, payload={})
            links = Links(settings.base_url)
            msg = block_email(
                session, row, subscriber, settings, reader_for(subscriber, links), envelope
            )
            if msg is not None:
                found.append((subscriber.email, mail.to_bytes(msg)))
            continue
        envelope = mail.Envelope.new(settings.mail_from, settings.domain)
        data, _ = event_message(
            emails, "announcement", event, subscriber, settings, envelope, calendars
        )
        found.append((subscriber.email, data))
    return found


# -- claiming -------------------------------------------------------------------------------


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        (Outbox.status == "queued") & (Outbox.next_attempt_at <= now),
        (Outbox.status == "sending") & (Outbox.locked_at < now - LEASE),
    )


def claim(factory: sessionmaker[Session], worker: str, batch: int, now: datetime) -> list[int]:
    """Mark up to `batch` due rows as being sent by `worker` (committed); return their ids."""
    with factory() as session, session.begin():
        due = _due(now)
        if session.get_bind().dialect.name == "postgresql":
            query = (
                select(Outbox.id)
                .where(due)
                .order_by(Outbox.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
            ids = list(session.scalars(query))
            if ids:
                session.execute(
                    update(Outbox)
                    .where(Outbox.id.in_(ids))
                    .values(status="sending", locked_by=worker, locked_at=now)
                )
        else:
            chosen = select(Outbox.id).where(due).order_by(Outbox.id).limit(batch)
            result = session.execute(
                update(Outbox)
                .where(Outbox.id.in_(chosen.scalar_subquery()))
                .values(status="sending", locked_by=worker, locked_at=now)
                .returning(Outbox.id)
            )
            ids = sorted(result.scalars())
    return ids


# -- SMTP -----------------------------------------------------------------------------------


def connect(smtp_url: str, timeout: float = 30) -> smtplib.SMTP:
    """Open an SMTP connection from smtp://, smtp+starttls:// or smtps://[user:pass@]host[:port]."""
    parts = urlsplit(smtp_url)
    host = parts.hostname or "localhost"
    try:
        if parts.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, parts.port or 465, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            default_port = 587 if parts.scheme == "smtp+starttls" else 25
            client = smtplib.SMTP(host, parts.port or default_port, timeout=timeout)
            if parts.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
    except (OSError, smtplib.SMTPException) as exc:
        raise SmtpUnavailable(f"cannot use SMTP server {host}: {exc}") from exc
    return client


Outcome = Literal["sent", "bounced", "deferred", "failed", "lost", "skipped"]


def classify(exc: Exception) -> Outcome:
    """Return what an error sending one message means for it.

    `bounced`: the server refused the recipient or the message for good (5xx);
    `deferred`: a temporary refusal (4xx), try this one later; `lost`: the connection is gone
    (or the server refuses our sender or closes with 421), so stop this pass; `failed`: the
    message itself cannot be sent (not encodable).
    """
    if isinstance(exc, UnicodeError | ValueError | smtplib.SMTPNotSupportedError):
        return "failed"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if 421 in codes:
            return "lost"
        return "bounced" if codes and all(code >= 500 for code in codes) else "deferred"
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPServerDisconnected):
        return "lost"
    if isinstance(exc, smtplib.SMTPResponseException):
        if exc.smtp_code == 421 or exc.smtp_code < 400:
            return "lost"
        return "bounced" if exc.smtp_code >= 500 else "deferred"
    if isinstance(exc, smtplib.SMTPException):
        return "deferred"
    return "lost"  # SmtpUnavailable, socket errors, timeouts


def _reason(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [f"{code} {_text(answer)}" for code, answer in exc.recipients.values()]
        return "; ".join(parts)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _text(answer: bytes | str) -> str:
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)


# Signed headers (those present): what a reader sees and what list software acts on.
DKIM_HEADERS = [
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
]


class Mailer:
    """One SMTP connection, opened when first needed and reused for every message after.

    A connection idle for `IDLE_CHECK` seconds is checked with NOOP before use (servers drop
    idle clients), so the worker can keep it between batches.
    """

    IDLE_CHECK = 20.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.envelope_from = parseaddr(settings.mail_from)[1]
        self.client: smtplib.SMTP | None = None
        self.used_at = 0.0
        self.connections = 0
        self.dkim_key = (
            Path(settings.dkim_key_file).read_bytes() if settings.dkim_key_file else None
        )
        self.dkim_domain = self.envelope_from.rsplit("@", 1)[-1].encode("ascii")

    def _ready(self) -> smtplib.SMTP:
        if self.client is not None and time.monotonic() - self.used_at > self.IDLE_CHECK:
            try:
                code, _ = self.client.noop()
            except (OSError, smtplib.SMTPException):
                code = -1
            if code != 250:
                self.close()
        if self.client is None:
            self.client = connect(self.settings.smtp_url)
            self.connections += 1
        return self.client

    def send(self, recipient: str, message: bytes) -> None:
        """Send one message to one recipient, or raise as smtplib does.

        With `mail_catch` (development and demo) nothing is sent: the message stays in its
        outbox row, marked sent, for the mail viewer at /dev/mail.
        """
        if self.settings.mail_catch:
            return
        client = self._ready()
        client.ehlo_or_helo_if_needed()  # the extensions offered, before choosing the options
        options: list[str] = []
        if _has_8bit(message):
            if client.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")  # RFC 6152
            else:
                message = mail.seven_bit(message)
        if self.dkim_key is not None:
            message = self.sign(message)
        try:
            client.sendmail(self.envelope_from, [recipient], message, mail_options=options)
        finally:
            self.used_at = time.monotonic()

    def sign(self, message: bytes) -> bytes:
        """Return the message with a DKIM-Signature (rsa-sha256, relaxed/relaxed) on top."""
        assert self.dkim_key is not None
        header = dkim.sign(
            message,
            self.settings.dkim_selector.encode("ascii"),
            self.dkim_domain,
            self.dkim_key,
            include_headers=DKIM_HEADERS,
            linesep=b"\r\n",
        )
        return bytes(header) + message

    def close(self) -> None:
        """Say QUIT (or just drop the connection)."""
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def _has_8bit(message: bytes) -> bool:
    return not message.isascii()


def _prepare(
    factory: sessionmaker[Session],
    ids: list[int],
    worker: str,
    settings: Settings,
    emails: mail.EventEmails | None = None,
    now: datetime | None = None,
) -> dict[int, tuple[str, bytes]]:
    """Build and store (once) the messages of claimed rows, in one transaction.

    Returns {row id: (recipient, message bytes)} for the rows still to send; rows that must
    not be sent any more (unsubscribed, bounced, talk gone or cancelled) are marked `skipped`.
    `emails` holds talk templates from earlier batches (a new one when None).
    """
    ready: dict[int, tuple[str, bytes]] = {}
    calendars: dict[tuple[str, int, bool], str] = {}
    emails = mail.EventEmails() if emails is None else emails
    now = now or SYSTEM_CLOCK.now()
    with factory() as session, session.begin():
        # Subscribers and talks in two queries, not one lazy load (and autoflush) per row.
        query = (
            select(Outbox)
            .where(Outbox.id.in_(ids))
            .order_by(Outbox.id)
            .options(selectinload(Outbox.subscriber), selectinload(Outbox.event))
        )
        rows = session.scalars(query).all()
        # A digest lists many talks: those of the whole batch in one query (kept here, so
        # the session's identity map holds them while the batch is built).
        digested = {i for row in rows if row.kind == "digest" for i in _digest_ids(row)}
        talks = (
            session.scalars(
                select(Event).where(Event.id.in_(digested)).options(selectinload(Event.series))
            ).all()
            if digested
            else []
        )
        for row in rows:
            if row.status != "sending" or row.locked_by != worker:
                continue
            subscriber = row.subscriber
            # A sign-in email goes to an organiser, not a subscriber (built when queued).
            if row.kind not in ("confirmation", "signin", "notice") and (
                subscriber is None or not subscriber.mailable
            ):
                reason = "address bounced" if subscriber and subscriber.bounced_at else None
                row.status, row.last_error, row.locked_by = (
                    "skipped",
                    reason or "not subscribed any more",
                    None,
                )
                continue
            if row.message is None:
                envelope = mail.Envelope.new(settings.mail_from, settings.domain)
                rendered = render(session, row, settings, envelope, emails, calendars, now)
                if rendered is None:
                    row.status, row.last_error, row.locked_by = "skipped", "nothing to send", None
                    continue
                row.message, row.subject = rendered
                row.message_id = envelope.message_id
            ready[row.id] = (row.recipient, row.message)
        del talks
    return ready


def _digest_ids(row: Outbox) -> list[str]:
    """Return the ids of the talks a digest row lists."""
    ids = row.payload.get("event_ids", [])
    return [str(i) for i in ids] if isinstance(ids, list) else []


RECORD_EVERY = 50  # outcomes recorded per transaction (and at least every RECORD_SECONDS)
RECORD_SECONDS = 1.0


def _record(
    factory: sessionmaker[Session],
    outcomes: list[tuple[int, Outcome, Exception | None]],
    now: datetime,
    report: SendReport,
) -> None:
    """Record the outcomes of sent rows in one transaction (sent rows in one UPDATE)."""
    if not outcomes:
        return
    with factory() as session, session.begin():
        sent = [row_id for row_id, outcome, _ in outcomes if outcome == "sent"]
        if sent:
            session.execute(
                update(Outbox)
                .where(Outbox.id.in_(sent))
                .values(
                    status="sent",
                    sent_at=now,
                    last_error=None,
                    attempts=Outbox.attempts + 1,
                    locked_by=None,
                    locked_at=None,
                )
            )
            report.sent += len(sent)
        for row_id, outcome, error in outcomes:
            if outcome != "sent":
                _finish(session, row_id, now, outcome, error, report)
    outcomes.clear()


def _finish(
    session: Session,
    row_id: int,
    now: datetime,
    outcome: Outcome,
    error: Exception | None,
    report: SendReport,
) -> None:
    """Record the outcome of one row that was not sent."""
    row = session.get(Outbox, row_id)
    if row is None:
        return
    row.locked_by = None
    row.locked_at = None
    if outcome == "skipped":
        row.status, row.last_error = "skipped", "address bounced"
        report.skipped += 1
        return
    row.attempts += 1
    reason = _reason(error) if error is not None else outcome
    row.last_error = reason[:2000]
    report.errors.append(f"{row.recipient}: {row.last_error}")
    if outcome == "bounced":
        row.status = "bounced"
        report.bounced += 1
        if row.subscriber is not None:
            subscribers.mark_bounced(session, row.subscriber, reason, now)
    elif outcome in ("deferred", "lost") and row.attempts < MAX_ATTEMPTS:
        row.status = "queued"
        row.next_attempt_at = now + backoff(row.attempts)
        report.deferred += 1
    else:
        row.status = "failed"
        report.failed += 1


def _release(factory: sessionmaker[Session], ids: list[int], worker: str) -> None:
    """Return claimed rows to the queue without counting an attempt."""
    if not ids:
        return
    with factory() as session, session.begin():
        session.execute(
            update(Outbox)
            .where(Outbox.id.in_(ids), Outbox.locked_by == worker, Outbox.status == "sending")
            .values(status="queued", locked_by=None, locked_at=None)
        )


def queue_due(factory: sessionmaker[Session], now: datetime) -> int:
    """Queue the reminders and digests that are due (idempotent)."""
    return queue_reminders(factory, now) + queue_digests(factory, now)


def queue_reminders(factory: sessionmaker[Session], now: datetime) -> int:
    """Queue the reminders that are due, in one transaction (idempotent)."""
    with factory() as session, session.begin():
        return outbox.queue_reminders(session, now)


def queue_digests(factory: sessionmaker[Session], now: datetime) -> int:
    """Queue the daily and weekly digests that are due, in one transaction (idempotent)."""
    with factory() as session, session.begin():
        return outbox.queue_digests(session, now)


def send_batch(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    batch: int = 100,
    now: datetime | None = None,
    worker: str | None = None,
    progress: bool | None = None,
    on_sent: Callable[[int], None] | None = None,
    emails: mail.EventEmails | None = None,
    mailer: Mailer | None = None,
    stop: Callable[[], bool] | None = None,
    mailers: Sequence[Mailer] = (),
) -> SendReport:
    """Claim and deliver up to `batch` due emails; record each outcome.

    Pass the same `emails` to successive batches to render each talk's email once for all,
    and the same `mailer` to keep one SMTP connection (closed here when not given). `stop`
    is asked before each message: when it answers True, the rest go back to the queue.
    With two or more `mailers` (connections kept by the caller), messages go out on all of
    them at once, one thread each (`_send_parallel`); outcomes are recorded as above.
    """
    now = now or SYSTEM_CLOCK.now()
    worker = worker or worker_name()
    report = SendReport()
    ids = claim(factory, worker, batch, now)
    if not ids:
        return report
    own = mailer is None and not mailers
    smtp = mailer or (mailers[0] if mailers else Mailer(settings))
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(ids), desc="sending", unit="email", disable=not show, file=sys.stderr)
    if len(mailers) > 1:

        def prepare(chunk: list[int]) -> dict[int, tuple[str, bytes]]:
            found = _prepare(factory, chunk, worker, settings, emails, now)
            report.skipped += len(chunk) - len(found)
            bar.update(len(chunk) - len(found))
            return found

        try:
            _send_parallel(
                factory, ids, prepare, list(mailers), now, worker, report, stop, bar, on_sent
            )
        finally:
            bar.close()
        return report
    ready = _prepare(factory, ids, worker, settings, emails, now)
    report.skipped = len(ids) - len(ready)
    bar.update(report.skipped)
    todo = [row_id for row_id in ids if row_id in ready]
    started = recorded = time.monotonic()
    bounced: set[str] = set()
    done: list[tuple[int, Outcome, Exception | None]] = []
    try:
        for index, row_id in enumerate(todo):
            if (stop is not None and stop()) or (
                time.monotonic() - started > LEASE.total_seconds() / 2
            ):
                # Stop well before the lease ends, so no other sender can take these rows
                # while this one still sends them.
                _record(factory, done, now, report)
                _release(factory, todo[index:], worker)
                break
            recipient, message = ready[row_id]
            if recipient in bounced:
                done.append((row_id, "skipped", None))
                continue
            try:
                smtp.send(recipient, message)
            except (OSError, smtplib.SMTPException, SmtpUnavailable, ValueError) as exc:
                outcome = classify(exc)
                done.append((row_id, outcome, exc))
                if outcome == "bounced":
                    bounced.add(recipient)
                if outcome == "lost":
                    report.unreachable = _reason(exc)
                    smtp.close()
                    _record(factory, done, now, report)
                    _release(factory, todo[index + 1 :], worker)
                    break
                continue
            done.append((row_id, "sent", None))
            bar.update(1)
            if on_sent is not None:
                on_sent(row_id)
            if len(done) >= RECORD_EVERY or time.monotonic() - recorded > RECORD_SECONDS:
                _record(factory, done, now, report)
                recorded = time.monotonic()
        _record(factory, done, now, report)
    finally:
        if done:  # interrupted: keep what was delivered
            with contextlib.suppress(SQLAlchemyError):
                _record(factory, done, now, report)
        bar.close()
        if own:
            smtp.close()
    return report


PREPARE_EVERY = 100  # rows built and stored per transaction while the others are sent


def _send_parallel(
    factory: sessionmaker[Session],
    ids: list[int],
    prepare: Callable[[list[int]], dict[int, tuple[str, bytes]]],
    mailers: list[Mailer],
    now: datetime,
    worker: str,
    report: SendReport,
    stop: Callable[[], bool] | None,
    bar: tqdm[Never],
    on_sent: Callable[[int], None] | None = None,
) -> None:
    """Send claimed rows on every mailer at once (a thread each); build and record here.

    This thread builds and stores the messages `PREPARE_EVERY` rows at a time (each part
    committed before any of its messages is sent, as in the sequential path) and hands
    them to the sending threads, which send them while it builds the next part; it records
    the outcomes as the sequential loop does (every `RECORD_EVERY` or `RECORD_SECONDS`).
    A lost connection, `stop`, or half the lease gone stops every thread after the message
    in hand; the rows not taken go back to the queue without counting an attempt.
    """
    ready: dict[int, tuple[str, bytes]] = {}
    todo: list[int] = []
    built = threading.Condition()
    complete = False  # every part built
    halt = threading.Event()
    outcomes: queue.SimpleQueue[tuple[int, Outcome, Exception | None] | None]
    outcomes = queue.SimpleQueue()
    bounced: set[str] = set()
    crashed: list[BaseException] = []
    taken = 0
    started = recorded = time.monotonic()

    def take() -> int | None:
        nonlocal taken
        with built:
            while True:
                if halt.is_set():
                    return None
                if taken < len(todo):
                    break
                if complete:
                    return None
                built.wait(0.5)
            if (stop is not None and stop()) or (
                time.monotonic() - started > LEASE.total_seconds() / 2
            ):
                halt.set()
                return None
            taken += 1
            return todo[taken - 1]

    def run(smtp: Mailer) -> None:
        try:
            while (row_id := take()) is not None:
                recipient, message = ready[row_id]
                if recipient in bounced:
                    outcomes.put((row_id, "skipped", None))
                    continue
                try:
                    smtp.send(recipient, message)
                except (OSError, smtplib.SMTPException, SmtpUnavailable, ValueError) as exc:
                    outcome = classify(exc)
                    if outcome == "bounced":
                        bounced.add(recipient)
                    if outcome == "lost":
                        report.unreachable = _reason(exc)
                        halt.set()
                        smtp.close()
                    outcomes.put((row_id, outcome, exc))
                    continue
                outcomes.put((row_id, "sent", None))
        except BaseException as exc:  # noqa: BLE001 - raised again by the recording thread
            crashed.append(exc)
            halt.set()
        finally:
            outcomes.put(None)

    threads = [
        threading.Thread(target=run, args=(smtp,), name=f"smtp-{n}", daemon=True)
        for n, smtp in enumerate(mailers)
    ]
    done: list[tuple[int, Outcome, Exception | None]] = []
    running = len(threads)

    def collect(block: bool) -> None:
        nonlocal running, recorded
        while running:
            try:
                item = outcomes.get(block=block)
            except queue.Empty:
                return
            if item is None:
                running -= 1
                continue
            done.append(item)
            if item[1] == "sent":
                bar.update(1)
                if on_sent is not None:
                    on_sent(item[0])
            if len(done) >= RECORD_EVERY or time.monotonic() - recorded > RECORD_SECONDS:
                _record(factory, done, now, report)
                recorded = time.monotonic()

    try:
        for thread in threads:
            thread.start()
        for start in range(0, len(ids), PREPARE_EVERY):
            if halt.is_set():
                break
            chunk = ids[start : start + PREPARE_EVERY]
            found = prepare(chunk)
            with built:
                ready.update(found)
                todo.extend(row_id for row_id in chunk if row_id in found)
                built.notify_all()
            collect(block=False)
        with built:
            complete = True
            built.notify_all()
        collect(block=True)
    finally:
        halt.set()
        with built:
            built.notify_all()
        for thread in threads:
            thread.join()
        while not outcomes.empty():
            item = outcomes.get()
            if item is not None:
                done.append(item)
        with contextlib.suppress(SQLAlchemyError):
            _record(factory, done, now, report)
        sent = set(todo[:taken])
        _release(factory, [row_id for row_id in ids if row_id not in sent], worker)
    if crashed:
        raise crashed[0]
