"""gettext catalog checks shared by the `messages` (web) and `feeds` domains' tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def source_messages(translations: Path, keywords: Mapping[str, Any]) -> set[str | tuple[str, str]]:
    """Return the messages in the sources now, as `translations/babel.cfg` extracts them:
    an id, or (singular, plural) of a plural message."""
    with (translations / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: set[str | tuple[str, str]] = set()
    for _name, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.add((message[0], message[1]) if isinstance(message, tuple) else message)
    return found


def source_ids(messages: set[str | tuple[str, str]]) -> set[str]:
    """Return the ids of `source_messages` (singular ids of plural messages)."""
    return {m[0] if isinstance(m, tuple) else m for m in messages}


def read_catalog(translations: Path, locale: str, domain: str) -> Catalog:
    """Return the catalog (.po) of `domain` in `locale`."""
    with (translations / locale / "LC_MESSAGES" / f"{domain}.po").open("rb") as po:
        return read_po(po, locale=locale)


def template_ids(pot: Path) -> set[str]:
    """Return the message ids of a template (.pot)."""
    with pot.open("rb") as file:
        return {m.id[0] if isinstance(m.id, tuple) else m.id for m in read_po(file) if m.id}


def assert_complete(found: Catalog, ids: set[str], locale: str) -> None:
    """No id is missing, empty or fuzzy in the catalog; placeholders match (babel's checks)."""
    missing = sorted(i for i in ids if i not in found or not found[i].string)
    assert missing == [], f"{locale}: untranslated {missing}"
    fuzzy = sorted(str(m.id) for m in found if m.id and m.fuzzy)
    assert fuzzy == [], f"{locale}: fuzzy {fuzzy}"
    for message, errors in found.check():
        pytest.fail(f"{locale}: {message.id!r}: {errors}")
    for message in found:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"{locale}: empty plural form of {message.id!r}"


PLURAL_FORMS = {"pt_PT": 3, "zh_Hans": 1}  # CLDR: pt-PT one/many/other; Chinese other


def assert_plurals(found: Catalog, messages: set[str | tuple[str, str]], locale: str) -> None:
    """Every text counted with ngettext is a plural entry with the same singular and plural
    ids and every plural form of the language translated (a changed plural id fails too)."""
    plurals = sorted(m for m in messages if isinstance(m, tuple))
    assert plurals, "the extractor sees ngettext"
    assert found.num_plurals == PLURAL_FORMS[locale]
    for singular, plural in plurals:
        entry = found.get(singular)
        assert entry is not None and entry.pluralizable, f"{locale}: {singular!r} is not plural"
        assert tuple(entry.id[:2]) == (singular, plural), f"{locale}: stale plural {entry.id!r}"
        strings = entry.string
        assert isinstance(strings, tuple) and len(strings) == found.num_plurals, entry.id
        assert all(strings), f"{locale}: empty plural form of {singular!r}"
