"""A series' audience for its organisers: subscriber counts per channel, the email list.

Email subscriptions are counted by state: confirmed (mail flows), pending (not confirmed
yet), bounced (the address was refused), unsubscribed. Calendar and feed fetches are not
tracked (feeds are public, cached and served without recording who fetched them), so their
count is reported as unknown rather than guessed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from events.models import Series, Subscriber, Subscription

STATES = ("confirmed", "pending", "bounced", "unsubscribed")
EXPORT_COLUMNS = ("email", "timezone", "subscribed_at", "confirmed_at")
# A spreadsheet runs a cell starting with these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Counts:
    """Email subscriptions of one series by state; calendar fetches (None: not tracked)."""

    email: dict[str, int]
    calendar_fetches: int | None = None


def _state(subscriber: Subscriber, subscription: Subscription) -> str:
    if subscriber.bounced_at is not None:
        return "bounced"
    if subscriber.unsubscribed_at is not None:
        return "unsubscribed"
    return "confirmed" if subscription.confirmed_at is not None else "pending"


def _rows(session: Session, series: Series) -> list[tuple[Subscriber, Subscription]]:
    query = (
        select(Subscriber, Subscription)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(Subscription.series_id == series.id)
        .order_by(Subscriber.email)
    )
    return [(a, b) for a, b in session.execute(query).all()]


def counts(session: Session, series: Series) -> Counts:
    """Return the series' email subscriptions by state."""
    found = dict.fromkeys(STATES, 0)
    for subscriber, subscription in _rows(session, series):
        found[_state(subscriber, subscription)] += 1
    return Counts(found)


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def email_list(session: Session, series: Series) -> tuple[str, int]:
    """Return the confirmed, reachable subscribers of a series as CSV text, and their count."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for subscriber, subscription in _rows(session, series):
        if _state(subscriber, subscription) != "confirmed":
            continue
        confirmed = subscription.confirmed_at
        writer.writerow(
            [
                _cell(subscriber.email),
                subscriber.timezone,
                subscription.created_at.isoformat(),
                confirmed.isoformat() if confirmed else "",
            ]
        )
        count += 1
    return out.getvalue(), count
