"""Translations of the English messages the records layer (`events/`) raises to people.

`events/` speaks English only (the API and the CLI show its messages as they are); pages show
the ones listed here in the page's language, and any other message unchanged.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

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
    "this confirmation link is invalid or expired; subscribe again": _l(
        "this confirmation link is invalid or expired; subscribe again"
    ),
}


def known(message: object) -> str:
    """Return a records-layer message in the page's language when it is a known one."""
    text = str(message)
    found = KNOWN.get(text)
    return str(found) if found is not None else text
