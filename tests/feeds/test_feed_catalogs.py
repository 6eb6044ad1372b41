"""The `feeds` gettext domain (emails and feed texts, feeds/i18n.py): catalogs complete.

Extracts the message ids from the sources now (pybabel's extractor with
feeds/translations/babel.cfg), so a text wrapped in gettext but missing, empty or fuzzy in
either catalog fails here, and so do broken placeholders and a stale feeds.pot.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from feeds import i18n

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "feeds" / "translations"
LOCALES = ("pt_PT", "zh_Hans")


def source_messages() -> set[str | tuple[str, str]]:
    """Return the messages in the sources now: an id, or (singular, plural) of a plural."""
    with (TRANSLATIONS / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: set[str | tuple[str, str]] = set()
    for _name, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        found.add((message[0], message[1]) if isinstance(message, tuple) else message)
    return found


def source_ids() -> set[str]:
    """Return the message ids in the sources now (singular ids of plural messages)."""
    return {m[0] if isinstance(m, tuple) else m for m in source_messages()}


def catalog(locale: str) -> Catalog:
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "feeds.po").open("rb") as po:
        return read_po(po, locale=locale)


@pytest.fixture(scope="module")
def ids() -> set[str]:
    found = source_ids()
    assert "Confirm your subscription to %(series)s" in found  # emails
    assert "Reminder: " in found  # and the N_() marked texts
    return found


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated(ids: set[str], locale: str) -> None:
    """No id of the sources is missing, empty or fuzzy; placeholders match (babel's checks)."""
    found = catalog(locale)
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


@pytest.mark.parametrize("locale", LOCALES)
def test_every_plural_message_has_all_its_forms(locale: str) -> None:
    """A text counted with ngettext is a plural entry with the same singular and plural ids
    and every plural form of the language translated (a changed plural id fails here too)."""
    plurals = sorted(m for m in source_messages() if isinstance(m, tuple))
    assert plurals, "the extractor sees ngettext"
    found = catalog(locale)
    assert found.num_plurals == PLURAL_FORMS[locale]
    for singular, plural in plurals:
        entry = found.get(singular)
        assert entry is not None and entry.pluralizable, f"{locale}: {singular!r} is not plural"
        assert tuple(entry.id[:2]) == (singular, plural), f"{locale}: stale plural {entry.id!r}"
        strings = entry.string
        assert isinstance(strings, tuple) and len(strings) == found.num_plurals, entry.id
        assert all(strings), f"{locale}: empty plural form of {singular!r}"


def test_the_template_matches_the_sources(ids: set[str]) -> None:
    """feeds.pot is what pybabel extracts today (README 'Languages' says how)."""
    with (TRANSLATIONS / "feeds.pot").open("rb") as pot:
        template = {m.id[0] if isinstance(m.id, tuple) else m.id for m in read_po(pot) if m.id}
    assert template == ids


def test_catalogs_compile_when_missing_or_stale(tmp_path: Path) -> None:
    copy = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, copy, ignore=shutil.ignore_patterns("*.mo"))
    assert len(i18n.compile_catalogs(copy)) == 2
    assert i18n.compile_catalogs(copy) == []  # up to date: nothing to do
    po = copy / "pt_PT" / "LC_MESSAGES" / "feeds.po"
    mo = po.with_suffix(".mo")
    stamp = mo.stat().st_mtime
    os.utime(po, (stamp + 10, stamp + 10))
    assert i18n.compile_catalogs(copy) == [mo]


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        ("pt", "pt_PT"),
        ("pt-PT", "pt_PT"),
        ("pt-BR", "pt_PT"),
        ("zh", "zh_Hans"),
        ("zh-Hans", "zh_Hans"),
        ("zh-TW", "zh_Hans"),
        ("zh-Hant", "zh_Hans"),
        ("zh-HK", "zh_Hans"),
        ("en-GB", "en"),
        ("fr", "en"),
        (None, "en"),
    ],
)
def test_languages_of_tags(tag: str | None, locale: str) -> None:
    assert i18n.locale_of(tag) == locale


def test_translations_in_each_language() -> None:
    assert i18n.texts("en").gettext("Reminder: ") == "Reminder: "
    assert i18n.texts("pt_PT").gettext("Reminder: ") == "Lembrete: "
    assert i18n.texts("zh_Hans").gettext("Reminder: ") == "提醒："
    talks = "%(num)d talk", "%(num)d talks"
    assert i18n.texts("pt_PT").ngettext(*talks, 1) % {"num": 1} == "1 palestra"
    assert i18n.texts("pt_PT").ngettext(*talks, 2) % {"num": 2} == "2 palestras"
    assert i18n.texts("pt_PT").ngettext(*talks, 0) % {"num": 0} == "0 palestras"
    assert i18n.texts("zh_Hans").ngettext(*talks, 3) % {"num": 3} == "3 场报告"
