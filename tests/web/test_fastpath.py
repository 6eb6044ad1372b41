"""The WSGI fast path (web.fastpath) answers stored feeds exactly as the Flask stack does:
same status, headers and bytes, for plain, gzip, conditional and HEAD requests; it only
ever serves the stored body of the current version, and personal feeds stay personal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder, run_wsgi_app

from events.models import Event, Series, Subscriber
from tests.web.test_stored_feeds import PERSONAL, SITE, TOKEN, _retitle, _setup
from web.fastpath import BodyMemo, StoredFeeds

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

SERIES = [f"/series/alpha.{fmt}" for fmt in ("ics", "rss", "atom", "json")]
URLS = [*SERIES, *SITE, *PERSONAL, "/events/s0.ics"]


def _fast(app: Flask) -> StoredFeeds:
    wrapper = app.wsgi_app
    assert isinstance(wrapper, StoredFeeds)
    return wrapper


@pytest.fixture
def site(
    app: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> Flask:
    _setup(sessions, make_series, make_event)
    client = app.test_client()
    for url in URLS:  # stored, plain and gzip
        assert client.get(url).status_code == 200, url
        assert client.get(url, headers={"Accept-Encoding": "gzip"}).status_code == 200, url
    return app


@dataclass(frozen=True)
class Wire:
    """An answer as sent: status, the header list as is, the body."""

    status_code: int
    headers: Headers
    data: bytes


def _run(application: WSGIApplication, environ: WSGIEnvironment) -> Wire:
    app_iter, status, headers = run_wsgi_app(application, environ, buffered=True)
    return Wire(int(status.split()[0]), headers, b"".join(app_iter))


def _answer(app: Flask, url: str, method: str = "GET", **headers: str) -> Wire:
    """The fast path's answer, run as WSGI (None: it passed the request on)."""
    fast = _fast(app)
    environ = EnvironBuilder(path=url, method=method, headers=headers).get_environ()
    found = fast.answer(environ)
    assert found is not None, (url, method, headers)
    return _run(found, environ)


def _flask(app: Flask, url: str, method: str = "GET", **headers: str) -> Wire:
    """The Flask stack's answer (the environ as built: a test client drops `Cookie`)."""
    environ = EnvironBuilder(path=url, method=method, headers=headers).get_environ()
    return _run(_fast(app).app, environ)


def test_fast_answers_equal_the_flask_stack(site: Flask) -> None:
    for url in URLS:
        etag = _flask(site, url).headers["ETag"]
        modified = _flask(site, url).headers["Last-Modified"]
        variants: list[tuple[str, dict[str, str]]] = [
            ("GET", {}),
            ("GET", {"Accept-Encoding": "gzip, deflate"}),
            ("HEAD", {}),
            ("GET", {"If-None-Match": etag}),
            ("GET", {"If-None-Match": f"W/{etag}", "Accept-Encoding": "gzip"}),
            ("GET", {"If-Modified-Since": modified}),
        ]
        for method, headers in variants:
            fast = _answer(site, url, method, **headers)
            slow = _flask(site, url, method, **headers)
            assert fast.status_code == slow.status_code, (url, method, headers)
            assert fast.data == slow.data, (url, method, headers)
            assert sorted(fast.headers.items()) == sorted(slow.headers.items()), (
                url,
                method,
                headers,
            )
        if url in PERSONAL:
            assert _answer(site, url).headers["Cache-Control"].startswith("private")
            assert "Access-Control-Allow-Origin" not in _answer(site, url).headers
        else:
            assert _answer(site, url).headers["Access-Control-Allow-Origin"] == "*"


def test_the_fast_path_passes_on_what_it_has_not_stored(site: Flask) -> None:
    fast = _fast(site)
    for url, headers in [
        ("/calendar.ics?series=alpha", {}),
        ("/series/alpha.ics?group=session", {}),
        ("/series/nope.ics", {}),
        ("/s/unknown-token.ics", {}),
        ("/series/alpha.ics", {"Authorization": "Bearer x"}),
        ("/series/alpha", {}),
    ]:
        environ = EnvironBuilder(path=url, headers=headers).get_environ()
        assert fast.answer(environ) is None, url
    post = EnvironBuilder(path="/series/alpha.ics", method="POST").get_environ()
    assert fast.answer(post) is None


def test_after_an_edit_only_the_new_version_is_served(
    site: Flask, sessions: sessionmaker[Session]
) -> None:
    fast = _fast(site)
    etags = {url: _answer(site, url).headers["ETag"] for url in URLS}
    _retitle(sessions, "s0", "Renamed talk")  # a talk of alpha, followed by the reader
    for url in URLS:
        # stale stored body, old ETag: the fast path answers neither
        assert fast.answer(EnvironBuilder(path=url).get_environ()) is None, url
        conditional = {"If-None-Match": etags[url]}
        assert fast.answer(EnvironBuilder(path=url, headers=conditional).get_environ()) is None
        fresh = site.test_client().get(url)  # Flask builds and stores the new version
        assert b"Renamed talk" in fresh.data, url
        again = _answer(site, url)
        assert again.data == fresh.data and again.headers["ETag"] != etags[url], url


def test_personal_feeds_are_never_shared(site: Flask, sessions: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        other = Subscriber(
            email="other@example.org",
            timezone="UTC",
            token="o" * 40,
            confirmed_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(other)
    client = site.test_client()
    mine = client.get(f"/s/{TOKEN}.ics").data
    theirs = client.get(f"/s/{'o' * 40}.ics").data
    assert b"Talk 1" in mine and b"Talk 1" not in theirs
    assert _answer(site, f"/s/{'o' * 40}.ics").data == theirs
    assert _answer(site, f"/s/{TOKEN}.ics").data == mine
    with sessions() as session, session.begin():  # the reader's link is rotated
        session.execute(update(Subscriber).where(Subscriber.token == TOKEN).values(token="n" * 40))
    gone = EnvironBuilder(path=f"/s/{TOKEN}.ics").get_environ()
    assert _fast(site).answer(gone) is None
    assert client.get(f"/s/{TOKEN}.ics").status_code == 404


def test_a_warm_answer_reads_the_stamp_only(site: Flask) -> None:
    from tests.web.test_stored_feeds import statements

    for url in URLS:
        first = _answer(site, url)  # read from the database once, then kept in memory
        with statements(site) as seen:
            again = _answer(site, url)
        assert again.data == first.data, url
        assert len(seen) == 1 and "rendered" not in seen[0], (url, seen)


def test_the_memo_keeps_to_its_budget() -> None:
    memo = BodyMemo(budget=300)
    for name in "abcd":
        memo.put((name, "identity", "1"), name.encode() * 70)
    assert memo.get(("a", "identity", "1")) == b"a" * 70  # a is now the most recent
    memo.put(("e", "identity", "1"), b"e" * 70)
    assert memo.get(("b", "identity", "1")) is None and memo.size == 280
    assert memo.get(("a", "identity", "1")) is not None
    memo.put(("f", "identity", "1"), b"f" * 80)  # over a quarter of the budget: not kept
    assert memo.get(("f", "identity", "1")) is None


PAGES = ["/", "/series/alpha", "/events/s0"]
READERS: list[dict[str, str]] = [
    {},
    {"Cookie": "lang=pt"},
    {"Accept-Language": "zh-CN,zh;q=0.9"},
    {"Cookie": "tz=Asia%2FTokyo; lang=en"},
    {"Cookie": "tz=Not/AZone"},
    {"Accept-Encoding": "gzip"},
]


def test_stored_pages_answer_as_the_flask_stack(site: Flask) -> None:
    for url in PAGES:
        for headers in READERS:
            stored = _flask(site, url, **headers)  # Flask stores this variant
            assert stored.status_code == 200, (url, headers)
            for method in ("GET", "HEAD"):
                fast = _answer(site, url, method, **headers)
                slow = _flask(site, url, method, **headers)
                assert fast.status_code == slow.status_code == 200, (url, headers)
                assert fast.data == slow.data, (url, method, headers)
                assert sorted(fast.headers.items()) == sorted(slow.headers.items()), (
                    url,
                    method,
                    headers,
                )
    tokyo = _answer(site, "/", Cookie="tz=Asia%2FTokyo").data
    assert tokyo != _answer(site, "/").data  # zone variants never mix
    assert _answer(site, "/", Cookie="lang=pt").data != _answer(site, "/").data


def test_pages_the_fast_path_leaves_to_flask(site: Flask, sessions: sessionmaker[Session]) -> None:
    fast = _fast(site)
    site.test_client().get("/series/alpha")
    for url, headers in [
        ("/series/alpha?lang=pt", {}),
        ("/series/alpha", {"Cookie": "session=abc"}),  # a session may change the answer
        ("/series/nope", {}),
        ("/events/nope", {}),
        ("/series/alpha", {"Cookie": "lang=pt"}),  # not stored yet
    ]:
        environ = EnvironBuilder(path=url, headers=headers).get_environ()
        assert fast.answer(environ) is None, (url, headers)
    assert fast.answer(EnvironBuilder(path="/series/alpha").get_environ()) is not None
    _retitle(sessions, "s0", "Renamed talk")  # the series' stamp moves: Flask renders anew
    assert fast.answer(EnvironBuilder(path="/series/alpha").get_environ()) is None
    assert b"Renamed talk" in site.test_client().get("/series/alpha").data
    assert b"Renamed talk" in _answer(site, "/series/alpha").data


def test_the_fast_path_survives_a_dropped_connection(site: Flask) -> None:
    reader = _fast(site).reader
    before = _answer(site, "/calendar.ics").data
    for connection in reader._held:  # noqa: SLF001  (closed under it, as by a restart)
        connection.close()
    assert _answer(site, "/calendar.ics").data == before


def test_the_api_list_answers_as_the_flask_stack(
    site: Flask, sessions: sessionmaker[Session]
) -> None:
    url = "/api/v1/events"
    fast = _fast(site)
    assert fast.answer(EnvironBuilder(path=url).get_environ()) is None  # not stored yet
    assert _flask(site, url).status_code == 200  # Flask stores it
    for method, headers in [("GET", {}), ("HEAD", {}), ("GET", {"Accept-Encoding": "gzip"})]:
        quick = _answer(site, url, method, **headers)
        slow = _flask(site, url, method, **headers)
        assert (quick.status_code, quick.data) == (slow.status_code, slow.data), method
        assert sorted(quick.headers.items()) == sorted(slow.headers.items()), method
    for headers, query in [({"Authorization": "Bearer x"}, ""), ({"Cookie": "a=b"}, "")]:
        environ = EnvironBuilder(path=url, headers=headers, query_string=query).get_environ()
        assert fast.answer(environ) is None, headers
    assert fast.answer(EnvironBuilder(path=url, query_string="limit=5").get_environ()) is None
    _retitle(sessions, "s0", "Renamed talk")
    assert fast.answer(EnvironBuilder(path=url).get_environ()) is None
    assert b"Renamed talk" in _flask(site, url).data
    assert b"Renamed talk" in _answer(site, url).data
