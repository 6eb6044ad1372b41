"""Content in several languages: language tags and choosing a talk's text for a reader.

A series is written in its `language` (the original); a talk or series may also carry its
title and abstract (name and description) in other languages, in `translations`, keyed by
BCP 47 tag. `choose` picks, for a reader's language, the tag to show with fallback:
the exact tag, then shorter prefixes ('zh-Hans-CN' → 'zh-Hans' → 'zh'), then a tag of the same
primary language and compatible script ('pt' reader → 'pt-PT'), else the original.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from babel import Locale

# Well-formed BCP 47 language tags (RFC 5646) without extensions or grandfathered forms:
# language (2-3 letters, or 4-8 for registered ones), script, region, variants, private use.
_TAG = re.compile(
    r"^(?P<language>[A-Za-z]{2,3})"
    r"(?:-(?P<script>[A-Za-z]{4}))?"
    r"(?:-(?P<region>[A-Za-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*)"
    r"(?P<private>-x(?:-[A-Za-z0-9]{1,8})+)?$"
)
MAX_TAG_LENGTH = 35
MAX_TRANSLATIONS = 10


@lru_cache(maxsize=1)
def _known() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Return the language, script and region codes CLDR names (Babel's English data)."""
    english = Locale("en")
    return (
        frozenset(str(code) for code in english.languages if "_" not in str(code)),
        frozenset(str(code).lower() for code in english.scripts),
        frozenset(str(code).upper() for code in english.territories),
    )


def canonical_tag(value: str) -> str:
    """Return a BCP 47 tag in its canonical case ('ZH-hans' → 'zh-Hans'); ValueError if not one.

    Well-formed (RFC 5646, without extensions) and its language, script and region known to
    CLDR: 'en', 'pt-PT', 'zh-Hans', 'es-419', 'sl-rozaj', 'en-x-twain'.
    """
    text = value.strip().replace("_", "-")
    found = _TAG.match(text) if len(text) <= MAX_TAG_LENGTH else None
    languages, scripts, regions = _known()
    if (
        found is None
        or found["language"].lower() not in languages
        or (found["script"] and found["script"].lower() not in scripts)
        or (
            found["region"]
            and not found["region"].isdigit()
            and found["region"].upper() not in regions
        )
    ):
        raise ValueError(
            f"{value!r} is not a BCP 47 language tag (such as 'en', 'pt-PT' or 'zh-Hans')"
        )
    parts = [found["language"].lower()]
    if found["script"]:
        parts.append(found["script"].title())
    if found["region"]:
        parts.append(found["region"].upper())
    tag = "-".join(parts) + found["variants"].lower()
    if found["private"]:
        tag += found["private"].lower()
    return tag


def _script(tag: str) -> str | None:
    found = _TAG.match(tag)
    return found["script"].lower() if found and found["script"] else None


def choose(reader: str | None, original: str, available: Iterable[str]) -> str:
    """Return which of `original` and `available` tags a reader of `reader` should see."""
    if not reader:
        return original
    tags = [original, *available]
    by_key = {t.lower(): t for t in reversed(tags)}
    wanted = reader.replace("_", "-").lower()
    parts = wanted.split("-")
    while parts:
        found = by_key.get("-".join(parts))
        if found is not None:
            return found
        parts.pop()
    primary = wanted.split("-", 1)[0]
    script = _script(reader)
    for tag in tags:
        if tag.lower().split("-", 1)[0] == primary and _script(tag) in (None, script):
            return tag
    return original


@dataclass(frozen=True)
class Shown:
    """A text chosen for a reader, and the language it is in (for a `lang` attribute)."""

    text: str
    lang: str


def pick(
    reader: str | None,
    original_lang: str,
    original: str,
    translations: Mapping[str, Mapping[str, object]] | None,
    key: str,
) -> Shown:
    """Return field `key` ('title', 'abstract', 'name', 'description') in the reader's language.

    Falls back to the original text when the chosen translation lacks that field.
    """
    given = {tag: str(t[key]) for tag, t in (translations or {}).items() if t.get(key)}
    tag = choose(reader, original_lang, given)
    if tag in given and tag != original_lang:
        return Shown(given[tag], tag)
    return Shown(original, original_lang)
