"""The workspace talk form's "In other languages" rows (issue 20): no JavaScript needed, a bad
tag is an error on its own field, and a saved translation shows on the next public request."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.clock import FrozenClock
from events.models import Event
from tests.web.test_organise import (
    _version,
    clock,  # noqa: F401  (fixture)
    make_series_via_form,
    organiser,
    post,
    signed_in,
    talk_fields,
    web,  # noqa: F401  (fixture)
)

NEW = "/organise/series/lisbon-number-theory/talks/new"


def test_a_talk_gets_a_title_and_abstract_in_another_language(
    web: Flask,  # noqa: F811
    sessions: sessionmaker[Session],
    clock: FrozenClock,  # noqa: F811
) -> None:
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    make_series_via_form(client, language="zh")
    form = client.get(NEW).get_data(as_text=True)
    assert 'name="translations-0-language"' in form and "In other languages" in form
    more = post(client, NEW, {**talk_fields(), "action": "add_translation"}, NEW)
    assert 'name="translations-1-language"' in more.get_data(as_text=True)

    bad = post(
        client,
        NEW,
        {
            **talk_fields(),
            "translations-0-language": "english",
            "translations-0-title": "Modular forms",
            "action": "publish",
        },
        NEW,
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert re.search(r'id="translations-0-language-error">[^<]*BCP 47', page), page

    made = post(
        client,
        NEW,
        {
            **talk_fields(),
            "translations-0-language": "EN",
            "translations-0-title": "Modular forms, in English",
            "translations-0-abstract": "On *q*-series.",
            "action": "publish",
        },
        NEW,
    )
    assert made.status_code == 302, made.get_data(as_text=True)
    talk_url = made.headers["Location"]
    talk_id = talk_url.rsplit("/", 1)[1]
    with sessions() as session:
        event = session.get(Event, talk_id)
        assert event is not None
        assert event.translations == {
            "en": {"title": "Modular forms, in English", "abstract": "On *q*-series."}
        }
    shown = client.get(talk_url).get_data(as_text=True)
    assert 'value="en"' in shown and 'name="translations-1-language"' in shown  # + a blank row

    public = web.test_client()
    assert "Modular forms, in English" in public.get(f"/events/{talk_id}?lang=en").get_data(
        as_text=True
    )
    edited = post(
        client,
        talk_url,
        {
            **talk_fields(),
            "translations-0-language": "en",
            "translations-0-title": "Modular forms (English)",
            "version": _version(client, talk_url),
            "action": "save",
        },
        talk_url,
    )
    assert edited.status_code == 302, edited.get_data(as_text=True)
    page = public.get(f"/events/{talk_id}?lang=en").get_data(as_text=True)
    assert "Modular forms (English)" in page and "Modular forms, in English" not in page
    removed = post(
        client,
        talk_url,
        {**talk_fields(), "version": _version(client, talk_url), "action": "save"},
        talk_url,
    )
    assert removed.status_code == 302
    with sessions() as session:
        event = session.get(Event, talk_id)
        assert event is not None and event.translations == {}


def test_saving_the_series_settings_keeps_its_other_languages(
    web: Flask,  # noqa: F811
    sessions: sessionmaker[Session],
) -> None:
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    make_series_via_form(client, language="zh")
    with sessions() as session, session.begin():
        series = store.get_series(session, "lisbon-number-theory")
        series.translations = {"en": {"name": "Lisbon NT, in English"}}
    settings = "/organise/series/lisbon-number-theory/settings"
    fields = {
        "name": "里斯本数论",
        "slug": "lisbon-number-theory",
        "timezone": "Europe/Lisbon",
        "language": "zh",
        "visibility": "public",
        "attendance": "in_person",
        "room": "Room 1",
        "meeting_access": "subscribers",
    }
    saved = post(client, settings, fields)
    assert saved.status_code == 302, saved.get_data(as_text=True)
    with sessions() as session:
        series = store.get_series(session, "lisbon-number-theory")
        assert series.name == "里斯本数论"
        assert series.translations == {"en": {"name": "Lisbon NT, in English"}}
