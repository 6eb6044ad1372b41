"""Concurrent writers (issue 14): real threads on the test database (run it on PostgreSQL too).

Two editors PATCH one talk with the same If-Match: exactly one wins, the other gets 412 with
the current ETag; concurrent imports and edits of one series never answer 500.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from events import importer
from events.errors import Conflict
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


def _series_file(slug: str, writer: int, talks: int = 60) -> str:
    events = [
        {
            "id": f"{slug}-{i}",
            "title": f"Talk {i} from writer {writer}",
            "start": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d} {10 + writer}:00",
            "end": f"{11 + writer}:00",
        }
        for i in range(talks)
    ]
    order = events if writer % 2 else events[::-1]  # opposite orders invite deadlocks
    series = {"slug": slug, "name": f"Raced {writer}", "timezone": "UTC", "events": order}
    return json.dumps({"series": [series]})


def test_concurrent_imports_and_edits_of_one_series_never_fail_hard(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    app = make_app(api_writes_per_minute=10_000, api_imports_per_hour=10_000)
    secret = issue_token(sessions, admin=True)
    statuses: list[int] = []
    for round_ in range(3):
        slug = f"raced-{round_}"
        files = []
        for writer in range(4):
            path = tmp_path / f"{slug}-{writer}.json"
            path.write_text(_series_file(slug, writer), encoding="utf-8")
            files.append(path)

        def cli_import(path: Path) -> str:
            try:
                importer.import_files(sessions, [path], progress=False)
            except Conflict as exc:
                return f"conflict: {exc}"
            return "ok"

        def api_import(writer: int, slug: str = slug) -> int:
            answer = app.test_client().post(
                "/api/v1/import",
                data=_series_file(slug, writer),
                content_type="application/json",
                headers=bearer(secret),
            )
            assert answer.status_code in (200, 409), answer.get_data(as_text=True)
            return answer.status_code

        def patcher(i: int, slug: str = slug) -> list[int]:
            client = app.test_client()
            seen = []
            for n in range(8):
                got = client.get(f"/api/v1/events/{slug}-{i}")
                if got.status_code == 404:
                    seen.append(404)
                    continue
                answer = client.patch(
                    f"/api/v1/events/{slug}-{i}",
                    json={"title": f"Patched {n}"},
                    headers=bearer(secret, If_Match=got.headers["ETag"]),
                )
                assert answer.status_code in (200, 409, 412), answer.get_data(as_text=True)
                seen.append(answer.status_code)
            return seen

        results = _race(
            [
                *(lambda p=path: cli_import(p) for path in files[:2]),
                *(lambda w=writer: api_import(w) for writer in (2, 3)),
                *(lambda i=i: patcher(i) for i in (0, 59)),
            ]
        )
        assert results[:2] == ["ok", "ok"], results[:2]
        assert results[2:4] == [200, 200], results[2:4]
        statuses += results[4] + results[5]
        with sessions() as session:
            assert session.query(Event).join(Series).filter(Series.slug == slug).count() == 60
    assert 500 not in statuses
