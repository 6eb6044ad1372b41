"""Every HTML page of the site, swept: valid HTML (the Nu HTML checker, 0 errors) and no
inline script (the Content-Security-Policy would block it).

The sweep renders each page the site has, in each state worth seeing (home with and
without a viewer zone, paged lists, every talk of the sample data and a talk with every
field, 404s, the subscribe form with and without errors, confirmation, management page
confirmed and not, unsubscribe, message and error pages). A new page must be added here:
the test fails for a GET route of the page blueprints that the sweep does not reach.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException

from events import importer, schedules, topics
from events.models import Event
from mail import subscribers
from server import sample_data_path
from tests.support.htmlcheck import active_parts
from tests.support.mailtools import csrf
from tests.support.topical import add_math_topics
from tests.support.vnu import NuChecker

SERIES = "lisbon-ml-seminars"
# Blueprints whose GET routes answer HTML pages (the others answer feeds, JSON or files).
PAGE_BLUEPRINTS = ("pages", "subscriptions", "embed", "topics")


@dataclass(frozen=True)
class Page:
    """One rendered page: how it was asked for, its status and its HTML."""

    request: str
    status: int
    html: str


def _future(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d 12:00")


def schedule_days(block: dict[str, object], now: datetime) -> list[str]:
    """Return the dates a schedule block yields (to pick a skip date)."""
    spec = schedules.parse(
        {k: v for k, v in block.items() if k != "skip"},
        "Europe/Lisbon",
        where="t",
        today=now.date(),
    )
    return [o.key for o in schedules.occurrences(spec, "Europe/Lisbon", today=now.date())]


@pytest.fixture
def swept_pages(
    app: Flask,
    client: FlaskClient,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
) -> list[Page]:
    """Render every page of the site in the states worth checking."""
    importer.import_files(sessions, [sample_data_path()], progress=False)
    make_event(
        series=SERIES,
        id="everything",
        title="All fields: the $\\infty$-Laplacian <b>escaped</b>",
        speakers=[
            {"name": "Ana Lima", "affiliation": "IST", "homepage": "https://ana.example"},
            {"name": "王宇航", "affiliation": "北京深势科技有限公司"},
        ],
        abstract="**Bold**, a [link](https://example.org), $x^2$ and\n\n- a list\n\n```\ncode\n```",
        start=_future(3),
        end=_future(3).replace("12:00", "14:00"),
        location="Room 2.1 — Online",
        meeting={
            "platform": "Zoom",
            "url": "https://zoom.example/j/1",
            "id": "123",
            "passcode": "456",
            "alternate_id": "789",
            "access": "public",
        },
        livestream="https://live.example/1",
        recording="https://video.example/1",
        slides="https://slides.example/1.pdf",
        homepage="https://talk.example/1",
        tags=["pde", "analysis"],
        topics=["Mathematics › Analysis of PDEs", "viscosity solutions"],
    )
    make_event(
        series=SERIES,
        id="off",
        status="cancelled",
        start=_future(4),
        end=_future(4).replace("12:00", "13:00"),
    )
    make_event(
        series=SERIES,
        id="maybe",
        status="tentative",
        start=_future(5),
        end=_future(5).replace("12:00", "13:00"),
    )
    now = datetime.now(UTC)
    # Schedules (issue 18): TBA slots, a skipped slot, a session and a workshop timetable.
    soon = (now + timedelta(days=10)).date().isoformat()
    block = {
        "kind": "session",
        "id": "sched-session",
        "title": "Two talks",
        "start": f"{soon} 09:30",
    }
    items = [
        {"title": "First", "speakers": ["A"], "duration": 60},
        {"title": "Break", "kind": "break", "duration": 30},
    ]
    scheduled = {
        "slug": "sched",
        "name": "Scheduled series",
        "timezone": "Europe/Lisbon",
        "schedule": {
            "every": "week",
            "on": "monday",
            "start": "18:00",
            "duration": 60,
            "from": now.date().isoformat(),
            "count": 3,
            "skip": [{"date": "x", "reason": "holiday"}],
        },
        "events": [
            {**block, "end": f"{soon} 11:30", "talks": items},
            {
                **block,
                "kind": "workshop",
                "id": "sched-ws",
                "start": f"{soon} 14:00",
                "end": f"{soon} 16:00",
                "items": [
                    {
                        "title": "Spotlights",
                        "kind": "poster spotlights",
                        "posters": ["P1"],
                        "duration": 30,
                    }
                ],
            },
        ],
    }
    rule_days = [d for d in schedule_days(scheduled["schedule"], now)]
    scheduled["schedule"]["skip"] = [{"date": rule_days[-1], "reason": "holiday"}]
    parsed = importer.parse_bytes(
        "sched", json.dumps({"series": [scheduled]}).encode(), "json", now=now
    )
    with sessions() as session, session.begin():
        importer.apply(session, parsed, now, progress=False)
    with sessions() as session, session.begin():
        add_math_topics(session)
        topics.add_topic(session, "empty", "Empty topic", description="Nothing here yet.")
    with sessions() as session, session.begin():
        confirmed = subscribers.add_confirmed(
            session, "reader@example.org", [SERIES], "Asia/Tokyo", now
        )
        subscribers.subscribe(
            session, "reader@example.org", ["ml-joint-seminar"], None, subscribers.Choices(), now
        )
        pending = subscribers.subscribe(
            session, "new@example.org", [SERIES], "UTC", subscribers.Choices(), now
        )
        tokens = (confirmed.token, pending.token, subscribers.confirmation_token(pending))
    reader, newcomer, signed = tokens
    with sessions() as session:
        talks = session.scalars(select(Event.id).order_by(Event.id)).all()

    pages: list[Page] = []

    def keep(request: str, answer: object) -> None:
        pages.append(Page(request, answer.status_code, answer.get_data(as_text=True)))  # type: ignore[attr-defined]

    for path in (
        "/",
        "/?tz=Asia/Tokyo",
        "/?tz=Mars/Base",
        "/?page=2",
        f"/series/{SERIES}",
        f"/series/{SERIES}?upcoming=2",
        "/series/ml-joint-seminar",
        "/series/physics-deep-learning-workshop",
        "/series/sched",
        "/series/sched/next",
        "/series/ml-joint-seminar/next",
        "/series/sched?recorded=1",
        "/events/sched-ws?in=mine",
        "/events/sched-ws?in=mine&tz=Asia/Tokyo",
        *(f"/events/{talk}" for talk in talks),
        "/no-such-page",
        "/series/no-such-series",
        "/events/no-such-talk",
        f"/series/{SERIES}?past=99",
        f"/series/{SERIES}/subscribe",
        f"/subscribe?series={SERIES}",
        f"/subscriptions/confirm/{signed}",
        f"/manage/{reader}",
        f"/manage/{newcomer}",
        "/manage/not-a-token",
        f"/unsubscribe/{reader}",
        "/search",
        "/topics",
        "/?topic=math&mode=online&from=2020-01-01&to=2040-01-01&language=zh",
        "/topics/math",
        "/topics/math-ap?tz=Asia/Tokyo",
        "/topics/empty",
        "/topics/no-such-topic",
        "/topics/math/subscribe",
        "/embed/topics/math",
        f"/embed/series/{SERIES}",
        f"/embed/series/{SERIES}?tz=Asia/Tokyo&theme=dark&accent=c0ffee&limit=2",
        "/embed/series/ml-joint-seminar?theme=light",
        "/search?q=机器学习",
        "/search?q=Laplacian&past=1",
        "/search?q=nothing+matches+this",
        "/search?q=seminar&past=1",
    ):
        keep(f"GET {path}", client.get(path))
    form = f"/series/{SERIES}/subscribe"
    token = csrf(client, form)
    bad = {"csrf_token": token, "email": "not an address", "timezone": "Mars/Base"}
    keep(f"POST {form} (errors)", client.post(form, data=bad))
    good = {"csrf_token": token, "email": "third@example.org", "timezone": "UTC"}
    keep(f"POST {form}", client.post(form, data=good))
    keep(f"POST {form} (no CSRF token)", client.post(form, data={"email": "x@example.org"}))
    keep("POST /subscribe (errors)", client.post("/subscribe", data={**bad, "series": [SERIES]}))
    confirm = f"/subscriptions/confirm/{signed}"
    keep(f"POST {confirm}", client.post(confirm, data={"csrf_token": csrf(client, confirm)}))
    keep(
        "POST /subscriptions/confirm/bad",
        client.post("/subscriptions/confirm/bad", data={"csrf_token": token}),
    )
    manage = f"/manage/{reader}"
    saved = {"csrf_token": csrf(client, manage), "series": [SERIES], "timezone": "Nowhere/Land"}
    keep(f"POST {manage} (bad zone)", client.post(manage, data=saved))
    keep(f"POST /unsubscribe/{reader}", client.post(f"/unsubscribe/{reader}"))
    keep("POST / (405)", client.post("/"))
    return pages


def unswept_routes(app: Flask, pages: list[Page]) -> set[str]:
    """Return the endpoints of HTML GET routes that no swept page reached."""
    adapter = app.url_map.bind("events.example.org")
    swept = set()
    for page in pages:
        method, path = page.request.split(" (")[0].split(" ", 1)
        try:
            endpoint, _ = adapter.match(path.split("?")[0], method=method)
        except HTTPException:  # an unknown path: the 404 page
            continue
        swept.add(endpoint)
    routes = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ())
        and rule.endpoint.split(".")[0] in PAGE_BLUEPRINTS
        and not rule.endpoint.endswith(".static")
        and not rule.rule.startswith("/s/")  # personal feeds (calendar and RSS)
    }
    return routes - swept


def inline_scripts(html: str) -> list[str]:
    """Return the inline scripts and event-handler attributes of a page.

    A JSON-LD data block (`<script type="application/ld+json">`) is data, never run, and
    outside the CSP's reach; it is not counted.
    """
    inline = re.findall(
        r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/ld\+json\")[^>]*>",
        html,
        flags=re.IGNORECASE,
    )
    return inline + [p for p in active_parts(html) if "@on" in p or "javascript:" in p]


def test_every_page_is_valid_html_without_inline_script(
    app: Flask, swept_pages: list[Page], html_checker: NuChecker
) -> None:
    """One sweep (rendering every page takes seconds): all HTML routes, 0 errors, no inline
    script (the CSP, script-src 'self', would block it)."""
    statuses = {page.request: page.status for page in swept_pages}
    assert statuses["GET /no-such-page"] == 404 and statuses["GET /manage/not-a-token"] == 404
    assert statuses[f"GET /series/{SERIES}?upcoming=2"] == 200 and statuses["GET /?page=2"] == 200
    assert statuses[f"POST /series/{SERIES}/subscribe (errors)"] == 422
    assert statuses[f"POST /series/{SERIES}/subscribe (no CSRF token)"] == 400
    assert unswept_routes(app, swept_pages) == set()
    scripts = {page.request: inline_scripts(page.html) for page in swept_pages}
    assert {request: found for request, found in scripts.items() if found} == {}
    problems = []
    for page in swept_pages:
        problems += [f"{page.request}: {error}" for error in html_checker.errors(page.html)]
    assert problems == [], f"{len(problems)} HTML errors:\n" + "\n".join(problems)
