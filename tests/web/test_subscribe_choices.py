"""Per-subscription choices from the first request (issue 17): the series subscribe form
offers what the manage page offers (how often, reminder, cancellations) with defaults, and
`POST /api/v1/subscriptions` takes topics as well as series; whatever is chosen is stored on
each subscription asked for and takes effect at confirmation (double opt-in)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events.models import Outbox, Series, Subscriber, Subscription
from mail import subscribers
from tests.support.mailtools import csrf
from tests.support.topical import add_math_topics

SLUG = "lisbon-ml"
FORM = f"/series/{SLUG}/subscribe"


@pytest.fixture
def content(sessions: sessionmaker[Session], make_series: Callable[..., Series]) -> None:
    """A series and the topic Mathematics › Analysis of PDEs."""
    make_series()
    with sessions() as session, session.begin():
        add_math_topics(session)


def _subscriptions(sessions: sessionmaker[Session], email: str) -> dict[str, Subscription]:
    with sessions() as session:
        reader = session.scalars(select(Subscriber).where(Subscriber.email == email)).one()
        return {s.key: s for s in reader.subscriptions}


def _confirm(client: FlaskClient, sessions: sessionmaker[Session], email: str) -> None:
    """Follow the confirmation link (as its owner does) and check the manage page."""
    with sessions() as session:
        reader = session.scalars(select(Subscriber).where(Subscriber.email == email)).one()
        url = f"/subscriptions/confirm/{subscribers.confirmation_token(reader)}"
    answer = client.post(url, data={"csrf_token": csrf(client, url)})
    assert answer.status_code == 200


def test_the_series_form_offers_the_manage_pages_choices_with_defaults(
    client: FlaskClient, content: None
) -> None:
    page = client.get(FORM).get_data(as_text=True)
    assert 'name="announcements"' not in page and 'name="digest"' not in page
    radios = re.findall(r'<input type="radio" name="frequency" value="(\w+)" ?(checked)?', page)
    assert radios == [("announcement", "checked"), ("daily", ""), ("weekly", "")]
    assert "<legend>How often</legend>" in page
    options = re.findall(r'<option value="(\d+)" ?(selected)?>([^<]+)</option>', page)
    assert options == [
        ("0", "", "No reminder"),
        ("1", "", "1 hour before"),
        ("24", "selected", "1 day before"),
    ]
    assert re.search(r'<input type="checkbox" name="cancellations" checked>', page)
    # every control has its label (keyboard and screen readers), no script needed
    assert '<label for="reminder_hours">' in page and '<label for="timezone">' in page
    assert "<script>" not in page


def test_choices_are_stored_on_the_subscription_and_kept_at_confirmation(
    client: FlaskClient, content: None, sessions: sessionmaker[Session]
) -> None:
    form = {
        "csrf_token": csrf(client, FORM),
        "email": "reader@example.org",
        "timezone": "Asia/Shanghai",
        "frequency": "daily",
        "reminder_hours": "1",
        # cancellations unticked: the field is absent
    }
    bad = client.post(FORM, data={**form, "frequency": "hourly"})
    assert bad.status_code == 422
    again = bad.get_data(as_text=True)  # the form comes back with what was chosen
    assert 'value="reader@example.org"' in again
    assert re.search(r'<option value="1" selected>', again)
    assert re.search(r'<input type="checkbox" name="cancellations" >', again)
    assert client.post(FORM, data=form).status_code == 200
    pending = _subscriptions(sessions, "reader@example.org")[SLUG]
    assert pending.confirmed_at is None
    assert (pending.frequency, pending.reminder_hours, pending.cancellations) == ("daily", 1, False)
    _confirm(client, sessions, "reader@example.org")
    confirmed = _subscriptions(sessions, "reader@example.org")[SLUG]
    assert confirmed.confirmed_at is not None
    assert (confirmed.frequency, confirmed.reminder_hours, confirmed.cancellations) == (
        "daily",
        1,
        False,
    )
    with sessions() as session:
        token = session.scalars(select(Subscriber.token)).one()
    manage = client.get(f"/manage/{token}").get_data(as_text=True)
    assert re.search(rf'name="frequency-{SLUG}" value="daily" checked', manage)


def test_the_defaults_are_each_announcement_a_day_ahead_and_cancellations(
    client: FlaskClient, content: None, sessions: sessionmaker[Session]
) -> None:
    form = {
        "csrf_token": csrf(client, FORM),
        "email": "plain@example.org",
        "timezone": "UTC",
        "frequency": "announcement",
        "reminder_hours": "24",
        "cancellations": "on",
    }
    assert client.post(FORM, data=form).status_code == 200
    made = _subscriptions(sessions, "plain@example.org")[SLUG]
    assert (made.frequency, made.reminder_hours, made.cancellations) == ("announcement", 24, True)


def test_the_topic_form_takes_the_same_choices(
    client: FlaskClient, content: None, sessions: sessionmaker[Session]
) -> None:
    url = "/topics/math/subscribe"
    page = client.get(url).get_data(as_text=True)
    assert 'name="cancellations"' in page and 'value="weekly"' in page
    form = {
        "csrf_token": csrf(client, url),
        "email": "topic@example.org",
        "timezone": "UTC",
        "frequency": "weekly",
        "reminder_hours": "0",
    }
    assert client.post(url, data=form).status_code == 200
    made = _subscriptions(sessions, "topic@example.org")["topic:math"]
    assert (made.frequency, made.reminder_hours, made.cancellations) == ("weekly", 0, False)


def test_the_api_subscribes_to_topics_with_double_opt_in(
    client: FlaskClient, content: None, sessions: sessionmaker[Session]
) -> None:
    body = {
        "email": "api@example.org",
        "series": SLUG,
        "topics": ["math-ap"],
        "timezone": "Europe/Lisbon",
        "frequency": "weekly",
        "reminder_hours": 1,
        "cancellations": False,
    }
    answer = client.post("/api/v1/subscriptions", json=body)
    assert answer.status_code == 202, answer.get_json()
    made = _subscriptions(sessions, "api@example.org")
    assert set(made) == {SLUG, "topic:math-ap"}
    for subscription in made.values():
        assert subscription.confirmed_at is None  # nothing flows before confirmation
        assert (subscription.frequency, subscription.reminder_hours) == ("weekly", 1)
        assert subscription.cancellations is False
    with sessions() as session:
        kinds = session.scalars(select(Outbox.kind)).all()
    assert kinds == ["confirmation"]
    _confirm(client, sessions, "api@example.org")
    assert all(s.confirmed_at for s in _subscriptions(sessions, "api@example.org").values())
    # A topic alone is enough (a script, without the browser's session cookie).
    alone = client.application.test_client().post(
        "/api/v1/subscriptions", json={"email": "t@example.org", "topics": "math"}
    )
    assert alone.status_code == 202
    topic = _subscriptions(sessions, "t@example.org")["topic:math"]
    assert (topic.frequency, topic.reminder_hours, topic.cancellations) == (
        "announcement",
        24,
        True,
    )


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"email": "a@example.org"}, {"series", "topics"}),
        ({"email": "a@example.org", "topics": ["nope"]}, {"topics"}),
        ({"email": "a@example.org", "topics": ["nope"], "series": ["gone"]}, {"series", "topics"}),
        ({"email": "a@example.org", "topics": [3]}, {"topics"}),
        ({"email": "a@example.org", "series": ["topic:math"]}, {"series"}),
        ({"email": "a@example.org", "topics": "math", "frequency": "hourly"}, {"frequency"}),
        ({"email": "a@example.org", "topics": "math", "cancellations": "no"}, {"cancellations"}),
        ({"email": "not an address", "topics": "math"}, {"email"}),
        ({"email": "a@example.org", "topics": "math", "timezone": "Mars/Base"}, {"timezone"}),
    ],
)
def test_api_topic_errors_are_per_field_and_store_nothing(
    client: FlaskClient,
    content: None,
    sessions: sessionmaker[Session],
    body: dict[str, object],
    fields: set[str],
) -> None:
    answer = client.post("/api/v1/subscriptions", json=body)
    assert answer.status_code == 422, answer.get_json()
    assert {e["field"] for e in answer.get_json()["errors"]} == fields
    with sessions() as session:
        assert session.scalars(select(Subscriber)).all() == []
        assert session.scalars(select(Outbox)).all() == []


def test_the_api_documents_topics(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    text = str(document["paths"]["/subscriptions"]) + str(document.get("components", {}))
    assert "topics" in text and "frequency" in text and "cancellations" in text


@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        ("pt-PT", ["Receber emails de", "Com que frequência", "1 dia antes", "for cancelada"]),
        ("zh-Hans", ["频率", "提前 1 天", "报告取消时通知我", "电子邮件地址"]),
    ],
)
def test_the_subscribe_form_speaks_the_readers_language(
    client: FlaskClient, content: None, lang: str, texts: list[str]
) -> None:
    page = client.get(f"{FORM}?lang={lang}").get_data(as_text=True)
    for text in texts:
        assert text in page, (lang, text)
