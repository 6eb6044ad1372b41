"""Translations of the English messages the records layer (`events/`) raises to people.

`events/` speaks English only (the API and the CLI show its messages as they are); pages show
the ones listed here in the page's language, and any other message unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_babel.speaklater import LazyString

from web.i18n import current_locale

KNOWN: dict[str, LazyString] = {
    "this sign-in link is unknown or was already used; ask for a new one": _l(
        "this sign-in link is unknown or was already used; ask for a new one"
    ),
    "this sign-in link expired (links last 15 minutes); ask for a new one": _l(
        "this sign-in link expired (links last 15 minutes); ask for a new one"
    ),
    "this sign-in link was already used; ask for a new one": _l(
        "this sign-in link was already used; ask for a new one"
    ),
    "this site is invite-only; ask an organiser to invite you": _l(
        "this site is invite-only; ask an organiser to invite you"
    ),
    "this speaker link is not valid (it may have been replaced)": _l(
        "this speaker link is not valid (it may have been replaced)"
    ),
    "this speaker link has expired": _l("this speaker link has expired"),
    "this speaker link is not valid": _l("this speaker link is not valid"),
    "a series keeps at least one owner; make someone else owner first": _l(
        "a series keeps at least one owner; make someone else owner first"
    ),
    "choose at least one series": _l("choose at least one series"),
    "Field required": _l("required"),
    "Field required (or give the series a default duration)": _l(
        "required (or give the series a default duration)"
    ),
    "must be an http:// or https:// URL": _l("must be an http:// or https:// URL"),
    "this confirmation link is invalid or expired; subscribe again": _l(
        "this confirmation link is invalid or expired; subscribe again"
    ),
}


# Messages with a value in them (pydantic's and the schemas'): pattern → translation.
PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"String should have at least (\d+) characters?"),
        lambda m: ngettext(
            "must have at least %(num)d character",
            "must have at least %(num)d characters",
            int(m[1]),
        ),
    ),
    (
        re.compile(r"String should have at most (\d+) characters?"),
        lambda m: ngettext(
            "must have at most %(num)d character", "must have at most %(num)d characters", int(m[1])
        ),
    ),
    (
        re.compile(r"String should match pattern '(.*)'"),
        lambda m: _("is not in the expected form (%(pattern)s)", pattern=m[1]),
    ),
    (
        re.compile(r"Input should be greater than or equal to (\S+)"),
        lambda m: _("must be at least %(limit)s", limit=m[1]),
    ),
    (
        re.compile(r"Input should be less than or equal to (\S+)"),
        lambda m: _("must be at most %(limit)s", limit=m[1]),
    ),
    (re.compile(r"Input should be a valid integer.*"), lambda m: _("must be a whole number")),
    (
        re.compile(
            r"unknown timezone '(.*)' \(use an IANA name such as 'Europe/Lisbon' "
            r"or a label such as 'Beijing time'\)"
        ),
        lambda m: _(
            "unknown timezone ‘%(zone)s’ (use an IANA name such as Europe/Lisbon or a label "
            "such as “Beijing time”)",
            zone=m[1],
        ),
    ),
    (
        re.compile(r"must be after the start \((.*)\)"),
        lambda m: _("must be after the start (%(times)s)", times=m[1]),
    ),
]


def known(message: object) -> str:
    """Return a records-layer message in the page's language when it is a known one.

    English pages show the message exactly as the records layer wrote it.
    """
    text = str(message)
    if current_locale() == "en":
        return text
    found = KNOWN.get(text)
    if found is not None:
        return str(found)
    for pattern, translate in PATTERNS:
        matched = pattern.fullmatch(text)
        if matched:
            return str(translate(matched))
    return text
