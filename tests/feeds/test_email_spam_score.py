"""Every kind of email scores below 2.0 with SpamAssassin (Debian's, offline rules), with a text
and an HTML part carrying the same content. Skipped when spamassassin is not installed
(scripts/test installs it when run as root)."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

import pytest

from events.models import Event
from feeds import email as mail
from tests.feeds.test_email_snapshots import (  # noqa: F401
    ENVELOPE,
    MONDAY,
    READER,
    build,
    digest_items,
    parse,
    talk,
)
from tests.support.spamscore import SPAMASSASSIN, assert_clean


def messages(event: Event) -> dict[str, EmailMessage]:
    """One message of each kind, with the fixed envelope of the snapshot tests."""
    found = {kind: build(kind, event, READER) for kind in mail.EVENT_KINDS}
    for frequency in ("daily", "weekly"):
        found[f"{frequency} digest"] = mail.digest_email(
            digest_items(event), READER, ENVELOPE, frequency=frequency, day=MONDAY
        )
    found["confirmation"] = mail.confirmation_email(
        [event.series.name],
        READER,
        ENVELOPE,
        confirm_url="https://events.example.org/subscriptions/confirm/abc.def",
    )
    return found


@pytest.mark.skipif(SPAMASSASSIN is None, reason="spamassassin is not installed")
def test_every_kind_of_email_scores_below_two(
    talk: Event,  # noqa: F811
    make_event: Callable[..., Event],
) -> None:
    found = messages(talk)
    assert_clean(found)
