"""SpamAssassin scores of messages (Debian's, offline rules), shared by every spam-score test."""

from __future__ import annotations

import re
import shutil
import subprocess
from email import message_from_bytes, policy
from email.message import EmailMessage

from feeds import email as mail
from tests.support.mailtools import html_part, text_part

SPAMASSASSIN = shutil.which("spamassassin")
RULES = "/usr/share/spamassassin"
THRESHOLD = 2.0


def words(text: str) -> set[str]:
    """Return the words of a text (tags stripped), to compare the text and HTML parts."""
    return set(re.findall(r"\w{4,}", re.sub(r"<[^>]+>", " ", text)))


def scores(found: dict[str, EmailMessage]) -> dict[str, tuple[float, str]]:
    """Return {name: (score, rules hit)} of each message, from one `spamassassin -L -t` run."""
    assert SPAMASSASSIN is not None
    mbox = b""
    for msg in found.values():
        raw = mail.to_bytes(msg).replace(b"\r\n", b"\n")
        raw = re.sub(rb"^From ", b">From ", raw, flags=re.MULTILINE)
        mbox += b"From eventfeed@events.example.org Mon Nov 23 12:00:00 2026\n" + raw + b"\n"
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
    return {
        name: (float(score), b" ".join(tests.split()).decode())
        for name, (score, tests) in zip(found, statuses, strict=True)
    }


def assert_clean(found: dict[str, EmailMessage], *label: str) -> None:
    """Assert each message's text part says what its HTML part says (links aside) and scores
    below THRESHOLD; print the scores after `label` (shown with -s: the closing notes' figures)."""
    for kind, msg in found.items():
        parsed = message_from_bytes(mail.to_bytes(msg), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        text, html = text_part(parsed), html_part(parsed)
        assert words(text) - words(html) <= {"https"}, kind  # the same content in both parts
    scored = scores(found)
    print(*label, scored)  # noqa: T201
    assert all(score < THRESHOLD for score, _ in scored.values()), scored
