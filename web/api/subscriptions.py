"""The subscription route: a reader asks for emails about series or topics (double opt-in),
as the subscribe forms do."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from flask import Response, request
from pydantic import Field

from events.errors import InvalidRecord
from events.models.mail import TOPIC_KEY
from mail import subscribers
from web.api.base import ApiError, answer, json_body, operation
from web.api.schema import Out
from web.context import db, now
from web.i18n import parse_language
from web.security import check_rate, client_address


class SubscriptionIn(Out):
    """A subscription request: the address, its series and topics, and what it wants."""

    email: str = Field(max_length=320)
    series: list[str] | str = Field(
        default_factory=list, description="series slugs (one slug as a string is fine)"
    )
    topics: list[str] | str = Field(
        default_factory=list,
        description="topic slugs (one as a string is fine): their talks across public series",
    )
    timezone: str | None = Field(default=None, description="IANA zone or label; default UTC")
    frequency: Literal["announcement", "daily", "weekly", "none"] | None = Field(
        default=None,
        description=(
            "how often, for each series and topic asked for: announcement (an email per new "
            "talk), daily or weekly (a digest), none; decides over announcements and digest"
        ),
    )
    cancellations: bool = Field(default=True, description="tell of cancelled talks")
    announcements: bool = True
    digest: bool = True
    reminder_hours: int = Field(default=subscribers.DEFAULT_REMINDER_HOURS, ge=0, le=168)
    language: str | None = Field(
        default=None,
        max_length=20,
        description="language of the emails: en, pt-PT or zh-Hans; default: Accept-Language, "
        "else en",
    )


class SubscriptionAccepted(Out):
    """The request was recorded; a confirmation email is on its way."""

    status: Literal["confirmation_sent"]


def _accepted_language() -> str | None:
    """Return the locale of the request's Accept-Language (first supported tag), else None."""
    for tag, _quality in request.accept_languages:
        found = parse_language(tag)
        if found is not None:
            return found.locale
    return None


@operation(
    "POST",
    "/subscriptions",
    summary=(
        "Subscribe an address to series and topics (double opt-in: a confirmation email is sent)"
    ),
    ok=(202, SubscriptionAccepted),
    errors=(400, 415, 429),
    body=SubscriptionIn,
    description=(
        "Nothing is sent to the address but the confirmation email until its owner follows "
        "the link in it. Give `series`, `topics` or both; the choices (`frequency`, "
        "`reminder_hours`, `cancellations`) are stored on each subscription asked for. "
        "Limited per client address (429 with Retry-After)."
    ),
)
def subscribe() -> Response:
    """Record a pending subscription and queue its confirmation email."""
    check_rate("subscribe", client_address(), subscribers.SUBSCRIBE_LIMIT, 3600)
    data = json_body()
    try:
        slugs = _slugs(data, "series", "series slugs")
        topic_slugs = _slugs(data, "topics", "topic slugs")
        if not isinstance(data.get("email"), str):
            raise InvalidRecord("subscription", [("email", "required")])
        if not slugs and not topic_slugs:
            raise InvalidRecord(
                "subscription",
                [("series", "give series or topics"), ("topics", "give series or topics")],
            )
        choices = replace(
            subscribers.check_choices(
                data.get("announcements", True),
                data.get("digest", True),
                data.get("reminder_hours", subscribers.DEFAULT_REMINDER_HOURS),
                frequency=data.get("frequency"),
                cancellations=data.get("cancellations", True),
            ),
            language=subscribers.check_language(data.get("language") or _accepted_language()),
        )
        keys = slugs + [TOPIC_KEY + slug for slug in topic_slugs]
        zone = data.get("timezone")
        subscribers.subscribe_and_commit(db(), data["email"], keys, zone, choices, now())
    except InvalidRecord as exc:
        db().rollback()
        raise ApiError(422, "body", str(exc), errors=list(exc.errors)) from None
    return answer(SubscriptionAccepted(status="confirmation_sent"), 202)


def _slugs(data: dict[str, Any], field: str, what: str) -> list[str]:
    """Return a field's slugs (one slug as a string is fine), or raise InvalidRecord."""
    found = data.get(field, [])
    if isinstance(found, str):
        found = [found]
    if not isinstance(found, list) or not all(isinstance(s, str) for s in found):
        raise InvalidRecord("subscription", [(field, f"a list of {what}")])
    # A series slug cannot hold a colon; 'topic:x' among series would name a topic.
    if field == "series" and any(s.startswith(TOPIC_KEY) for s in found):
        raise InvalidRecord("subscription", [(field, "give topics in 'topics'")])
    return list(found)
