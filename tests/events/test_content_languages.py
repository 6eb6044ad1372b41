"""Content in several languages: tags, choosing a reader's text, import, export, history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from events import exporter, history, importer, languages, search, store
from events.clock import SYSTEM_CLOCK
from events.errors import InvalidRecord
from events.models import Event, Series
from events.schemas import validate_event, validate_series
from server import sample_data_path

SERIES = {"slug": "bj", "name": "机器学习讨论班", "timezone": "Asia/Shanghai", "language": "zh"}
TALK = {
    "id": "t1",
    "title": "冷冻电镜原理",
    "abstract": "冷冻电镜显微学。",
    "start": "2027-03-13 09:30",
    "end": "2027-03-13 11:30",
}


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("en", "en"),
        ("ZH-hans", "zh-Hans"),
        ("pt_pt", "pt-PT"),
        ("zh-Hant-TW", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("sl-rozaj-biske", "sl-rozaj-biske"),
        ("en-x-twain", "en-x-twain"),
    ],
)
def test_tags_are_canonical(given: str, canonical: str) -> None:
    assert languages.canonical_tag(given) == canonical


@pytest.mark.parametrize(
    "bad", ["", "e", "english", "xx", "zh-Hanz", "en-QQ", "zh-Hans-", "en--GB", "x" * 40, "zh Hans"]
)
def test_malformed_tags_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="BCP 47"):
        languages.canonical_tag(bad)


@pytest.mark.parametrize(
    ("reader", "expected"),
    [
        ("zh-Hans", "zh"),  # the original
        ("zh-Hans-CN", "zh"),
        ("en", "en"),
        ("en-GB", "en"),
        ("pt-PT", "pt"),
        ("pt", "pt"),
        ("fr", "zh"),
        (None, "zh"),
    ],
)
def test_choose_falls_back_to_prefix_then_original(reader: str | None, expected: str) -> None:
    assert languages.choose(reader, "zh", ["en", "pt"]) == expected


def test_choose_matches_a_longer_tag_of_the_same_language_and_script() -> None:
    assert languages.choose("pt", "en", ["pt-PT"]) == "pt-PT"
    assert languages.choose("zh-Hans", "en", ["zh-Hant"]) == "en"
    assert languages.choose("zh-Hans", "en", ["zh-CN"]) == "zh-CN"


def test_pick_falls_back_per_field() -> None:
    translations: dict[str, dict[str, str]] = {"en": {"title": "Cryo-EM"}}
    assert languages.pick("en", "zh", "冷冻电镜", translations, "title") == languages.Shown(
        "Cryo-EM", "en"
    )
    assert languages.pick("en", "zh", "摘要", translations, "abstract") == languages.Shown(
        "摘要", "zh"
    )
    assert languages.pick("zh-Hans", "zh", "冷冻电镜", translations, "title").lang == "zh"


def test_validation_reads_mappings_and_lists_and_canonicalises_tags() -> None:
    series = validate_series(SERIES)
    as_map = validate_event(
        {**TALK, "translations": {"EN-gb": {"title": " Cryo-EM  basics ", "abstract": "Hi.\r\n"}}},
        series,
    )
    assert as_map.translations == {"en-GB": {"title": "Cryo-EM basics", "abstract": "Hi."}}
    as_list = validate_event(
        {**TALK, "translations": [{"language": "en", "title": "Cryo-EM"}]}, series
    )
    assert as_list.translations == {"en": {"title": "Cryo-EM"}}


@pytest.mark.parametrize(
    ("translations", "field", "message"),
    [
        ({"english": {"title": "x"}}, "translations.english.[key]", "BCP 47"),
        ({"en": {}}, "translations.en", "give a title or an abstract"),
        ({"en": {"title": "x", "subtitle": "y"}}, "translations.en.subtitle", "Extra"),
        ({"en": {"title": "a\u202eb"}}, "translations.en.title", "direction-changing"),
        ({"ZH": {"title": "x"}}, "translations.zh", "the series' own language"),
    ],
)
def test_bad_translations_name_the_field(
    translations: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidRecord) as caught:
        validate_event({**TALK, "translations": translations}, validate_series(SERIES))
    assert any(where == field and message in text for where, text in caught.value.errors), (
        caught.value.errors
    )


def test_series_translations_validate() -> None:
    record = validate_series({**SERIES, "translations": {"en": {"name": "Joint ML Seminar"}}})
    assert record.translations == {"en": {"name": "Joint ML Seminar"}}
    with pytest.raises(InvalidRecord) as caught:
        validate_series({**SERIES, "translations": {"en": {"title": "x"}}})
    assert caught.value.errors[0][0] == "translations.en.title"


def _import(sessions: sessionmaker[Session], name: str, text: str, fmt: str) -> None:
    parsed = importer.parse_bytes(name, text.encode(), fmt)
    with sessions() as session, session.begin():
        importer.apply(session, parsed, SYSTEM_CLOCK.now())


def test_yaml_import_export_round_trip(sessions: sessionmaker[Session]) -> None:
    document = {
        "series": [
            {
                **SERIES,
                "translations": {"en": {"name": "Joint ML Seminar", "description": "In English."}},
                "events": [
                    {**TALK, "translations": {"en": {"title": "Cryo-EM", "abstract": "Hello."}}}
                ],
            }
        ]
    }
    _import(sessions, "a.yaml", yaml.safe_dump(document, allow_unicode=True), "yaml")
    with sessions() as session:
        event = session.get(Event, "t1")
        assert event is not None
        assert event.translations == {"en": {"title": "Cryo-EM", "abstract": "Hello."}}
        exported = exporter.export_series(session, ["bj"], "json")
    for fmt, text in (("json", exported),):
        again = importer.parse_bytes("again", text.encode(), fmt)
        with sessions() as session, session.begin():
            report = importer.apply(session, again, SYSTEM_CLOCK.now())
        assert report.events["updated"] == 0 and report.series["updated"] == 0, report
    assert '"translations"' in exported and "Joint ML Seminar" in exported


def test_csv_columns_carry_translations(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        store.upsert_series(session, validate_series(SERIES), SYSTEM_CLOCK.now())
    csv_text = (
        "series,id,title,start,end,title@en,abstract@en,title@pt-PT\n"
        "bj,c1,冷冻电镜,2027-03-13 09:30,2027-03-13 11:30,Cryo-EM,In English.,Crio-ME\n"
    )
    _import(sessions, "a.csv", csv_text, "csv")
    with sessions() as session:
        event = session.get(Event, "c1")
        assert event is not None
        assert event.translations == {
            "en": {"title": "Cryo-EM", "abstract": "In English."},
            "pt-PT": {"title": "Crio-ME"},
        }


def test_sample_data_pairs_chinese_and_english(sessions: sessionmaker[Session]) -> None:
    raw = sample_data_path().read_bytes()
    parsed = importer.parse_bytes("seminars.yaml", raw, "yaml")
    with sessions() as session, session.begin():
        importer.apply(session, parsed, SYSTEM_CLOCK.now())
    with sessions() as session:
        event = session.get(Event, "2021-11-27-wang")
        assert event is not None and event.series.language == "zh"
        assert event.title == "冷冻电镜原理及相关算法"
        assert event.translations["en"]["title"].startswith("Principles of cryo-electron")
        shown = languages.pick("en", "zh", event.title, event.translations, "title")
        assert shown.lang == "en"


def test_a_translation_edit_is_an_update_with_history(
    sessions: sessionmaker[Session], make_event: Callable[..., Event]
) -> None:
    make_event(series="bj2", id="h1")
    with sessions() as session, session.begin():
        event = session.get(Event, "h1")
        assert event is not None
        series = session.get(Series, event.series_id)
        assert series is not None
        data = {**importer.event_input(event), "translations": {"pt": {"title": "Redes"}}}
        record = validate_event(data, store.series_record(series))
        before = (event.version, event.sequence, series.feed_revision)
        _, outcome = store.upsert_event(session, series, record, SYSTEM_CLOCK.now())
        assert outcome.action == "updated" and not outcome.material
    with sessions() as session:
        event = session.get(Event, "h1")
        assert event is not None and event.translations == {"pt": {"title": "Redes"}}
        assert event.sequence == before[1]  # not a material change: calendars keep SEQUENCE
        assert event.version > before[0]
        assert event.series.feed_revision > before[2]
        logged = history.changes_of(session, event)
        assert logged[0].fields["translations"] == [{}, {"pt": {"title": "Redes"}}]


def test_search_finds_a_talk_by_its_title_in_another_language(
    sessions: sessionmaker[Session], make_series: Callable[..., Series]
) -> None:
    make_series(**SERIES)
    bulk = {**TALK, "id": "bulk", "translations": {"en": {"title": "Cryo-EM basics"}}}
    one = {**TALK, "id": "one", "translations": {"pt": {"abstract": "Microscopia crioeletrónica"}}}
    with sessions() as session, session.begin():
        series = store.get_series(session, "bj")
        record = store.series_record(series)
        store.create_events(session, series, [validate_event(bulk, record)], SYSTEM_CLOCK.now())
        store.upsert_event(session, series, validate_event(one, record), SYSTEM_CLOCK.now())
    when = datetime(2027, 1, 1, tzinfo=UTC)
    with sessions() as session:
        assert [e.id for e in search.search(session, "cryo-em basics", when).events] == ["bulk"]
        assert [e.id for e in search.search(session, "crioeletronica", when).events] == ["one"]
