"""Email is offered beside the calendar and feeds, and its pages look like the rest of the site."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events.models import Event, Series, Subscriber
from tests.support.mailtools import csrf


def get_emails_link(html: str) -> str:
    """Return the href of the page's "Get emails" button."""
    found = re.search(r'<a class="button email" href="([^"]+)">Get emails</a>', html)
    assert found, "no Get emails button"
    return found.group(1)


def test_home_series_and_talk_pages_offer_get_emails_beside_the_calendar(
    client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    event = make_event()
    slug = "lisbon-ml"
    home = client.get("/").get_data(as_text=True)
    assert get_emails_link(home) == "/subscribe"
    series = client.get(f"/series/{slug}").get_data(as_text=True)
    assert get_emails_link(series) == f"/series/{slug}/subscribe"
    talk = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert get_emails_link(talk) == f"/series/{slug}/subscribe"
    for page in (home, series, talk):  # beside the calendar buttons, in the same box
        box = page.split('id="subscribe"', 1)[1].split("</section>", 1)[0]
        assert "Add to Google Calendar" in box and "Get emails" in box


def test_email_pages_use_the_site_template_and_stylesheet(
    client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    make_event()
    page = client.get("/series/lisbon-ml/subscribe").get_data(as_text=True)
    assert re.search(r"href=\"[^\"]*/site.css[^\"]*\"", page) and 'class="site-header"' in page
    assert "<style" not in page and "style=" not in page


def test_the_site_wide_form_subscribes_to_the_ticked_series(
    client: FlaskClient, sessions: sessionmaker[Session], make_series: Callable[..., Series]
) -> None:
    make_series(slug="one", name="One")
    make_series(slug="two", name="Two")
    page = client.get("/subscribe?series=two").get_data(as_text=True)
    assert 'value="two" checked' in page and 'value="one" >' in page
    token = csrf(client, "/subscribe")
    answer = client.post(
        "/subscribe",
        data={
            "csrf_token": token,
            "email": "r@example.org",
            "timezone": "UTC",
            "series": ["one", "two"],
        },
    )
    assert answer.status_code == 200
    assert "Check your inbox" in answer.get_data(as_text=True)
    with sessions() as session:
        subscriber = session.scalars(select(Subscriber)).one()
        assert sorted(s.series.slug for s in subscriber.subscriptions) == ["one", "two"]
    none = client.post("/subscribe", data={"csrf_token": token, "email": "x@example.org"})
    assert none.status_code == 422
    assert "choose at least one series" in none.get_data(as_text=True)
