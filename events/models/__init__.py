"""Every table of EventFeed, declared in this package (typed SQLAlchemy 2.0 models).

- `records`: series and their talks;
- `mail`: subscribers, subscriptions and the email outbox;
- `access`: editors' API tokens and rate-limit counters;
- `rendered`: the rendered-feed cache (pieces per talk, whole feeds);
- `documents`: stored site-wide and personal feeds.
"""

from events.models.access import TOKEN_PREFIX_LENGTH, ApiToken, RateWindow
from events.models.documents import RenderedDocument
from events.models.fields import (
    AccessPolicy,
    Location,
    Meeting,
    OutboxPayload,
    PreviousValues,
    Speaker,
)
from events.models.mail import OUTBOX_KINDS, OUTBOX_STATUSES, Outbox, Subscriber, Subscription
from events.models.records import ACCESS_POLICIES, STATUSES, VISIBILITIES, Event, Series
from events.models.rendered import RenderedFeed, RenderedPiece

__all__ = [
    "ACCESS_POLICIES",
    "OUTBOX_KINDS",
    "OUTBOX_STATUSES",
    "STATUSES",
    "TOKEN_PREFIX_LENGTH",
    "VISIBILITIES",
    "AccessPolicy",
    "ApiToken",
    "Event",
    "Location",
    "Meeting",
    "Outbox",
    "OutboxPayload",
    "PreviousValues",
    "RateWindow",
    "RenderedDocument",
    "RenderedFeed",
    "RenderedPiece",
    "Series",
    "Speaker",
    "Subscriber",
    "Subscription",
]
