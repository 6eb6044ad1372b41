"""The subscriber's language (migration 0021): from the page at subscribe time (or the API's
`language`, else Accept-Language), changed on the management page, and every email sent to
them speaks it, through the real SMTP path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import store
from events.clock import SYSTEM_CLOCK
from events.config import Settings
from events.models import Event, Series, Subscriber
from mail import outbox, sender
from tests.support.mailtools import SmtpServer, csrf, link, path_of, text_part


@pytest.fixture
def seminar(make_series: Callable[..., Series]) -> Series:
    return make_series(slug="pde", name="PDE seminar", timezone="Europe/Lisbon")


def deliver(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Send everything queued."""
    report = sender.send_batch(sessions, settings, progress=False)
    assert report.ok, report.summary()


def language_of(sessions: sessionmaker[Session], email: str) -> str:
    with sessions() as session:
        return session.scalars(select(Subscriber.language).where(Subscriber.email == email)).one()


def subscribe_form(client: FlaskClient, email: str, query: str = "") -> dict[str, str]:
    return {
        "csrf_token": csrf(client, f"/series/pde/subscribe{query}"),
        "email": email,
        "timezone": "Europe/Lisbon",
        "announcements": "on",
        "reminder_hours": "0",
    }


def test_the_page_language_becomes_the_emails_language(
    client: FlaskClient,
    seminar: Series,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    form = subscribe_form(client, "leitor@example.pt", "?lang=pt-PT")
    assert client.post("/series/pde/subscribe", data=form).status_code == 200
    assert language_of(sessions, "leitor@example.pt") == "pt_PT"
    deliver(sessions, mail_settings)
    (confirmation,) = smtp.inbox.messages
    assert confirmation["Subject"] == "Confirme a sua subscrição de PDE seminar"
    assert "O seu fuso horário: hora de Lisboa (Europe/Lisbon)" in text_part(confirmation)
    confirm_url = path_of(link(confirmation, "/subscriptions/confirm/"))
    answer = client.post(confirm_url, data={"csrf_token": csrf(client, confirm_url)})
    assert answer.status_code == 200
    # An announcement in Portuguese, with CLDR's date and the zone named in Portuguese.
    start = datetime(2027, 3, 13, 9, 30, tzinfo=UTC)  # a Saturday, UTC+0 in Lisbon
    event = make_event(
        series="pde",
        id="p1",
        title="Soluções de viscosidade",
        start=start.strftime("%Y-%m-%d %H:%M"),
        end="11:30",
    )
    with sessions() as session, session.begin():
        assert outbox.announce(session, store.get_event(session, event.id), SYSTEM_CLOCK.now())
    deliver(sessions, mail_settings)
    announcement = smtp.inbox.messages[-1]
    subject = str(announcement["Subject"])
    assert subject.startswith("[PDE seminar] Soluções de viscosidade — sábado, 13 de março de 2027")
    assert subject.endswith(", 09:30 (hora de Lisboa)")
    assert "Esta palestra" not in subject and "Foi anunciada uma nova palestra." in text_part(
        announcement
    )


def test_accept_language_and_the_management_page(
    client: FlaskClient,
    seminar: Series,
    sessions: sessionmaker[Session],
    smtp: SmtpServer,
    mail_settings: Settings,
) -> None:
    taiwan = {"Accept-Language": "zh-TW,zh;q=0.9,en;q=0.5"}
    client.get("/", headers=taiwan)
    form = subscribe_form(client, "reader@example.tw")
    answer = client.post("/series/pde/subscribe", data=form, headers=taiwan)
    assert answer.status_code == 200
    assert language_of(sessions, "reader@example.tw") == "zh_Hans"
    deliver(sessions, mail_settings)
    assert str(smtp.inbox.messages[-1]["Subject"]) == "请确认订阅 PDE seminar"
    with sessions() as session:
        token = session.scalars(
            select(Subscriber.token).where(Subscriber.email == "reader@example.tw")
        ).one()
    page = client.get(f"/manage/{token}").get_data(as_text=True)
    assert '<select id="language" name="language">' in page
    assert '<option value="zh-Hans" lang="zh-Hans" selected>' in page
    save = {
        "csrf_token": csrf(client, f"/manage/{token}"),
        "action": "save",
        "timezone": "Europe/Lisbon",
        "language": "pt-PT",
    }
    assert client.post(f"/manage/{token}", data=save).status_code == 200
    assert language_of(sessions, "reader@example.tw") == "pt_PT"
    bad = client.post(f"/manage/{token}", data={**save, "language": "klingon"})
    assert bad.status_code == 422
    assert language_of(sessions, "reader@example.tw") == "pt_PT"


def test_the_api_takes_a_language_or_accept_language(
    client: FlaskClient, seminar: Series, sessions: sessionmaker[Session]
) -> None:
    def post(email: str, headers: dict[str, str] | None = None, **extra: object) -> int:
        body = {"email": email, "series": "pde", **extra}
        return client.post("/api/v1/subscriptions", json=body, headers=headers).status_code

    assert post("a@example.org", language="zh-Hans") == 202
    assert post("b@example.org", {"Accept-Language": "pt-BR, en;q=0.5"}) == 202
    assert post("c@example.org") == 202
    assert post("d@example.org", language="fr") == 422
    assert language_of(sessions, "a@example.org") == "zh_Hans"
    assert language_of(sessions, "b@example.org") == "pt_PT"
    assert language_of(sessions, "c@example.org") == "en"


def test_the_personal_feeds_title_speaks_the_subscribers_language(
    client: FlaskClient, seminar: Series, sessions: sessionmaker[Session]
) -> None:
    """The personal calendar's and RSS feed's name follow the subscriber's language, and a
    change on the management page shows on the next request (the stored feed's version)."""
    from mail import subscribers

    earlier = datetime(2026, 1, 1, tzinfo=UTC)
    with sessions() as session, session.begin():
        chinese = subscribers.add_confirmed(
            session, "zh@example.org", ["pde"], "Asia/Shanghai", earlier, "zh-Hans"
        ).token
        english = subscribers.add_confirmed(
            session, "en@example.org", ["pde"], "Europe/Lisbon", earlier
        ).token
    name = "X-WR-CALNAME;VALUE=TEXT:"
    assert f"{name}My seminars" in client.get(f"/s/{english}.ics").get_data(as_text=True)
    assert f"{name}我的学术报告" in client.get(f"/s/{chinese}.ics").get_data(as_text=True)
    rss = client.get(f"/s/{chinese}.rss").get_data(as_text=True)
    assert "<title>我的学术报告</title>" in rss and "仅向订阅者提供的详情" in rss
    save = {
        "csrf_token": csrf(client, f"/manage/{chinese}"),
        "action": "save",
        "timezone": "Asia/Shanghai",
        "language": "pt-PT",
    }
    assert client.post(f"/manage/{chinese}", data=save).status_code == 200
    again = client.get(f"/s/{chinese}.ics").get_data(as_text=True)
    assert f"{name}Os meus seminários" in again, again[:400]
    assert "<title>Os meus seminários</title>" in client.get(f"/s/{chinese}.rss").get_data(
        as_text=True
    )
