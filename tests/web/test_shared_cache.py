"""Headers for a shared cache in front (issue 21): public feeds `public` with
stale-while-revalidate and an ETag, personal feeds `private`, Vary only Accept-Encoding; the
client address through a configured number of trusted proxies (werkzeug's ProxyFix)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request
from flask.testing import FlaskClient

from events.models import Event

PUBLIC = [
    "/series/lisbon-ml.ics",
    "/series/lisbon-ml.rss",
    "/series/lisbon-ml.atom",
    "/series/lisbon-ml.json",
    "/events/shared-1.ics",
    "/calendar.ics",
    "/feed.rss",
    "/feed.atom",
    "/feed.json",
]


def test_public_feeds_are_cacheable_by_a_shared_cache(
    client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    make_event(id="shared-1")
    for url in PUBLIC:
        answer = client.get(url, headers={"Cookie": "tz=Asia/Shanghai"})
        assert answer.status_code == 200, url
        assert answer.headers["Cache-Control"] == "public, max-age=300, stale-while-revalidate=60"
        assert answer.headers["Vary"] == "Accept-Encoding", url
        assert answer.headers["ETag"] and answer.headers["Last-Modified"], url
        assert "Set-Cookie" not in answer.headers, url
        again = client.get(url, headers={"If-None-Match": answer.headers["ETag"]})
        assert again.status_code == 304, url
        assert again.headers["Cache-Control"] == answer.headers["Cache-Control"], url


def test_cache_lifetimes_come_from_the_settings(
    make_app: Callable[..., Flask], make_event: Callable[..., Event]
) -> None:
    make_event(id="shared-1")
    client = make_app(feed_max_age=5, feed_stale_seconds=0).test_client()
    for url in PUBLIC:
        control = client.get(url).headers["Cache-Control"]
        assert control == "public, max-age=5, stale-while-revalidate=0", url


def _address_app(make_app: Callable[..., Flask], **overrides: object) -> FlaskClient:
    app = make_app(**overrides)
    app.add_url_rule("/_address", "address", lambda: f"{request.remote_addr} {request.scheme}")
    return app.test_client()


def test_proxy_hops_trust_exactly_that_many_forwarded_entries(
    make_app: Callable[..., Flask],
) -> None:
    headers = {"X-Forwarded-For": "6.6.6.6, 203.0.113.7", "X-Forwarded-Proto": "https"}
    direct = _address_app(make_app).get("/_address", headers=headers).text
    assert direct == "127.0.0.1 http"  # no proxy configured: forwarded headers are ignored
    behind = _address_app(make_app, proxy_hops=1).get("/_address", headers=headers).text
    assert behind == "203.0.113.7 https"  # the entry nginx appended, not the client's claim
