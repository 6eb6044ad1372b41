"""Every table of EventFeed, declared in this package (typed SQLAlchemy 2.0 models).

- `records`: series and their talks;
- `mail`: subscribers, subscriptions and the email outbox;
- `access`: editors' API tokens and rate-limit counters;
- `rendered`: the rendered-feed cache (pieces per talk, whole feeds);
- `search`: the search index (one folded text per public talk);
- `topics`: the topic taxonomy and the links of series and talks to it.
"""

from events.models.access import TOKEN_PREFIX_LENGTH, ApiToken, RateWindow
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
from events.models.search import SearchDoc
from events.models.topics import Topic, TopicLink

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
    "RenderedFeed",
    "RenderedPiece",
    "SearchDoc",
    "Series",
    "Speaker",
    "Subscriber",
    "Subscription",
    "Topic",
    "TopicLink",
]
