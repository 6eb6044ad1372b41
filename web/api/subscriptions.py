"""The subscription route: a reader asks for emails (double opt-in), as the form does."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from flask import Response, request
from pydantic import Field

from events.errors import InvalidRecord
from mail import subscribers
from web.api.base import ApiError, answer, json_body, operation
from web.api.schema import Out
from web.context import db, now
from web.i18n import parse_language
from web.security import check_rate, client_address


class SubscriptionIn(Out):
    """A subscription request: the address, its series and what it wants to receive."""

    email: str = Field(max_length=320)
    series: list[str] | str = Field(description="series slugs (one slug as a string is fine)")
    timezone: str | None = Field(default=None, description="IANA zone or label; default UTC")
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
    summary="Subscribe an address to series (double opt-in: a confirmation email is sent)",
    ok=(202, SubscriptionAccepted),
    errors=(400, 415, 429),
    body=SubscriptionIn,
    description=(
        "Nothing is sent to the address but the confirmation email until its owner follows "
        "the link in it. Limited per client address (429 with Retry-After)."
    ),
)
def subscribe() -> Response:
    """Record a pending subscription and queue its confirmation email."""
    check_rate("subscribe", client_address(), subscribers.SUBSCRIBE_LIMIT, 3600)
    data = json_body()
    slugs = data.get("series")
    if isinstance(slugs, str):
        slugs = [slugs]
    try:
        if not isinstance(slugs, list) or not all(isinstance(s, str) for s in slugs):
            raise InvalidRecord("subscription", [("series", "a list of series slugs")])
        if not isinstance(data.get("email"), str):
            raise InvalidRecord("subscription", [("email", "required")])
        choices = replace(
            subscribers.check_choices(
                data.get("announcements", True),
                data.get("digest", True),
                data.get("reminder_hours", subscribers.DEFAULT_REMINDER_HOURS),
            ),
            language=subscribers.check_language(data.get("language") or _accepted_language()),
        )
        subscribers.subscribe_and_commit(
            db(), data["email"], slugs, data.get("timezone"), choices, now()
        )
    except InvalidRecord as exc:
        db().rollback()
        raise ApiError(422, "body", str(exc), errors=list(exc.errors)) from None
    return answer(SubscriptionAccepted(status="confirmation_sent"), 202)
