"""HTTP details found by the fault campaign: the session cookie's flags and weak ETags."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from events.models import Event


def session_cookie(app: Flask) -> dict[str, str]:
    """GET a form page (its CSRF token lives in the session) and return the cookie's attributes."""
    client = app.test_client()
    answer = client.get("/series/lisbon-ml/subscribe")
    assert answer.status_code == 200
    [header] = [h for h in answer.headers.getlist("Set-Cookie") if h.startswith("session=")]
    attributes: dict[str, str] = {}
    for part in header.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        attributes[name.lower()] = value
    return attributes


@pytest.mark.parametrize(
    ("base_url", "secure"),
    [("https://events.example.org", True), ("http://localhost:5000", False)],
)
def test_session_cookie_is_lax_http_only_and_secure_behind_https(
    make_app: Callable[..., Flask],
    make_event: Callable[..., Event],
    base_url: str,
    secure: bool,
) -> None:
    make_event()
    attributes = session_cookie(make_app(base_url=base_url))
    assert attributes.get("samesite") == "Lax"
    assert "httponly" in attributes
    assert ("secure" in attributes) is secure


@pytest.mark.parametrize(
    "url",
    [
        "/series/lisbon-ml.ics",  # the stored-feed path (304 from the stamp)
        "/series/lisbon-ml.atom",
        "/feed.rss",  # the rendered path (web.http.cached_response)
        "/calendar.ics",
        "/events/weak.ics",
    ],
)
def test_weak_if_none_match_matches(app: Flask, make_event: Callable[..., Event], url: str) -> None:
    """If-None-Match uses weak comparison (RFC 9110 §13.1.2): W/"<etag>" is a match."""
    make_event(id="weak", start="2099-01-15 12:00", end="2099-01-15 13:00")
    client = app.test_client()
    for encoding in ("identity", "gzip"):
        headers = {"Accept-Encoding": encoding}
        first = client.get(url, headers=headers)
        assert first.status_code == 200
        etag = first.headers["ETag"]
        assert not etag.startswith("W/")
        for sent in (f"W/{etag}", f'"other", W/{etag}'):
            answer = client.get(url, headers={**headers, "If-None-Match": sent})
            assert answer.status_code == 304, (url, encoding, sent)
            assert answer.headers["ETag"] == etag
        other = client.get(url, headers={**headers, "If-None-Match": 'W/"other"'})
        assert other.status_code == 200
