"""Every kind of email scores below 2.0 with SpamAssassin (Debian's, offline rules), with a text
and an HTML part carrying the same content. Skipped when spamassassin is not installed
(scripts/test installs it when run as root)."""

from __future__ import annotations

import re
import shutil
import subprocess
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
from tests.support.mailtools import html_part, text_part

SPAMASSASSIN = shutil.which("spamassassin")
RULES = "/usr/share/spamassassin"
THRESHOLD = 2.0


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


def words(text: str) -> set[str]:
    """Return the words of a text (tags stripped), to compare the text and HTML parts."""
    return set(re.findall(r"\w{4,}", re.sub(r"<[^>]+>", " ", text)))


@pytest.mark.skipif(SPAMASSASSIN is None, reason="spamassassin is not installed")
def test_every_kind_of_email_scores_below_two(
    talk: Event,  # noqa: F811
    make_event: Callable[..., Event],
) -> None:
    found = messages(talk)
    mbox = b""
    for kind, msg in found.items():
        parsed = parse(msg)
        text, html = text_part(parsed), html_part(parsed)
        assert words(text) - words(html) <= {"https"}, kind  # the same content in both parts
        raw = mail.to_bytes(msg).replace(b"\r\n", b"\n")
        raw = re.sub(rb"^From ", b">From ", raw, flags=re.MULTILINE)
        mbox += b"From eventfeed@events.example.org Mon Nov 23 12:00:00 2026\n" + raw + b"\n"
    assert SPAMASSASSIN is not None
    result = subprocess.run(
        [SPAMASSASSIN, "-C", RULES, "-L", "-t", "--mbox", "--cf=use_bayes 0"],
        input=mbox,
        capture_output=True,
        check=True,
        timeout=120,
    )
    statuses = re.findall(
        rb"^X-Spam-Status: \w+, score=(-?[\d.]+) required=[\d.]+ tests=((?:.|\n\t)*?)\n(?!\t)",
        result.stdout,
        flags=re.MULTILINE,
    )
    assert len(statuses) == len(found)
    scores = {
        kind: (float(score), b" ".join(tests.split()).decode())
        for kind, (score, tests) in zip(found, statuses, strict=True)
    }
    print(scores)  # noqa: T201  (shown with -s: the figures of the closing note)
    assert all(score < THRESHOLD for score, _ in scores.values()), scores
