"""Every table of EventFeed, declared in this package (typed SQLAlchemy 2.0 models).

- `records`: series and their talks;
- `mail`: subscribers, subscriptions and the email outbox;
- `access`: editors' API tokens and rate-limit counters;
- `rendered`: the rendered-feed cache (pieces per talk, whole feeds);
- `schedules`: series' recurrence schedules and the kinds of event rows.
- `accounts`: organisers, their roles, sign-in links, talk drafts (the workspace).
- `search`: the search index (one folded text per public talk);
- `topics`: the topic taxonomy and the links of series and talks to it;
- `documents`: stored site-wide and personal feeds;
- `mirror`: series that follow an external iCalendar URL;
- `history`: the change log of series and talks, speakers' secret links;
- `imports`: workspace imports applied in the background by the worker.
"""

from events.models.access import TOKEN_PREFIX_LENGTH, ApiToken, RateWindow
from events.models.accounts import (
    ROLES,
    Organiser,
    SeriesRole,
    SignInToken,
    TalkDraft,
    TalkEdit,
)
from events.models.documents import RenderedDocument
from events.models.fields import (
    AccessPolicy,
    Location,
    Meeting,
    OutboxPayload,
    PreviousValues,
    SeriesTranslation,
    Speaker,
    TalkTranslation,
)
from events.models.history import (
    CHANGE_ACTIONS,
    CHANGE_PATHS,
    Change,
    ScheduledAnnouncement,
    SpeakerLink,
)
from events.models.imports import IMPORT_JOB_STATUSES, ImportJob
from events.models.mail import (
    OUTBOX_KINDS,
    OUTBOX_STATUSES,
    DigestedTalk,
    Outbox,
    Subscriber,
    Subscription,
)
from events.models.mirror import MIRROR_RESULTS, SeriesMirror
from events.models.records import ACCESS_POLICIES, STATUSES, VISIBILITIES, Event, Series
from events.models.rendered import RenderedFeed, RenderedPiece
from events.models.schedules import (
    BREAK_KINDS,
    CONTAINER_KINDS,
    EVENT_KINDS,
    TALK_KINDS,
    Move,
    Schedule,
    Skip,
)
from events.models.search import SearchDoc
from events.models.topics import Topic, TopicLink

__all__ = [
    "IMPORT_JOB_STATUSES",
    "ImportJob",
    "ScheduledAnnouncement",
    "MIRROR_RESULTS",
    "SeriesMirror",
    "CHANGE_ACTIONS",
    "CHANGE_PATHS",
    "Change",
    "SpeakerLink",
    "BREAK_KINDS",
    "CONTAINER_KINDS",
    "EVENT_KINDS",
    "TALK_KINDS",
    "Move",
    "Schedule",
    "Skip",
    "ACCESS_POLICIES",
    "OUTBOX_KINDS",
    "OUTBOX_STATUSES",
    "ROLES",
    "STATUSES",
    "TOKEN_PREFIX_LENGTH",
    "VISIBILITIES",
    "AccessPolicy",
    "ApiToken",
    "Event",
    "Location",
    "Meeting",
    "Organiser",
    "Outbox",
    "OutboxPayload",
    "PreviousValues",
    "RateWindow",
    "RenderedDocument",
    "RenderedFeed",
    "RenderedPiece",
    "SearchDoc",
    "Series",
    "SeriesRole",
    "SignInToken",
    "Speaker",
    "SeriesTranslation",
    "TalkTranslation",
    "Subscriber",
    "Subscription",
    "DigestedTalk",
    "TalkDraft",
    "TalkEdit",
    "Topic",
    "TopicLink",
]
