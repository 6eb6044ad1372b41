"""The editor API: create, read, list, patch, cancel, delete, import; auth and errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from events.models import Event, Series
from tests.support.apiutil import bearer, issue_token

API = "/api/v1"
SERIES: dict[str, Any] = {
    "slug": "lisbon-ml",
    "name": "Lisbon Machine Learning Seminar",
    "timezone": "Lisbon time",
    "meeting": {
        "platform": "Zoom",
        "url": "https://zoom.example.org/j/123",
        "id": "123 456",
        "passcode": "s3cr3t-pass",
        "access": "subscribers",
    },
}
TALK: dict[str, Any] = {
    "id": "talk-1",
    "title": "Deep networks",
    "speakers": [{"name": "Maria Costa", "affiliation": "IST"}],
    "start": "2026-01-15 12:00",
    "end": "13:00",
    "tags": ["deep-learning"],
}


@pytest.fixture
def admin(sessions: sessionmaker[Session]) -> str:
    """An admin token."""
    return issue_token(sessions, admin=True)


@pytest.fixture
def editor(sessions: sessionmaker[Session]) -> str:
    """A token for the series lisbon-ml only."""
    return issue_token(sessions, "lisbon-ml", label="lisbon script")


@pytest.fixture
def talk(client: FlaskClient, editor: str) -> dict[str, Any]:
    """The series and one talk, created through the API by its editor."""
    assert client.post(f"{API}/series", json=SERIES, headers=bearer(editor)).status_code == 201
    answer = client.post(f"{API}/series/lisbon-ml/events", json=TALK, headers=bearer(editor))
    assert answer.status_code == 201, answer.get_json()
    return dict(answer.get_json())


def fields(answer: Any) -> dict[str, str]:
    """Return the per-field errors of an error answer as {field: message}."""
    body = answer.get_json()
    return {e["field"]: e["message"] for e in body["errors"]}


def count(sessions: sessionmaker[Session], model: type[Any]) -> int:
    """Return the number of rows of a model."""
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_editor_creates_reads_and_lists(client: FlaskClient, talk: dict[str, Any]) -> None:
    assert talk["start_local"] == "2026-01-15 12:00"
    assert talk["timezone"] == "Europe/Lisbon"
    assert talk["start_utc"] == "2026-01-15T12:00:00Z"
    assert talk["end_utc"] == "2026-01-15T13:00:00Z"
    assert talk["sequence"] == 0
    assert talk["series"] == "lisbon-ml"
    assert talk["meeting"]["passcode"] == "s3cr3t-pass"  # the editor sees it
    got = client.get(f"{API}/events/talk-1")
    assert got.status_code == 200
    assert got.headers["ETag"].startswith('"e0-')
    assert got.get_json()["created"] and got.get_json()["updated"]
    listed = client.get(f"{API}/events", query_string={"series": "lisbon-ml"}).get_json()
    assert [e["id"] for e in listed["items"]] == ["talk-1"]
    assert listed["total"] == 1


def test_public_reads_never_show_withheld_meeting_details(
    client: FlaskClient, talk: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    other = issue_token(sessions, "other-series")
    for headers in ({}, bearer(other)):
        for url in (
            f"{API}/events/talk-1",
            f"{API}/events",
            f"{API}/series/lisbon-ml",
            f"{API}/series",
            f"{API}/events?series=lisbon-ml",
        ):
            answer = client.get(url, headers=headers)
            assert answer.status_code == 200
            text = answer.get_data(as_text=True)
            for secret in ("s3cr3t-pass", "zoom.example.org", "123 456"):
                assert secret not in text, (url, secret)
    public = client.get(f"{API}/events/talk-1").get_json()["meeting"]
    assert public == {
        "platform": "Zoom",
        "url": None,
        "id": None,
        "passcode": None,
        "alternate_id": None,
        "access": "subscribers",
        "reveal_minutes": None,
        "withheld": True,
    }


def test_hidden_meeting_is_absent_and_public_meeting_is_shown(
    client: FlaskClient, editor: str
) -> None:
    client.post(f"{API}/series", json=SERIES, headers=bearer(editor))
    hidden = {**TALK, "id": "h", "meeting": {"access": "hidden"}}
    public = {**TALK, "id": "p", "meeting": {"access": "public"}}
    for body in (hidden, public):
        assert client.post(f"{API}/series/lisbon-ml/events", json=body, headers=bearer(editor))
    assert client.get(f"{API}/events/h").get_json()["meeting"] is None
    assert client.get(f"{API}/events/p").get_json()["meeting"]["passcode"] == "s3cr3t-pass"


def test_401_and_403_are_distinct(
    client: FlaskClient, talk: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    other = issue_token(sessions, "other-series")
    missing = client.patch(f"{API}/events/talk-1", json={"title": "x"})
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.patch(f"{API}/events/talk-1", json={"title": "x"}, headers=bearer("eft_nope"))
    assert wrong.status_code == 401
    assert "Authorization" in fields(wrong)
    denied = client.patch(
        f"{API}/events/talk-1", json={"title": "x"}, headers=bearer(other, If_Match="*")
    )
    assert denied.status_code == 403
    assert client.post(f"{API}/events/talk-1/cancel", headers=bearer(other)).status_code == 403
    assert client.delete(f"{API}/events/talk-1", headers=bearer(other)).status_code == 403
    body = {**TALK, "id": "intruder"}
    assert (
        client.post(f"{API}/series/lisbon-ml/events", json=body, headers=bearer(other)).status_code
        == 403
    )
    series = {**SERIES, "slug": "not-mine"}
    assert client.post(f"{API}/series", json=series, headers=bearer(other)).status_code == 403
    assert client.get(f"{API}/events/talk-1").get_json()["title"] == "Deep networks"


def test_revoked_token_is_refused(
    client: FlaskClient, talk: dict[str, Any], editor: str, sessions: sessionmaker[Session]
) -> None:
    from events import tokens
    from events.clock import SYSTEM_CLOCK

    with sessions() as session, session.begin():
        tokens.revoke_token(session, editor[:10], SYSTEM_CLOCK.now())
    answer = client.post(f"{API}/events/talk-1/cancel", headers=bearer(editor))
    assert answer.status_code == 401


def test_patch_needs_if_match_and_refuses_stale_etags(
    client: FlaskClient, talk: dict[str, Any], editor: str
) -> None:
    etag = client.get(f"{API}/events/talk-1").headers["ETag"]
    no_tag = client.patch(f"{API}/events/talk-1", json={"title": "A"}, headers=bearer(editor))
    assert no_tag.status_code == 428
    assert "If-Match" in fields(no_tag)
    first = client.patch(
        f"{API}/events/talk-1", json={"title": "A"}, headers=bearer(editor, If_Match=etag)
    )
    assert first.status_code == 200
    assert first.headers["ETag"] != etag
    second = client.patch(
        f"{API}/events/talk-1", json={"title": "B"}, headers=bearer(editor, If_Match=etag)
    )
    assert second.status_code == 412
    assert client.get(f"{API}/events/talk-1").get_json()["title"] == "A"


def patch(client: FlaskClient, editor: str, body: Any, **kwargs: Any) -> Any:
    """PATCH talk-1 with the current ETag."""
    etag = client.get(f"{API}/events/talk-1").headers["ETag"]
    return client.patch(
        f"{API}/events/talk-1", headers=bearer(editor, If_Match=etag), json=body, **kwargs
    )


def test_patch_follows_sequence_rules(
    client: FlaskClient, talk: dict[str, Any], editor: str
) -> None:
    retitled = patch(client, editor, {"title": "New title", "abstract": "More."}).get_json()
    assert retitled["sequence"] == 0
    assert retitled["title"] == "New title"
    assert retitled["updated"] >= talk["updated"]
    moved = patch(client, editor, {"start": "2026-07-15 12:00", "end": "13:00"}).get_json()
    assert moved["sequence"] == 1
    assert moved["start_utc"] == "2026-07-15T11:00:00Z"  # summer time in Lisbon
    assert moved["title"] == "New title"
    cleared = patch(client, editor, {"tags": None, "speakers": None}).get_json()
    assert cleared["tags"] == [] and cleared["speakers"] == []
    unchanged = patch(client, editor, {"title": "New title"}).get_json()
    assert unchanged["sequence"] == 1


def test_cancel_raises_sequence_and_keeps_the_talk(
    client: FlaskClient, talk: dict[str, Any], editor: str
) -> None:
    answer = client.post(f"{API}/events/talk-1/cancel", headers=bearer(editor))
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "cancelled"
    assert answer.get_json()["sequence"] == 1
    again = client.post(f"{API}/events/talk-1/cancel", headers=bearer(editor))
    assert again.get_json()["sequence"] == 1
    stale = client.post(
        f"{API}/events/talk-1/cancel", headers=bearer(editor, If_Match='"e0-stale"')
    )
    assert stale.status_code == 412


def test_delete_event_and_series(
    client: FlaskClient, talk: dict[str, Any], editor: str, sessions: sessionmaker[Session]
) -> None:
    assert client.delete(f"{API}/events/talk-1", headers=bearer(editor)).status_code == 204
    assert client.get(f"{API}/events/talk-1").status_code == 404
    client.post(f"{API}/series/lisbon-ml/events", json=TALK, headers=bearer(editor))
    assert client.delete(f"{API}/series/lisbon-ml", headers=bearer(editor)).status_code == 204
    assert count(sessions, Series) == 0
    assert count(sessions, Event) == 0


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"timezone": "Lisbon tme"}, "timezone", "unknown timezone"),
        ({"start": "2026-03-29 01:30", "end": "02:30"}, "start", "does not exist"),
        ({"end": "11:00"}, "end", "must be after the start"),
        ({"homepage": "javascript:alert(1)"}, "homepage", "http"),
        ({"speaker": "typo"}, "speaker", "Extra inputs"),
        ({"speakers": [{"name": ""}]}, "speakers.0.name", "at least 1"),
        ({"title": "a\x00b"}, "title", "NUL"),
        (
            {"timezone": "America/New_York", "start": "9999-12-31 22:00"},
            "start",
            "outside the supported range",
        ),
    ],
)
def test_bad_fields_get_422_with_per_field_errors(
    client: FlaskClient,
    talk: dict[str, Any],
    editor: str,
    change: dict[str, Any],
    field: str,
    words: str,
) -> None:
    body = {**TALK, "id": "talk-2", **change}
    created = client.post(f"{API}/series/lisbon-ml/events", json=body, headers=bearer(editor))
    assert created.status_code == 422
    assert words in fields(created)[field]
    patched = patch(client, editor, change)
    assert patched.status_code == 422
    assert words in fields(patched)[field]
    assert client.get(f"{API}/events/talk-2").status_code == 404
    assert client.get(f"{API}/events/talk-1").get_json()["sequence"] == 0


def test_malformed_json_wrong_type_and_shape(
    client: FlaskClient, talk: dict[str, Any], editor: str
) -> None:
    url = f"{API}/series/lisbon-ml/events"
    broken = client.post(url, data="{", content_type="application/json", headers=bearer(editor))
    assert broken.status_code == 400
    assert broken.get_json()["errors"][0]["field"] == "body"
    nested = client.post(
        url, data="[" * 100_000, content_type="application/json", headers=bearer(editor)
    )
    assert nested.status_code == 400
    form = client.post(url, data={"id": "x"}, headers=bearer(editor))
    assert form.status_code == 415
    listing = client.post(url, json=[1, 2], headers=bearer(editor))
    assert listing.status_code == 422
    assert client.post(url, json=TALK, headers=bearer(editor)).status_code == 409


def test_body_above_the_limit_gets_413(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session]
) -> None:
    app = make_app(max_body_bytes=1000)
    token = issue_token(sessions, admin=True)
    big = {**SERIES, "description": "x" * 2000}
    answer = app.test_client().post(f"{API}/series", json=big, headers=bearer(token))
    assert answer.status_code == 413
    assert "1,000-byte" in fields(answer)["body"]


def test_unknown_ids_and_methods_answer_json(client: FlaskClient, admin: str) -> None:
    for url in (f"{API}/events/nope", f"{API}/series/nope", f"{API}/nothing-here"):
        answer = client.get(url)
        assert answer.status_code == 404
        assert answer.is_json and answer.get_json()["errors"]
    bad_id = client.get(f"{API}/events/%00bad")
    assert bad_id.status_code == 404 and bad_id.is_json
    wrong = client.put(f"{API}/events/talk-1", json={})
    assert wrong.status_code == 405
    assert wrong.is_json and "PATCH" in wrong.headers["Allow"]
    assert client.get(f"{API}/events/nope/cancel").status_code == 405


def test_list_filters_and_pagination(client: FlaskClient, admin: str) -> None:
    client.post(f"{API}/series", json=SERIES, headers=bearer(admin))
    unlisted = {**SERIES, "slug": "hidden-one", "visibility": "unlisted", "meeting": None}
    client.post(f"{API}/series", json=unlisted, headers=bearer(admin))
    for day in range(1, 8):
        body = {
            **TALK,
            "id": f"t{day}",
            "start": f"2026-02-0{day} 10:00",
            "tags": ["odd"] if day % 2 else ["even"],
        }
        assert client.post(f"{API}/series/lisbon-ml/events", json=body, headers=bearer(admin))
    client.post(f"{API}/series/hidden-one/events", json={**TALK, "id": "u1"}, headers=bearer(admin))

    def ids(**query: Any) -> list[str]:
        answer = client.get(f"{API}/events", query_string=query)
        assert answer.status_code == 200, answer.get_json()
        return [e["id"] for e in answer.get_json()["items"]]

    assert ids() == [f"t{d}" for d in range(1, 8)]  # unlisted series not listed
    assert ids(series="hidden-one") == ["u1"]
    assert ids(tag="even") == ["t2", "t4", "t6"]
    assert ids(**{"from": "2026-02-03", "to": "2026-02-05"}) == ["t3", "t4"]
    assert ids(**{"from": "2026-02-03T10:30:00+00:00"}) == ["t3", "t4", "t5", "t6", "t7"]
    assert ids(limit=3, offset=3) == ["t4", "t5", "t6"]
    seen: list[str] = []
    cursor = None
    while True:
        query: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"{API}/events", query_string=query).get_json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"t{d}" for d in range(1, 8)]
    for bad in ({"from": "yesterday"}, {"limit": 0}, {"cursor": "zzz"}, {"offset": "x"}):
        assert client.get(f"{API}/events", query_string=bad).status_code == 422
    series = client.get(f"{API}/series").get_json()
    assert [s["slug"] for s in series["items"]] == ["lisbon-ml"]
    mine = client.get(f"{API}/series", headers=bearer(admin)).get_json()
    assert [s["slug"] for s in mine["items"]] == ["hidden-one", "lisbon-ml"]


def test_series_patch_reapplies_defaults_and_keeps_zones(
    client: FlaskClient, talk: dict[str, Any], editor: str
) -> None:
    etag = client.get(f"{API}/series/lisbon-ml").headers["ETag"]
    change = {"timezone": "Europe/London", "meeting": {"passcode": "new-pass"}}
    answer = client.patch(
        f"{API}/series/lisbon-ml", json=change, headers=bearer(editor, If_Match=etag)
    )
    assert answer.status_code == 200, answer.get_json()
    event = client.get(f"{API}/events/talk-1", headers=bearer(editor)).get_json()
    assert event["timezone"] == "Europe/Lisbon"
    assert event["start_utc"] == talk["start_utc"]
    assert event["meeting"]["passcode"] == "new-pass"
    assert event["sequence"] == 1  # the meeting changed
    renamed = client.patch(
        f"{API}/series/lisbon-ml",
        json={"slug": "other"},
        headers=bearer(editor, If_Match=answer.headers["ETag"]),
    )
    assert renamed.status_code == 422


def test_crlf_in_fields_is_folded(client: FlaskClient, talk: dict[str, Any], editor: str) -> None:
    injected = "Talk\r\nBCC: victim@example.org\r\nDTSTART:19700101T000000Z"
    answer = patch(client, editor, {"title": injected, "meeting": {"passcode": "a\nb"}})
    assert answer.status_code == 200
    body = answer.get_json()
    assert "\n" not in body["title"] and "\r" not in body["title"]
    assert body["title"] == "Talk BCC: victim@example.org DTSTART:19700101T000000Z"
    assert body["meeting"]["passcode"] == "a b"


def test_passcodes_never_reach_the_logs(
    app: Flask, client: FlaskClient, editor: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    with caplog.at_level(logging.DEBUG):
        client.post(f"{API}/series", json=SERIES, headers=bearer(editor))
        body = {**TALK, "meeting": {"passcode": "ultra-secret-42"}}
        client.post(f"{API}/series/lisbon-ml/events", json=body, headers=bearer(editor))
        bad = {**TALK, "id": "bad", "end": "11:00", "meeting": {"passcode": "ultra-secret-42"}}
        client.post(f"{API}/series/lisbon-ml/events", json=bad, headers=bearer(editor))
        client.get(f"{API}/events/talk-1", headers=bearer(editor))
        client.post(
            f"{API}/import?format=json",
            data=json.dumps({"events": [{**bad, "series": "lisbon-ml"}]}),
            headers=bearer(editor),
        )
    logged_names = {r.name for r in caplog.records}
    assert {"eventfeed.api", "sqlalchemy.engine.Engine"} <= logged_names  # the check is real
    logged = "\n".join(r.getMessage() + repr(getattr(r, "args", "")) for r in caplog.records)
    assert "ultra-secret-42" not in logged
    assert "s3cr3t-pass" not in logged
    assert editor not in logged


def test_security_headers_on_every_response(client: FlaskClient) -> None:
    for url in ("/healthz", f"{API}/events", f"{API}/missing", "/no-such-page"):
        headers = client.get(url).headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        script_src = headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
        assert script_src.strip() == "'self'"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"]


def test_openapi_document_matches_the_routes(app: Flask, client: FlaskClient) -> None:
    document = client.get(f"{API}/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = rule.rule.removeprefix(API).replace("<", "{").replace(">", "}")
            routed |= {(path, m) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    assert routed == documented
    assert {"SeriesIn", "EventIn", "EventOut", "EventPatch", "ErrorBody"} <= set(
        document["components"]["schemas"]
    )
    patch_op = document["paths"]["/events/{event_id}"]["patch"]
    assert {"412", "428", "422", "401", "403"} <= set(patch_op["responses"])
    assert any(p["name"] == "If-Match" and p["required"] for p in patch_op["parameters"])


@pytest.mark.parametrize(
    ("change", "field"),
    [({"name": "n" * 301}, "name"), ({"language": "en" + "-abcdefgh" * 4}, "language")],
)
def test_series_fields_longer_than_their_columns_get_422(
    client: FlaskClient, admin: str, change: dict[str, Any], field: str
) -> None:
    answer = client.post(f"{API}/series", json={**SERIES, **change}, headers=bearer(admin))
    assert answer.status_code == 422
    assert "at most" in fields(answer)[field]


def test_import_endpoint_is_all_or_nothing_and_scoped_to_the_token(
    client: FlaskClient, talk: dict[str, Any], editor: str, sessions: sessionmaker[Session]
) -> None:
    csv_text = (
        "id,title,start,end,tags\n"
        "c1,First,2026-02-01 10:00,11:00,a;b\n"
        "c2,Second,2026-03-29 01:30,02:30,a\n"
    )
    url = f"{API}/import?series=lisbon-ml"
    failed = client.post(url, data=csv_text, content_type="text/csv", headers=bearer(editor))
    assert failed.status_code == 422
    assert "row 3" in fields(failed)["start"]
    assert count(sessions, Event) == 1
    good = csv_text.replace("2026-03-29 01:30,02:30", "2026-03-30 10:00,11:00")
    done = client.post(url, data=good, content_type="text/csv", headers=bearer(editor))
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["events"]["created"] == 2
    assert client.get(f"{API}/events/c1").get_json()["tags"] == ["a", "b"]
    elsewhere = json.dumps({"series": [{**SERIES, "slug": "not-mine"}]})
    denied = client.post(
        f"{API}/import", data=elsewhere, content_type="application/json", headers=bearer(editor)
    )
    assert denied.status_code == 403
    assert count(sessions, Series) == 1
    unknown = client.post(
        f"{API}/import", data="x", content_type="text/plain", headers=bearer(editor)
    )
    assert unknown.status_code == 415
    assert client.post(url, data=good, content_type="text/csv").status_code == 401


def test_an_event_id_of_another_series_cannot_be_taken_over_by_import(
    client: FlaskClient, talk: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    other = issue_token(sessions, "mine")
    client.post(f"{API}/series", json={**SERIES, "slug": "mine"}, headers=bearer(other))
    steal = json.dumps({"events": [{**TALK, "series": "mine", "title": "Stolen"}]})
    answer = client.post(
        f"{API}/import", data=steal, content_type="application/json", headers=bearer(other)
    )
    assert answer.status_code == 422
    assert "already belongs" in fields(answer)["id"]
    assert client.get(f"{API}/events/talk-1").get_json()["title"] == "Deep networks"


def test_write_rate_limit_per_token(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session]
) -> None:
    app = make_app(api_writes_per_minute=3)
    token = issue_token(sessions, admin=True)
    other = issue_token(sessions, admin=True)
    client = app.test_client()
    codes = [
        client.post(f"{API}/series", json={**SERIES, "slug": f"s{i}"}, headers=bearer(token))
        for i in range(8)
    ]
    statuses = [c.status_code for c in codes]
    # Eight requests span at most two windows of 60 s, so at least two are refused.
    assert statuses.count(429) >= 2
    refused = next(c for c in codes if c.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert "too many requests" in fields(refused)["request"]
    fresh = client.post(f"{API}/series", json={**SERIES, "slug": "t9"}, headers=bearer(other))
    assert fresh.status_code == 201  # counted per token


def test_guessing_tokens_is_rate_limited_per_address(client: FlaskClient) -> None:
    # 61 attempts span at most two fixed windows of 30 allowed failures each.
    codes = [
        client.get(f"{API}/events", headers=bearer(f"eft_guess{i}")).status_code for i in range(61)
    ]
    assert set(codes) == {401, 429}
    assert codes[0] == 401


def test_a_patch_keeps_the_talk_zone_when_the_series_zone_changed_by_import(
    client: FlaskClient, talk: dict[str, Any], editor: str
) -> None:
    moved = json.dumps({"series": [{**SERIES, "timezone": "Asia/Shanghai"}]})
    answer = client.post(
        f"{API}/import", data=moved, content_type="application/json", headers=bearer(editor)
    )
    assert answer.status_code == 200, answer.get_json()
    patched = patch(client, editor, {"title": "Only the title"}).get_json()
    assert patched["timezone"] == "Europe/Lisbon"
    assert patched["start_utc"] == talk["start_utc"]
    assert patched["sequence"] == 0
    rezoned = patch(client, editor, {"timezone": None}).get_json()
    assert rezoned["timezone"] == "Asia/Shanghai"  # null: take the series' zone again
    assert rezoned["start_utc"] == "2026-01-15T04:00:00Z"
    assert rezoned["sequence"] == 1


def test_no_single_line_field_keeps_a_line_break(
    client: FlaskClient, talk: dict[str, Any], editor: str
) -> None:
    evil = "x\r\nSubject: injected\rDTSTART:19700101T000000Z\nEND:VEVENT"
    change = {
        "title": evil,
        "speakers": [{"name": evil, "affiliation": evil}],
        "location": {"room": evil, "address": evil},
        "tags": [evil],
        "meeting": {"platform": evil, "id": evil, "passcode": evil, "alternate_id": evil},
    }
    answer = patch(client, editor, change)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    values = [
        body["title"],
        body["speakers"][0]["name"],
        body["speakers"][0]["affiliation"],
        body["location"]["room"],
        body["location"]["address"],
        *body["tags"],
        *(v for v in body["meeting"].values() if isinstance(v, str)),
    ]
    assert len(values) >= 11
    for value in values:
        assert "\r" not in value and "\n" not in value, value
