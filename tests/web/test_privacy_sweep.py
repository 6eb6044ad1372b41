"""Sweep every public GET route of the app for meeting secrets that the policy withholds."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from tests.support.apiutil import bearer, issue_token

SECRETS = ("sweep-passcode-1", "sweep-hidden-2", "https://zoom.example.org/j/sweep", "999 111")
SERIES = {
    "slug": "sweep",
    "name": "Sweep",
    "timezone": "Europe/Lisbon",
    "meeting": {
        "platform": "Zoom",
        "url": "https://zoom.example.org/j/sweep",
        "id": "999 111",
        "passcode": "sweep-passcode-1",
    },
}
# Values for URL arguments; rules with other arguments (e.g. personal feed tokens) are skipped.
ARGUMENTS = {"slug": "sweep", "event_id": "hidden-talk", "ext": "ics"}


def test_no_public_url_reveals_a_withheld_passcode_or_join_link(
    app: Flask, client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    token = issue_token(sessions, admin=True)
    assert client.post("/api/v1/series", json=SERIES, headers=bearer(token)).status_code == 201
    talks = [
        {"id": "sub-talk", "title": "Subscribers", "start": "2026-01-15 12:00", "end": "13:00"},
        {
            "id": "hidden-talk",
            "title": "Hidden",
            "start": "2026-01-16 12:00",
            "end": "13:00",
            "meeting": {"access": "hidden", "passcode": "sweep-hidden-2"},
        },
    ]
    for talk in talks:
        answer = client.post("/api/v1/series/sweep/events", json=talk, headers=bearer(token))
        assert answer.status_code == 201
    swept = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or not set(rule.arguments) <= set(ARGUMENTS):
            continue
        for event_id in ("sub-talk", "hidden-talk"):
            values = {name: ARGUMENTS[name] for name in rule.arguments}
            if "event_id" in values:
                values["event_id"] = event_id
            url = rule.build(values)[1]  # type: ignore[index]
            answer = client.get(url)
            assert answer.status_code < 500, url
            text = answer.get_data(as_text=True)
            for secret in SECRETS:
                assert secret not in text, (url, secret)
            swept.append(url)
    assert "/api/v1/events/hidden-talk" in swept and "/api/v1/series/sweep" in swept
