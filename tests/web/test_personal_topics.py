"""Followed topics in the personal feed (issue 17): `/s/<token>.ics` and `.rss` carry the talks
of the topics a reader follows (public series only, each talk once however it is followed),
and every change that moves a talk into or out of a followed topic, or the reader's
following or leaving a topic, is visible on the very next request, through the Flask views
and through the WSGI fast path (which must never serve the body stored before it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import EnvironBuilder

from events import store, topics
from events.models import Event, Series, Subscription, Topic
from mail import subscribers
from tests.support.records import add_reader, edit_talk
from tests.support.topical import add_math_topics
from tests.web.test_fastpath import _answer, _fast
from tests.web.test_stored_feeds import TOKEN

EDITED = ("speakers", "topics")  # kept by an edit
PERSONAL = [f"/s/{TOKEN}.ics", f"/s/{TOKEN}.rss"]


def _month() -> str:
    today = datetime.now(UTC).date()
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return f"{year}-{month:02d}"


@pytest.fixture
def site(
    app: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> Flask:
    """Mathematics › Analysis of PDEs; a reader following the series alpha and the topic
    Mathematics: alpha's talk is on it too, gamma is on the subtopic, beta on nothing, and
    an unlisted series on Mathematics stays out."""
    with sessions() as session, session.begin():
        add_math_topics(session)
    make_series(slug="alpha", name="Seminar alpha")
    make_series(slug="beta", name="Seminar beta")
    make_series(slug="gamma", name="Seminar gamma", topics=["math-ap"])
    make_series(slug="hidden", name="Seminar hidden", topics=["math"], visibility="unlisted")
    month = _month()
    for n, (slug, title, on) in enumerate(
        [
            ("alpha", "Alpha talk", ["Mathematics"]),
            ("beta", "Beta talk", []),
            ("gamma", "Gamma talk", []),
            ("hidden", "Hidden talk", []),
        ]
    ):
        make_event(
            slug,
            id=f"t{n}",
            title=title,
            start=f"{month}-{n + 10} 12:00",
            end="13:00",
            topics=on,
        )
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        reader = add_reader(session, "reader@example.org", "UTC", TOKEN, now)
        alpha = store.get_series(session, "alpha")
        math = session.scalars(select(Topic).where(Topic.slug == "math")).one()
        for target in ({"series_id": alpha.id}, {"topic_id": math.id}):
            session.add(
                Subscription(subscriber_id=reader.id, confirmed_at=now, created_at=now, **target)
            )
    return app


def _fresh(app: Flask) -> dict[str, bytes]:
    """Each personal feed now, after checking that neither path serves an older body.

    The fast path must pass on (no body is stored for the new version), then Flask builds
    the current body, and the fast path serves exactly that.
    """
    fast = _fast(app)
    bodies = {}
    for url in PERSONAL:
        assert fast.answer(EnvironBuilder(path=url).get_environ()) is None, url
        body = app.test_client().get(url).data
        assert _answer(app, url).data == body, url
        bodies[url] = body
    return bodies


def _has(bodies: dict[str, bytes], title: str) -> bool:
    found = {url: body.count(title.encode()) for url, body in bodies.items()}
    assert len(set(found.values())) == 1, found  # the calendar and the RSS feed agree
    assert max(found.values()) <= 1, found  # a talk followed twice is there once
    return bool(found[PERSONAL[0]])


def test_followed_topics_talks_are_in_the_personal_feed_once(site: Flask) -> None:
    client = site.test_client()
    bodies = {url: client.get(url).data for url in PERSONAL}
    assert _has(bodies, "Alpha talk")  # through its series and its topic: once
    assert _has(bodies, "Gamma talk")  # its series is on a subtopic
    assert not _has(bodies, "Beta talk")
    assert not _has(bodies, "Hidden talk")  # an unlisted series is only seen when followed
    for url in PERSONAL:
        assert _answer(site, url).data == bodies[url]
        etag = client.get(url).headers["ETag"]
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_topic_changes_reach_the_personal_feed_on_the_next_request(
    site: Flask, sessions: sessionmaker[Session], make_series: Callable[..., Series]
) -> None:
    client = site.test_client()
    for url in PERSONAL:
        client.get(url)

    edit_talk(sessions, "t1", EDITED, topics=["Analysis of PDEs"])  # a talk joins a followed topic
    assert _has(_fresh(site), "Beta talk")
    edit_talk(sessions, "t1", EDITED, title="Beta talk renamed")  # any edit of such a talk
    assert _has(_fresh(site), "Beta talk renamed")
    edit_talk(sessions, "t1", EDITED, topics=[])  # and leaves it
    assert not _has(_fresh(site), "Beta talk")

    make_series(slug="gamma", name="Seminar gamma", topics=[])  # a series leaves the topic
    assert not _has(_fresh(site), "Gamma talk")

    edit_talk(sessions, "t1", EDITED, topics=["math-ap"])
    assert _has(_fresh(site), "Beta talk")
    with sessions() as session, session.begin():
        topics.remove_topic(session, "math-ap")  # a taxonomy change: beta's talk leaves
    assert not _has(_fresh(site), "Beta talk")


def test_following_and_leaving_a_topic_changes_the_personal_feed(
    site: Flask, sessions: sessionmaker[Session]
) -> None:
    client = site.test_client()
    for url in PERSONAL:
        client.get(url)
    moment = datetime.now(UTC)
    with sessions() as session, session.begin():  # the reader leaves the topic
        reader = subscribers.by_token(session, TOKEN)
        assert reader is not None
        subscribers.leave(session, reader, "topic:math", moment)
    bodies = _fresh(site)
    assert _has(bodies, "Alpha talk") and not _has(bodies, "Gamma talk")

    with sessions() as session, session.begin():  # and follows its subtopic from the manage page
        reader = subscribers.by_token(session, TOKEN)
        assert reader is not None
        subscribers.update_choices(session, reader, ["alpha", "topic:math-ap"], "UTC", None, moment)
    bodies = _fresh(site)
    assert _has(bodies, "Gamma talk") and not _has(bodies, "Beta talk")


def test_an_unconfirmed_topic_adds_nothing(site: Flask, sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        reader = subscribers.by_token(session, TOKEN)
        assert reader is not None
        for subscription in reader.subscriptions:
            if subscription.topic_id is not None:
                subscription.confirmed_at = None
    bodies = {url: site.test_client().get(url).data for url in PERSONAL}
    assert _has(bodies, "Alpha talk") and not _has(bodies, "Gamma talk")


def test_a_topic_talks_revealed_meeting_reaches_the_feed_at_its_moment(
    make_app: Callable[..., Flask],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
    sessions: sessionmaker[Session],
) -> None:
    """A reader who follows only the topic gets the passcode when it is revealed, no sooner:
    the version of their feed covers the topic series' reveal moments too."""
    from events.clock import FrozenClock
    from tests.web.test_meeting_reveal import AFTER, BEFORE, MEETING, PASSCODE

    clock = FrozenClock(BEFORE)
    app = make_app(clock=clock)
    with sessions() as session, session.begin():
        topics.add_topic(session, "ml", "Machine learning")
    make_series(slug="bj", name="Joint ML", timezone="Beijing time", meeting=MEETING, topics=["ml"])
    make_event(series="bj", id="bj-talk", start="2026-03-10 09:30", end="2026-03-10 11:30")
    with sessions() as session, session.begin():
        reader = subscribers.add_confirmed(
            session, "li@example.org", ["topic:ml"], "Asia/Shanghai", BEFORE
        )
        token = reader.token
    urls = [f"/s/{token}.ics", f"/s/{token}.rss"]
    client = app.test_client()
    for url in urls:
        body = client.get(url).data
        assert b"bj-talk" in body and PASSCODE.encode() not in body, url
        assert _answer(app, url).data == body
    clock.advance(AFTER - BEFORE)  # the reveal moment has passed; no row changed
    for url in urls:
        assert _fast(app).answer(EnvironBuilder(path=url).get_environ()) is None, url
        body = client.get(url).data
        assert PASSCODE.encode() in body, url
        assert _answer(app, url).data == body
