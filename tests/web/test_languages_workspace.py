"""The organiser workspace, subscription and error pages in Portuguese and Chinese.

Labels, flash messages, validation messages (the form's own and the records layer's known
ones), dates (CLDR, through feeds/display) and the switcher; English stays as it was.
"""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from tests.support.vnu import NuChecker
from tests.web.test_organise import (  # noqa: F401  (fixtures, asked for by name)
    clock,
    make_series_via_form,
    organiser,
    post,
    signed_in,
    talk_fields,
    web,
)


def owner(web: Flask, sessions: sessionmaker[Session], lang: str) -> FlaskClient:  # noqa: F811
    """Return a signed-in owner of a new Lisbon series whose browser asked for `lang`."""
    client = signed_in(web, organiser(sessions, "owner@example.org"))
    assert make_series_via_form(client).status_code == 302
    client.get(f"/organise?lang={lang}")  # remembered in the cookie from now on
    return client


def test_workspace_speaks_portuguese(web: Flask, sessions: sessionmaker[Session]) -> None:  # noqa: F811
    client = owner(web, sessions, "pt-PT")
    home = client.get("/organise").get_data(as_text=True)
    assert '<html lang="pt-PT">' in home and "Os seus ciclos" in home
    assert 'aria-current="true" lang="pt-PT">Português' in home  # the switcher
    assert "Sessão iniciada como <strong>owner@example.org</strong>" in home
    # The form's own validation messages and the records layer's known ones.
    path = "/organise/series/lisbon-number-theory/talks/new"
    answer = post(client, path, {**talk_fields(), "date": "", "timezone": "Nowhere/Land"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422, answer.status_code
    assert "Indique a data da palestra." in page and "Corrija isto, por favor" in page
    bad = make_series_via_form(client, name="", slug="x", timezone="Nowhere/Land")
    page = bad.get_data(as_text=True)
    assert "fuso horário desconhecido ‘Nowhere/Land’" in page
    assert "tem de ter pelo menos 1 carácter" in page
    # A flash message, and the talk's date in CLDR Portuguese.
    saved = post(client, path, {**talk_fields(), "action": "publish"})
    assert saved.status_code == 302
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Publicada. Já está na página do ciclo e em todos os feeds." in page
    series = client.get("/organise/series/lisbon-number-theory").get_data(as_text=True)
    assert "sexta-feira, 20 de março de 2026" in series  # 09:30 Beijing on the 20th


def test_workspace_speaks_chinese(web: Flask, sessions: sessionmaker[Session]) -> None:  # noqa: F811
    client = owner(web, sessions, "zh-Hans")
    path = "/organise/series/lisbon-number-theory/talks/new"
    form = client.get(path).get_data(as_text=True)
    assert '<html lang="zh-Hans">' in form and "开始时间" in form and "添加另一位报告人" in form
    answer = post(client, path, {**talk_fields(), "start_time": "", "end_time": "", "duration": ""})
    page = answer.get_data(as_text=True)
    assert "请输入开始时间。" in page and "请输入结束时间，或以分钟为单位的时长。" in page
    tokens = client.get("/organise/tokens").get_data(as_text=True)
    assert "API 令牌" in tokens and "您拥有的所有系列" in tokens


def test_english_messages_stay_as_written(web: Flask, sessions: sessionmaker[Session]) -> None:  # noqa: F811
    client = signed_in(web, organiser(sessions, "owner@example.org"))
    bad = make_series_via_form(client, name="", slug="x", timezone="Nowhere/Land")
    page = bad.get_data(as_text=True)
    assert '<html lang="en">' in page and "String should have at least 1 character" in page


def test_subscription_and_error_pages(
    client: FlaskClient, sessions: sessionmaker[Session], html_checker: NuChecker
) -> None:
    from events import importer
    from server import sample_data_path

    importer.import_files(sessions, [sample_data_path()], progress=False)
    page = client.get("/series/ml-joint-seminar/subscribe?lang=zh").get_data(as_text=True)
    assert "接收 Joint Seminar of Machine Learning 的邮件" in page and "电子邮件地址" in page
    gone = client.get("/manage/not-a-token").get_data(as_text=True)
    assert "链接未知或已被替换。" in gone
    refused = client.post("/?lang=pt")
    assert refused.status_code == 405 and "Allow" in refused.headers
    assert "Método não permitido" in refused.get_data(as_text=True)
    topic = client.get("/topics?lang=pt").get_data(as_text=True)
    assert "<h1>Temas</h1>" in topic
    from events.clock import SYSTEM_CLOCK
    from mail import subscribers

    with sessions() as session, session.begin():
        reader = subscribers.add_confirmed(
            session, "reader@example.org", ["ml-joint-seminar"], "UTC", SYSTEM_CLOCK.now()
        )
        token = reader.token
    problems = []
    for lang in ("pt", "zh"):
        for path in ("/series/ml-joint-seminar/subscribe", f"/manage/{token}", "/subscribe"):
            answer = client.get(f"{path}?lang={lang}")
            assert answer.status_code == 200, path
            html = answer.get_data(as_text=True)
            problems += [f"{path} ({lang}): {e}" for e in html_checker.errors(html)]
    refused = client.post("/?lang=zh").get_data(as_text=True)
    problems += [f"405: {e}" for e in html_checker.errors(refused)]
    assert problems == [], "\n".join(problems)


def test_translated_workspace_pages_are_valid_html(
    web: Flask,  # noqa: F811
    sessions: sessionmaker[Session],
    html_checker: NuChecker,
) -> None:
    """Translations carry markup (links, <strong>, data attributes): still valid HTML."""
    for lang in ("pt-PT", "zh-Hans"):
        client = signed_in(web, organiser(sessions, f"owner-{lang}@example.org"))
        slug = f"series-{lang.lower()}"
        assert make_series_via_form(client, name=f"Series {lang}", slug=slug).status_code == 302
        client.get(f"/organise?lang={lang}")
        path = f"/organise/series/{slug}/talks/new"
        talk = post(client, path, {**talk_fields(), "action": "publish"}).headers["Location"]
        pages = [
            "/organise",
            f"/organise/series/{slug}",
            talk,
            f"/organise/series/{slug}/settings",
            f"/organise/series/{slug}/history",
            f"{talk}/history",
            f"{talk}/announce",
            f"{talk}/speaker-link",
            "/organise/tokens",
            f"/organise/series/{slug}/subscribers",
            f"/organise/series/{slug}/people",
        ]
        problems = []
        for page in pages:
            answer = client.get(page)
            assert answer.status_code == 200, (page, answer.status_code)
            problems += [f"{page}: {e}" for e in html_checker.errors(answer.get_data(as_text=True))]
        invalid = post(client, path, {**talk_fields(), "date": ""})
        problems += [
            f"invalid talk: {e}" for e in html_checker.errors(invalid.get_data(as_text=True))
        ]
        assert problems == [], "\n".join(problems)
