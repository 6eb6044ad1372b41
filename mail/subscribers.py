"""Subscribing, confirming, managing and leaving: the rules shared by the web, API and CLI.

Double opt-in: a new subscription is stored unconfirmed and only a confirmation email is
queued; nothing else goes to an address until its owner follows the confirmation link.
The confirmation link carries a token signed (itsdangerous, 7 days) with the subscriber's own
secret feed token, so it works across processes without a shared secret and dies when the
token is rotated.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from events import store, times, topics
from events.errors import EventFeedError, InvalidRecord, NotFound
from events.models import Outbox, Subscriber, Subscription
from events.models.mail import FREQUENCIES, TOPIC_KEY
from feeds import i18n
from mail import outbox

CONFIRM_MAX_AGE = 7 * 24 * 3600
# Subscribe requests per client address and hour (form and API together).
SUBSCRIBE_LIMIT = 20
DEFAULT_REMINDER_HOURS = 24
# Confirmation emails per address, however often the form is posted with it.
CONFIRMATION_INTERVAL = timedelta(hours=1)
CONFIRMATIONS_PER_DAY = 3


class BadConfirmation(EventFeedError):
    """A confirmation link that is unknown, tampered with or expired."""


@dataclass(frozen=True)
class Choices:
    """What a subscriber receives."""

    announcements: bool = True
    digest: bool = True
    reminder_hours: int = DEFAULT_REMINDER_HOURS
    how_often: str | None = None  # a FREQUENCIES value chosen outright (subscribe forms)
    cancellations: bool = True
    language: str = i18n.ENGLISH  # of the emails: a locale of feeds.i18n.LOCALES

    @property
    def frequency(self) -> str:
        """Return the frequency a new subscription gets from these choices."""
        if self.how_often is not None:
            return self.how_often
        if self.announcements:
            return "announcement"
        return "weekly" if self.digest else "none"


@dataclass(frozen=True)
class Prefs:
    """The choices of one subscription (one followed series), from the management page."""

    frequency: str = "announcement"
    reminder_hours: int = DEFAULT_REMINDER_HOURS
    cancellations: bool = True


def check_prefs(field: str, frequency: Any, reminder_hours: Any, cancellations: Any) -> Prefs:
    """Validate one subscription's choices; errors name `field` (e.g. the series slug)."""
    if frequency not in FREQUENCIES:
        choices = ", ".join(FREQUENCIES)
        raise InvalidRecord("subscription", [(f"{field} frequency", f"must be one of {choices}")])
    hours = check_choices(True, True, reminder_hours).reminder_hours
    return Prefs(str(frequency), hours, bool(cancellations))


def normalise_email(value: str) -> str:
    """Return the address normalised by email-validator (domain lower-cased), or raise.

    ASCII addresses only (no SMTPUTF8, which not every relay offers); no DNS lookup.
    """
    try:
        found = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        message = f"not an email address: {value[:320]!r} ({exc})"
        raise InvalidRecord("subscription", [("email", message)]) from None
    return str(found.normalized)


def check_zone(value: str | None) -> str:
    """Return the IANA zone for a name or label (default UTC), or raise InvalidRecord."""
    try:
        return times.resolve_zone(value or "UTC")
    except EventFeedError as exc:
        raise InvalidRecord("subscription", [("timezone", str(exc))]) from None


def check_choices(
    announcements: Any,
    digest: Any,
    reminder_hours: Any,
    frequency: Any = None,
    cancellations: Any = True,
) -> Choices:
    """Validate the preferences; reminder hours must be 0 (off) to 168; `frequency`, when
    given, is one of FREQUENCIES and decides over `announcements` and `digest`."""
    try:
        hours = int(reminder_hours)
    except (TypeError, ValueError):
        raise InvalidRecord(
            "subscription", [("reminder_hours", "must be a whole number of hours")]
        ) from None
    if not 0 <= hours <= outbox.MAX_REMINDER_HOURS:
        raise InvalidRecord(
            "subscription",
            [("reminder_hours", f"must be 0 (off) to {outbox.MAX_REMINDER_HOURS}")],
        )
    if frequency is not None and frequency not in FREQUENCIES:
        choices = ", ".join(FREQUENCIES)
        raise InvalidRecord("subscription", [("frequency", f"must be one of {choices}")])
    if not isinstance(cancellations, bool):
        raise InvalidRecord("subscription", [("cancellations", "must be true or false")])
    how_often = None if frequency is None else str(frequency)
    return Choices(bool(announcements), bool(digest), hours, how_often, cancellations)


def new_token() -> str:
    """Return a fresh secret personal-feed token (32 random bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


def by_email(session: Session, email: str) -> Subscriber | None:
    """Return the subscriber with this address, if any."""
    return session.scalar(select(Subscriber).where(Subscriber.email == email))


def by_token(session: Session, token: str) -> Subscriber | None:
    """Return the subscriber whose current token this is (old tokens find nobody)."""
    if not token or len(token) > 64:
        return None
    return session.scalar(select(Subscriber).where(Subscriber.token == token))


def _ensure(
    session: Session, email: str, zone: str, choices: Choices, now: datetime
) -> tuple[Subscriber, bool]:
    subscriber = by_email(session, email)
    if subscriber is not None:
        return subscriber, False
    subscriber = Subscriber(
        email=email,
        timezone=zone,
        token=new_token(),
        announcements=choices.announcements,
        digest=choices.digest,
        reminder_hours=choices.reminder_hours,
        language=choices.language,
        created_at=now,
        updated_at=now,
    )
    session.add(subscriber)
    session.flush()
    return subscriber, True


def _add_series(
    session: Session,
    subscriber: Subscriber,
    slugs: Iterable[str],
    now: datetime,
    confirmed: bool,
    choices: Choices | None = None,
) -> list[Subscription]:
    """Follow series (by slug) or topics (by 'topic:<slug>'), unconfirmed unless `confirmed`."""
    added = []
    for slug in dict.fromkeys(slugs):
        series_id, topic_id = _target(session, slug)
        found = session.scalar(
            select(Subscription).where(
                Subscription.subscriber_id == subscriber.id,
                Subscription.series_id == series_id
                if series_id is not None
                else Subscription.topic_id == topic_id,
            )
        )
        if found is None:
            chosen = choices or Choices(
                subscriber.announcements, subscriber.digest, subscriber.reminder_hours
            )
            found = Subscription(
                subscriber_id=subscriber.id,
                series_id=series_id,
                topic_id=topic_id,
                created_at=now,
                frequency=chosen.frequency,
                reminder_hours=chosen.reminder_hours,
                cancellations=chosen.cancellations,
            )
            session.add(found)
        if confirmed and found.confirmed_at is None:
            found.confirmed_at = now
        added.append(found)
    session.flush()
    return added


def check_language(value: object) -> str:
    """Return the email language of a locale or tag ('pt-PT', 'pt_PT', 'zh-Hans', 'zh-TW', 'en').

    Nothing given → English; a language without a catalog is an error.
    """
    if value is None or value == "":
        return i18n.ENGLISH
    if not isinstance(value, str) or len(value) > 20:
        raise InvalidRecord("subscription", [("language", LANGUAGE_ERROR)])
    locale = i18n.locale_of(value)
    primary = value.strip().replace("_", "-").lower().split("-", 1)[0]
    if locale == i18n.ENGLISH and primary != "en":
        raise InvalidRecord("subscription", [("language", LANGUAGE_ERROR)])
    return locale


LANGUAGE_ERROR = "one of en, pt-PT, zh-Hans"


def set_language(subscriber: Subscriber, value: object, now: datetime) -> None:
    """Change the language of a subscriber's emails (management page, API)."""
    subscriber.language = check_language(value)
    subscriber.updated_at = now


def _target(session: Session, key: str) -> tuple[int | None, int | None]:
    """Return (series id, topic id) of a series slug or a 'topic:<slug>' key, or raise."""
    if key.startswith(TOPIC_KEY):
        return None, topics.get_topic(session, key.removeprefix(TOPIC_KEY)).topic.id
    return store.get_series(session, key).id, None


def subscribe(
    session: Session,
    email: str,
    slugs: list[str],
    zone: str | None,
    choices: Choices,
    now: datetime,
) -> Subscriber:
    """Record a (pending) subscription and queue its confirmation email.

    Anyone can type any address, so a request for an existing address changes nothing that
    address has: confirmed subscriptions stay confirmed, an unsubscribed address stays
    unsubscribed, its zone, choices and personal feed stay as they are. The request only adds
    the series not followed yet, unconfirmed, and all of it takes effect when the owner
    follows the confirmation link. A new address gets the zone and choices given. At most one
    confirmation email goes to an address per `CONFIRMATION_INTERVAL`, and at most
    `CONFIRMATIONS_PER_DAY` in 24 hours, however often the form is posted.
    """
    if not slugs:
        raise InvalidRecord("subscription", [("series", "choose at least one series")])
    address = normalise_email(email)
    unknown = []
    for key in dict.fromkeys(slugs):
        try:
            _target(session, key)
        except NotFound as exc:
            unknown.append(("topics" if key.startswith(TOPIC_KEY) else "series", str(exc)))
    if unknown:
        raise InvalidRecord("subscription", unknown)
    subscriber, _ = _ensure(session, address, check_zone(zone), choices, now)
    _add_series(session, subscriber, slugs, now, confirmed=False, choices=choices)
    if _may_send_confirmation(session, subscriber, now):
        outbox.queue_confirmation(session, subscriber, now)
    return subscriber


def _may_send_confirmation(session: Session, subscriber: Subscriber, now: datetime) -> bool:
    """Return whether a confirmation email may be queued now (per-address limits)."""
    recent = session.scalars(
        select(Outbox.created_at).where(
            Outbox.subscriber_id == subscriber.id,
            Outbox.kind == "confirmation",
            Outbox.created_at > now - timedelta(days=1),
        )
    ).all()
    if len(recent) >= CONFIRMATIONS_PER_DAY:
        return False
    return all(sent <= now - CONFIRMATION_INTERVAL for sent in recent)


def subscribe_and_commit(
    session: Session,
    email: str,
    slugs: list[str],
    zone: str | None,
    choices: Choices,
    now: datetime,
) -> Subscriber:
    """Subscribe and commit; a request racing on the same address gets a second try."""
    for attempt in (1, 2):
        try:
            subscriber = subscribe(session, email, slugs, zone, choices, now)
            session.commit()
            return subscriber
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def add_confirmed(
    session: Session,
    email: str,
    slugs: list[str],
    zone: str | None,
    now: datetime,
    language: str | None = None,
) -> Subscriber:
    """Add an already-confirmed subscriber (organisers moving an existing mailing list);
    `language` (en, pt-PT, zh-Hans) sets their emails' language, else a new one reads English."""
    address = normalise_email(email)
    choices = Choices(language=check_language(language))
    subscriber, _ = _ensure(session, address, check_zone(zone), choices, now)
    if zone:
        subscriber.timezone = check_zone(zone)
    if language:
        subscriber.language = choices.language
    subscriber.confirmed_at = subscriber.confirmed_at or now
    subscriber.unsubscribed_at = None
    subscriber.updated_at = now
    _add_series(session, subscriber, slugs, now, confirmed=True)
    return subscriber


def import_csv(session: Session, name: str, text: str, now: datetime) -> int:
    """Add confirmed subscribers from CSV (columns email, series, timezone, and optionally
    language); return rows."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"email", "series"} - set(reader.fieldnames or [])
    if missing:
        raise InvalidRecord(name, [("columns", f"missing {', '.join(sorted(missing))}")])
    count = 0
    for line, row in enumerate(reader, start=2):
        slugs = [s.strip() for s in (row.get("series") or "").replace(";", ",").split(",")]
        try:
            add_confirmed(
                session,
                row["email"] or "",
                [s for s in slugs if s],
                row.get("timezone"),
                now,
                row.get("language"),
            )
        except EventFeedError as exc:
            raise InvalidRecord(f"{name} line {line}", [("record", str(exc))]) from None
        count += 1
    return count


def _serializer(subscriber: Subscriber) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(subscriber.token, salt="eventfeed-confirm")


def confirmation_token(subscriber: Subscriber) -> str:
    """Return the signed token of the confirmation link."""
    return str(_serializer(subscriber).dumps(subscriber.id))


def confirm(session: Session, signed: str, now: datetime) -> Subscriber:
    """Confirm the subscriber and their pending series; raise BadConfirmation if invalid."""
    bad = BadConfirmation("this confirmation link is invalid or expired; subscribe again")
    try:
        _, claimed = URLSafeTimedSerializer("unverified", salt="eventfeed-confirm").loads_unsafe(
            signed
        )
    except Exception:  # noqa: BLE001 - any malformed token is simply invalid
        raise bad from None
    if not isinstance(claimed, int):
        raise bad
    subscriber = session.get(Subscriber, claimed)
    if subscriber is None:
        raise bad
    try:
        _serializer(subscriber).loads(signed, max_age=CONFIRM_MAX_AGE)
    except BadSignature:
        raise bad from None
    subscriber.confirmed_at = subscriber.confirmed_at or now
    subscriber.unsubscribed_at = None
    # Following the link proves the address receives mail again.
    subscriber.bounced_at = subscriber.bounce_reason = None
    subscriber.updated_at = now
    for subscription in subscriber.subscriptions:
        subscription.confirmed_at = subscription.confirmed_at or now
    return subscriber


def update_choices(
    session: Session,
    subscriber: Subscriber,
    slugs: list[str],
    zone: str,
    choices: Choices | None,
    now: datetime,
    prefs: dict[str, Prefs] | None = None,
) -> None:
    """Replace the subscriber's series, zone and choices (from the management page).

    `prefs` holds the choices of followed series by slug; `choices`, when given, the former
    subscriber-wide ones (the API and older forms).
    """
    zone_name = check_zone(zone)
    for slug in slugs:
        try:
            _target(session, slug)
        except NotFound as exc:
            raise InvalidRecord("subscription", [("series", str(exc))]) from None
    for subscription in list(subscriber.subscriptions):
        if subscription.key not in slugs:
            subscriber.subscriptions.remove(subscription)
    session.flush()
    _add_series(session, subscriber, slugs, now, confirmed=subscriber.confirmed_at is not None)
    session.refresh(subscriber, ["subscriptions"])
    subscriber.timezone = zone_name
    if choices is not None:
        # The former subscriber-wide choices: defaults for series followed from now on, and
        # the choices of every followed series that `prefs` does not name.
        subscriber.announcements = choices.announcements
        subscriber.digest = choices.digest
        subscriber.reminder_hours = choices.reminder_hours
        for subscription in subscriber.subscriptions:
            if subscription.key not in (prefs or {}):
                subscription.frequency = choices.frequency
                subscription.reminder_hours = choices.reminder_hours
    for subscription in subscriber.subscriptions:
        chosen = (prefs or {}).get(subscription.key)
        if chosen is not None:
            subscription.frequency = chosen.frequency
            subscription.reminder_hours = chosen.reminder_hours
            subscription.cancellations = chosen.cancellations
    subscriber.updated_at = now


def pause(session: Session, subscriber: Subscriber, now: datetime) -> None:
    """Pause every email but confirmations (those already queued are skipped) until resumed."""
    if subscriber.paused_at is None:
        subscriber.paused_at = now
        subscriber.updated_at = now
    outbox.skip_pending(session, subscriber, "paused")


def resume(subscriber: Subscriber, now: datetime) -> None:
    """Resume the emails of a paused subscriber."""
    subscriber.paused_at = None
    subscriber.updated_at = now


def leave(session: Session, subscriber: Subscriber, slug: str, now: datetime) -> str:
    """Stop following one series or topic (by its key; the series' emails not sent yet are
    skipped); return its name."""
    for subscription in list(subscriber.subscriptions):
        if subscription.key == slug:
            name = subscription.name
            series_id = subscription.series_id
            subscriber.subscriptions.remove(subscription)
            session.flush()
            if series_id is not None:
                outbox.skip_pending(session, subscriber, "left the series", series_id=series_id)
            subscriber.updated_at = now
            return name
    raise InvalidRecord("subscription", [("series", f"you do not follow {slug!r}")])


def rotate_token(subscriber: Subscriber, now: datetime) -> str:
    """Give the subscriber a new secret token; the old feed and management URLs stop working."""
    subscriber.token = new_token()
    subscriber.updated_at = now
    return subscriber.token


def unsubscribe(session: Session, subscriber: Subscriber, now: datetime) -> None:
    """Stop every email to this subscriber, including those already queued."""
    if subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = now
        subscriber.updated_at = now
    outbox.skip_pending(session, subscriber, "unsubscribed")


def mark_bounced(session: Session, subscriber: Subscriber, reason: str, now: datetime) -> None:
    """Stop every email to an address that was permanently refused (its queued ones too).

    The address stays bounced until its owner confirms a subscription again (`confirm`);
    the personal feed keeps working.
    """
    if subscriber.bounced_at is None:
        subscriber.bounced_at = now
        subscriber.updated_at = now
    subscriber.bounce_reason = reason[:2000]
    outbox.skip_pending(session, subscriber, "address bounced")


def listing(session: Session, series_slug: str | None = None) -> list[Subscriber]:
    """Return subscribers (of one series when given) by address, with their subscriptions."""
    query = select(Subscriber).order_by(Subscriber.email)
    if series_slug is not None:
        series = store.get_series(session, series_slug)
        query = query.join(Subscription).where(Subscription.series_id == series.id)
    return list(session.scalars(query))
