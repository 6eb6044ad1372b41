"""Interface languages (web/i18n.py): catalogs complete, choice of language, dates in CLDR.

The catalog test extracts the message ids from the sources now (pybabel's extractor with
web/translations/babel.cfg), so a text wrapped in gettext but not yet translated — or left
fuzzy, or with broken placeholders — fails here, and so does a stale messages.pot.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from events import importer
from feeds import display
from server import sample_data_path
from tests.support import catalogs
from tests.support.catalogs import assert_complete, assert_plurals, template_ids
from web import i18n

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "web" / "translations"
LOCALES = ("pt_PT", "zh_Hans")
SEMINAR = "ml-joint-seminar"
TALK = "2021-11-27-wang"
KEYWORDS = {"_": None, "_l": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None}


def source_messages() -> set[str | tuple[str, str]]:
    """Return the messages in the sources now: an id, or (singular, plural) of a plural."""
    return catalogs.source_messages(TRANSLATIONS, KEYWORDS)


def source_ids() -> set[str]:
    """Return the message ids in the sources now (singular ids of plural messages)."""
    return catalogs.source_ids(source_messages())


def catalog(locale: str) -> Catalog:
    return catalogs.read_catalog(TRANSLATIONS, locale, "messages")


@pytest.fixture(scope="module")
def ids() -> set[str]:
    found = source_ids()
    assert "Upcoming talks" in found  # the extractor sees the templates
    assert "Invited talk" in found  # and the lazy texts of the Python code
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
    """messages.pot is what pybabel extracts today (README 'Languages' says how)."""
    assert template_ids(TRANSLATIONS / "messages.pot") == ids


def test_catalogs_compile_when_missing_or_stale(tmp_path: Path) -> None:
    copy = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, copy, ignore=shutil.ignore_patterns("*.mo"))
    assert len(i18n.compile_catalogs(copy)) == 2
    assert i18n.compile_catalogs(copy) == []  # up to date: nothing to do
    po = copy / "zh_Hans" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    stamp = mo.stat().st_mtime
    po.touch()
    import os

    os.utime(po, (stamp + 10, stamp + 10))
    assert i18n.compile_catalogs(copy) == [mo]


@pytest.mark.parametrize(
    ("value", "locale"),
    [
        ("pt", "pt_PT"),
        ("pt-PT", "pt_PT"),
        ("pt_PT", "pt_PT"),
        ("zh", "zh_Hans"),
        ("zh-Hans", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh_Hans", "zh_Hans"),
        ("zh-TW", "zh_Hans"),
        ("zh-Hant", "zh_Hans"),
        ("zh-HK", "zh_Hans"),
        ("zh_Hant_TW", "zh_Hans"),
        ("en-GB", "en"),
        ("fr", None),
        ("", None),
    ],
)
def test_language_names(value: str, locale: str | None) -> None:
    found = i18n.parse_language(value)
    assert (found.locale if found else None) == locale


@pytest.fixture
def sample(sessions: sessionmaker[Session]) -> None:
    importer.import_files(sessions, [sample_data_path()], progress=False)


@pytest.fixture
def pages() -> Iterator[list[str]]:
    yield [
        "/",
        f"/series/{SEMINAR}",
        f"/events/{TALK}",
        "/no-such-page",
        f"/series/{SEMINAR}/subscribe",
    ]


def html_lang(html: str) -> str:
    start = html.index("<html lang=") + len('<html lang="')
    return html[start : html.index('"', start)]


def test_english_by_default(client: FlaskClient, sample: None) -> None:
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert html_lang(html) == "en"
    assert "Upcoming talks" in html
    assert "Accept-Language" in response.headers["Vary"]
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    ("asked", "tag", "heading"),
    [("pt-PT", "pt-PT", "Próximas palestras"), ("zh", "zh-Hans", "即将举行的报告")],
)
def test_lang_parameter_translates_and_is_remembered(
    client: FlaskClient, sample: None, pages: list[str], asked: str, tag: str, heading: str
) -> None:
    response = client.get(f"/?lang={asked}")
    html = response.get_data(as_text=True)
    assert html_lang(html) == tag
    assert heading in html
    assert "Upcoming talks" not in html
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"lang={tag};") and "SameSite=Lax" in cookie
    for path in pages:  # the cookie carries the choice to the next pages
        assert html_lang(client.get(path).get_data(as_text=True)) == tag


def test_cookie_then_accept_language(client: FlaskClient, sample: None) -> None:
    zh = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
    assert html_lang(client.get("/", headers=zh).get_data(as_text=True)) == "zh-Hans"
    pt = {"Accept-Language": "fr-FR, pt-BR;q=0.8, en;q=0.5"}
    assert html_lang(client.get("/", headers=pt).get_data(as_text=True)) == "pt-PT"
    other = {"Accept-Language": "de, fr;q=0.8"}
    assert html_lang(client.get("/", headers=other).get_data(as_text=True)) == "en"
    client.set_cookie("lang", "pt-PT")
    assert html_lang(client.get("/", headers=zh).get_data(as_text=True)) == "pt-PT"
    # ?lang= wins over both
    assert html_lang(client.get("/?lang=en", headers=zh).get_data(as_text=True)) == "en"


def test_traditional_chinese_browsers_read_simplified_chinese(
    client: FlaskClient, sample: None
) -> None:
    """zh-TW, zh-Hant and zh-HK fall back to Simplified Chinese, not to the next tag."""
    for accept in ("zh-TW,zh;q=0.9", "zh-Hant-TW, en;q=0.5", "zh-HK, en;q=0.8", "zh-MO"):
        html = client.get("/", headers={"Accept-Language": accept}).get_data(as_text=True)
        assert html_lang(html) == "zh-Hans", accept
    assert html_lang(client.get("/?lang=zh-TW").get_data(as_text=True)) == "zh-Hans"


def test_switcher_links_keep_the_page_and_its_arguments(client: FlaskClient, sample: None) -> None:
    html = client.get(f"/series/{SEMINAR}?recorded=1&lang=zh-Hans").get_data(as_text=True)
    assert f'href="/series/{SEMINAR}?recorded=1&amp;lang=en"' in html
    assert f'href="/series/{SEMINAR}?recorded=1&amp;lang=pt-PT"' in html
    assert '<span aria-current="true" lang="zh-Hans">中文</span>' in html


def test_talk_page_times_in_each_language(client: FlaskClient, sample: None) -> None:
    """The zone rule's spans, with CLDR dates and localised zone names."""
    en = client.get(f"/events/{TALK}").get_data(as_text=True)
    assert "Sat 27 Nov 2021, 09:30</time>–<time" in en
    pt = client.get(f"/events/{TALK}?lang=pt").get_data(as_text=True)
    assert "sábado, 27 de novembro de 2021, 09:30</time>–<time" in pt
    assert '<span class="zl">hora de Pequim</span>' in pt
    assert "<dt>Quando</dt>" in pt
    zh = client.get(f"/events/{TALK}?lang=zh&tz=Europe/Lisbon").get_data(as_text=True)
    assert "2021年11月27日 星期六 09:30</time>–<time" in zh
    assert '<span class="zl">北京时间</span>' in zh
    assert '<span class="zl">里斯本时间</span>' in zh
    assert "<dt>时间</dt>" in zh


def test_plural_rules(client: FlaskClient, sample: None) -> None:
    """Counts on the home page use each language's plural rule (pt: 1 vs other; zh: one form)."""
    with client.application.test_request_context("/?lang=pt"):
        from flask_babel import ngettext

        assert ngettext("%(num)d upcoming talk", "%(num)d upcoming talks", 1) == (
            "1 próxima palestra"
        )
        assert ngettext("%(num)d upcoming talk", "%(num)d upcoming talks", 0) == (
            "0 próximas palestras"
        )
        assert ngettext("%(num)d upcoming talk", "%(num)d upcoming talks", 3) == (
            "3 próximas palestras"
        )
    with client.application.test_request_context("/?lang=zh"):
        assert ngettext("%(num)d upcoming talk", "%(num)d upcoming talks", 3) == (
            "3 场即将举行的报告"
        )


def test_not_found_page_in_each_language(client: FlaskClient, sample: None) -> None:
    assert "Página não encontrada" in client.get("/nope?lang=pt").get_data(as_text=True)
    assert "页面未找到" in client.get("/nope?lang=zh").get_data(as_text=True)


@pytest.mark.parametrize("lang", ["pt-PT", "zh-Hans"])
def test_translated_pages_are_valid_html(
    client: FlaskClient, sample: None, html_checker: object, pages: list[str], lang: str
) -> None:
    for path in pages:
        html = client.get(f"{path}?lang={lang}").get_data(as_text=True)
        html_checker.assert_valid(html, f"{path} ({lang})")  # type: ignore[attr-defined]


INSTANT = datetime(2027, 3, 13, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("locale", "zone", "expected"),
    [
        ("en", "Asia/Shanghai", "Sat 13 Mar 2027, 09:30 Beijing time"),
        ("zh_Hans", "Asia/Shanghai", "2027年3月13日 星期六 09:30 北京时间"),
        ("pt_PT", "Asia/Shanghai", "sábado, 13 de março de 2027, 09:30 hora de Pequim"),
        ("pt_PT", "Europe/Lisbon", "sábado, 13 de março de 2027, 01:30 hora de Lisboa"),
        (
            "pt_PT",
            "America/New_York",
            "sexta-feira, 12 de março de 2027, 20:30 hora de Nova Iorque",
        ),
        ("zh_Hans", "America/New_York", "2027年3月12日 星期五 20:30 纽约时间"),
        ("zh_Hans", "UTC", "2027年3月13日 星期六 01:30 UTC"),
    ],
)
def test_dates_per_locale(locale: str, zone: str, expected: str) -> None:
    when = display.day_time(
        display.day(INSTANT, zone, locale), display.clock(INSTANT, zone), locale
    )
    assert f"{when} {display.zone_label(zone, locale)}" == expected


def test_english_dates_unchanged() -> None:
    """The default locale keeps the compact English form every feed and email uses."""
    assert display.day(INSTANT, "Asia/Shanghai") == "Sat 13 Mar 2027"
    assert display.zone_label("Europe/Lisbon") == "Lisbon time"


def test_search_page_in_each_language(client: FlaskClient, sample: None) -> None:
    pt = client.get("/search?q=entropy&lang=pt").get_data(as_text=True)
    assert "Palestras que correspondem a «entropy»" in pt
    zh = client.get("/search?q=nothing-matches-this&lang=zh").get_data(as_text=True)
    assert "没有匹配的即将举行的报告。" in zh
    assert '<a href="/search?q=nothing-matches-this&amp;past=1">搜索往期报告</a>' in zh
