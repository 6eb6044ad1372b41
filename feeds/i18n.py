"""Texts of emails and feeds in English, European Portuguese and Simplified Chinese (no Flask).

**Catalogs.** A gettext domain of its own, `feeds`, beside the pages' `messages` (web/i18n.py):
`feeds/translations/feeds.pot` is extracted with pybabel (`feeds/translations/babel.cfg`:
`feeds/` and `mail/`), the `pt_PT` and `zh_Hans` catalogs are `.po` files in git, and their
`.mo` files are compiled when missing or older than the `.po` the first time a language is
asked for (`texts`), so the README's two commands still suffice.

**Which language.** An email speaks its subscriber's language (`subscriber.language`, a
locale of `LOCALES`); a feed speaks its series' language (`series.lang`, a BCP 47 tag read by
`locale_of`). English is the source language: its texts are the message ids.
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import timedelta
from functools import cache
from pathlib import Path

from babel.dates import format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

log = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DOMAIN = "feeds"
ENGLISH = "en"
# The Babel locales texts are written in (as web.i18n.LANGUAGES) and their BCP 47 tags.
LOCALES = ("en", "pt_PT", "zh_Hans")
TAGS = {"en": "en", "pt_PT": "pt-PT", "zh_Hans": "zh-Hans"}


def N_(message: str) -> str:  # noqa: N802 - gettext's name for a marker
    """Mark a text for extraction; it is translated where it is used."""
    return message


def locale_of(tag: str | None) -> str:
    """Return the locale of a language tag or locale: 'pt', 'pt-PT' → 'pt_PT'; 'zh-TW' → 'zh_Hans'.

    Anything else (English, languages without a catalog, nothing) → 'en'.
    """
    key = (tag or "").strip().replace("_", "-").lower()
    if key.startswith("pt"):
        return "pt_PT"
    if key.startswith("zh"):
        return "zh_Hans"
    return ENGLISH


def compile_catalogs(directory: Path = TRANSLATIONS, domain: str = DOMAIN) -> list[Path]:
    """Compile each `<locale>/LC_MESSAGES/<domain>.po` whose `.mo` is missing or older.

    Writes to a temporary file then renames it (processes starting together never read a
    half-written catalog); a read-only install keeps what it has (logged). Returns the
    catalogs compiled.
    """
    compiled = []
    for po in sorted(directory.glob(f"*/LC_MESSAGES/{domain}.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        try:
            fd, tmp = tempfile.mkstemp(dir=po.parent, suffix=".mo.tmp")
            with os.fdopen(fd, "wb") as target:
                write_mo(target, catalog)
            os.replace(tmp, mo)
        except OSError as exc:  # pragma: no cover - read-only installs
            log.warning("Cannot compile %s: %s", po, exc)
            continue
        compiled.append(mo)
    return compiled


def withheld(reveal_minutes: int | None, locale: str, *, capital: bool = True) -> str:
    """Return where withheld join details go, as a sentence in `locale` (after a colon: not
    `capital`, 'join details are sent…')."""
    _ = texts(locale).gettext
    if reveal_minutes is None:
        text = _("Join details are sent to subscribers of this series.")
    else:
        text = _(
            "Join details are sent to subscribers of this series %(duration)s before the start."
        ) % {"duration": minutes_text(reveal_minutes, locale)}
    return text if capital else text[:1].lower() + text[1:]


def minutes_text(minutes: int, locale: str) -> str:
    """Return a duration in minutes as CLDR writes it: '30 minutes', '30 minutos', '30分钟'."""
    return format_timedelta(
        timedelta(minutes=minutes), granularity="minute", threshold=10**9, locale=locale
    )


@cache
def texts(locale: str) -> NullTranslations:
    """Return the translations of `locale` ('en': the texts as written), compiled if needed."""
    if locale not in LOCALES or locale == ENGLISH:
        return NullTranslations()
    compile_catalogs()
    return Translations.load(str(TRANSLATIONS), [locale], DOMAIN)
