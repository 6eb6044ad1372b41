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
from babel.messages.extract import DEFAULT_KEYWORDS

from feeds import i18n
from tests.support import catalogs
from tests.support.catalogs import assert_complete, assert_plurals, template_ids

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "feeds" / "translations"
LOCALES = ("pt_PT", "zh_Hans")


def source_messages() -> set[str | tuple[str, str]]:
    """Return the messages in the sources now: an id, or (singular, plural) of a plural."""
    return catalogs.source_messages(TRANSLATIONS, DEFAULT_KEYWORDS)


def source_ids() -> set[str]:
    """Return the message ids in the sources now (singular ids of plural messages)."""
    return catalogs.source_ids(source_messages())


def catalog(locale: str) -> Catalog:
    return catalogs.read_catalog(TRANSLATIONS, locale, "feeds")


@pytest.fixture(scope="module")
def ids() -> set[str]:
    found = source_ids()
    assert "Confirm your subscription to %(series)s" in found  # emails
    assert "Reminder: " in found  # and the N_() marked texts
    return found


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated(ids: set[str], locale: str) -> None:
    """No id of the sources is missing, empty or fuzzy; placeholders match (babel's checks)."""
    assert_complete(catalog(locale), ids, locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_plural_message_has_all_its_forms(locale: str) -> None:
    """A text counted with ngettext is a plural entry with all its forms translated."""
    assert_plurals(catalog(locale), source_messages(), locale)


def test_the_template_matches_the_sources(ids: set[str]) -> None:
    """feeds.pot is what pybabel extracts today (README 'Languages' says how)."""
    assert template_ids(TRANSLATIONS / "feeds.pot") == ids


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
