"""Concurrent writers (issue 14): real threads on the test database (run it on PostgreSQL too).

Two editors PATCH one talk with the same If-Match: exactly one wins, the other gets 412 with
the current ETag; concurrent imports and edits of one series never answer 500.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from events.models import Event, Series
from tests.support.apiutil import bearer, issue_token

# 200 rounds on PostgreSQL (where writers really overlap); SQLite serialises its writers.
ROUNDS = {"postgresql": 200, "sqlite": 50}


def _race(workers: list[Callable[[], Any]]) -> list[Any]:
    """Run the workers at once (released together by a barrier); return their results."""
    barrier = threading.Barrier(len(workers))
    results: list[Any] = [None] * len(workers)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = workers[i]()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def test_two_writers_with_one_if_match_exactly_one_wins(
    make_app: Callable[..., Flask],
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
) -> None:
    app = make_app(api_writes_per_minute=10_000)
    make_event(id="raced")
    secret = issue_token(sessions, "lisbon-ml")
    clients = [app.test_client(), app.test_client()]
    rounds = ROUNDS[app.extensions["eventfeed"].engine.dialect.name]
    both_won = 0
    for n in range(rounds):
        etag = clients[0].get("/api/v1/events/raced").headers["ETag"]

        def patch(i: int, n: int = n, etag: str = etag) -> tuple[int, str | None, str]:
            answer = clients[i].patch(
                "/api/v1/events/raced",
                json={"title": f"Round {n} by writer {i}"},
                headers=bearer(secret, If_Match=etag),
            )
            return answer.status_code, answer.headers.get("ETag"), answer.get_data(as_text=True)

        first, second = _race([lambda: patch(0), lambda: patch(1)])
        statuses = sorted([first[0], second[0]])
        if statuses == [200, 200]:
            both_won += 1
            continue
        assert statuses == [200, 412], (first, second)
        winner, loser = (first, second) if first[0] == 200 else (second, first)
        assert loser[1] == winner[1], "the 412 carries the current ETag (the winner's)"
        assert winner[1] is not None and winner[1].strip('"') in loser[2]
    assert both_won == 0, f"both writers got 200 in {both_won} of {rounds} rounds"


def test_a_stale_delete_is_refused(
    app: Flask, sessions: sessionmaker[Session], make_event: Callable[..., Event]
) -> None:
    make_event(id="doomed")
    secret = issue_token(sessions, "lisbon-ml")
    client = app.test_client()
    etag = client.get("/api/v1/events/doomed").headers["ETag"]
    changed = client.patch(
        "/api/v1/events/doomed", json={"title": "New"}, headers=bearer(secret, If_Match=etag)
    )
    assert changed.status_code == 200
    gone = client.delete("/api/v1/events/doomed", headers=bearer(secret, If_Match=etag))
    assert gone.status_code == 412
    assert gone.headers["ETag"] == changed.headers["ETag"]
    with sessions() as session:
        assert session.get(Event, "doomed") is not None
        assert session.query(Series).count() == 1
