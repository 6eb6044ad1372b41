"""Import with preview in the workspace: upload, preview (nothing written), apply all or nothing."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import accounts, importer
from events.clock import FrozenClock
from events.models import Event
from tests.support.apiutil import bearer, issue_token
from tests.web.test_organise import csrf, make_series_via_form, organiser, post, signed_in

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SLUG = "lisbon-number-theory"
WriteFile = Callable[[str, "str | bytes"], Path]


@pytest.fixture
def web(make_app: Callable[..., Flask]) -> Flask:
    """An app on a clock frozen on 1 March 2026."""
    return make_app(clock=FrozenClock(NOW))


def talk(n: int, **overrides: Any) -> dict[str, Any]:
    data = {
        "id": f"t{n}",
        "title": f"Talk {n}",
        "start": f"2026-04-{n:02d} 16:00",
        "end": f"2026-04-{n:02d} 17:00",
    }
    return {**data, **overrides}


def events_file(*talks: dict[str, Any]) -> bytes:
    return yaml.safe_dump({"events": list(talks)}).encode()


def rows(sessions: sessionmaker[Session]) -> dict[str, tuple[str, str, int]]:
    with sessions() as session:
        return {e.id: (e.title, e.status, e.sequence) for e in session.scalars(select(Event))}


@pytest.fixture
def owner(web: Flask, sessions: sessionmaker[Session], write_file: WriteFile) -> FlaskClient:
    """The owner of a series with talks t1..t3 on 1–3 April 2026."""
    client = signed_in(web, organiser(sessions, "owner@example.org"))
    make_series_via_form(client)
    path = write_file("base.yaml", events_file(talk(1), talk(2), talk(3)))
    importer.import_files(sessions, [path], default_series=SLUG, clock=FrozenClock(NOW))
    return client


def upload(client: FlaskClient, raw: bytes, name: str = "talks.yaml", slug: str = SLUG) -> Any:
    url = f"/organise/series/{slug}/import"
    data = {"csrf_token": csrf(client, url), "file": (io.BytesIO(raw), name)}
    return client.post(url, data=data, content_type="multipart/form-data")


def test_upload_preview_then_apply(
    owner: FlaskClient, sessions: sessionmaker[Session], web: Flask
) -> None:
    before = rows(sessions)
    sent = upload(owner, events_file(talk(1), talk(2, title="Renamed"), talk(4)))
    assert sent.status_code == 302
    preview_url = sent.headers["Location"]
    html = owner.get(preview_url).get_data(as_text=True)
    assert "1 new · 1 changed · 1 unchanged · 0 with errors · 1 not in the file" in html
    assert "<del>Talk 2</del> → <ins>Renamed</ins>" in html
    assert "Talk 3" in html  # missing, left alone by default
    assert rows(sessions) == before
    kept = list((Path(web.instance_path) / "imports").glob("*.bin"))
    assert len(kept) == 1
    done = post(owner, preview_url, {})
    assert done.status_code == 302
    after = rows(sessions)
    assert after["t2"][0] == "Renamed" and "t4" in after and after["t3"][1] == "confirmed"
    page = owner.get(done.headers["Location"]).get_data(as_text=True)
    assert "Imported talks.yaml: 1 new, 1 changed, 1 unchanged." in page
    assert not list((Path(web.instance_path) / "imports").glob("*.bin"))
    assert owner.get(preview_url).status_code == 404


def test_cancelling_missing_talks_is_an_explicit_choice(
    owner: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    preview_url = upload(owner, events_file(talk(1))).headers["Location"]
    token = csrf(owner, preview_url)
    owner.post(preview_url, data={"csrf_token": token, "cancel_missing": "y"})
    assert {k: v[1] for k, v in rows(sessions).items()} == {
        "t1": "confirmed",
        "t2": "cancelled",
        "t3": "cancelled",
    }


def test_an_upload_with_errors_applies_nothing(
    owner: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    before = rows(sessions)
    bad = events_file(talk(1, title="Renamed"), talk(5, start="2026-03-29 01:30"))
    preview_url = upload(owner, bad).headers["Location"]
    html = owner.get(preview_url).get_data(as_text=True)
    assert "0 new · 1 changed · 0 unchanged · 1 with errors" in html
    assert "event #2" in html and "field ‘start’" in html
    assert ">Apply</button>" not in html
    token = csrf(owner, f"/organise/series/{SLUG}/import")
    refused = owner.post(preview_url, data={"csrf_token": token})
    assert refused.status_code == 422
    assert rows(sessions) == before


def test_unreadable_and_unknown_files_are_refused_at_upload(owner: FlaskClient) -> None:
    wrong = upload(owner, b"hello", name="notes.txt")
    assert wrong.status_code == 422
    assert "unknown file type" in wrong.get_data(as_text=True)
    broken = upload(owner, b"\xff\xfe", name="x.csv")
    assert "not UTF-8 text" in broken.get_data(as_text=True)
    empty = upload(owner, b"", name="x.yaml")
    assert "Choose a file" in empty.get_data(as_text=True)


def test_who_may_import_what(
    owner: FlaskClient, web: Flask, sessions: sessionmaker[Session]
) -> None:
    preview_url = upload(owner, events_file(talk(1, title="X"))).headers["Location"]
    outsider = signed_in(web, organiser(sessions, "other@example.org"))
    assert outsider.get(f"/organise/series/{SLUG}/import").status_code == 404
    assert outsider.get(preview_url).status_code == 404
    # another organiser's own series cannot reach my upload by its token either
    make_series_via_form(outsider, name="Other seminar")
    token = preview_url.rsplit("/", 1)[1]
    assert outsider.get(f"/organise/series/other-seminar/import/{token}").status_code == 404
    # a file naming a series I do not organise is refused as a whole
    other = yaml.safe_dump({"events": [{**talk(7), "series": "other-seminar"}]}).encode()
    html = owner.get(upload(owner, other).headers["Location"]).get_data(as_text=True)
    assert "you are not an organiser of series &#39;other-seminar&#39;" in html
    # an editor may import talks but not change the series' own settings
    post(owner, f"/organise/series/{SLUG}/people", {"email": "ed@example.org", "role": "editor"})
    with sessions() as session:
        found = accounts.by_email(session, "ed@example.org")
        assert found is not None
        editor = signed_in(web, found.id)
    settings = {"series": [{"slug": SLUG, "name": "Renamed series", "timezone": "Europe/Lisbon"}]}
    sent = upload(editor, yaml.safe_dump(settings).encode(), slug=SLUG)
    html = editor.get(sent.headers["Location"]).get_data(as_text=True)
    assert "you are not an owner of series" in html
    ok = upload(editor, events_file(talk(1, title="By the editor")))
    post(editor, ok.headers["Location"], {})
    assert rows(sessions)["t1"][0] == "By the editor"


def test_pages_are_valid_html(owner: FlaskClient, html_checker: Any) -> None:
    html_checker.assert_valid(
        owner.get(f"/organise/series/{SLUG}/import").get_data(as_text=True), "upload"
    )
    bad = events_file(talk(1, title="Renamed"), talk(5, start="2026-03-29 01:30"), talk(6))
    url = upload(owner, bad).headers["Location"]
    html_checker.assert_valid(owner.get(url).get_data(as_text=True), "preview with errors")
    url = upload(owner, events_file(talk(1, title="Renamed"))).headers["Location"]
    html = owner.get(url).get_data(as_text=True)
    assert re.search(r'<input[^>]*name="cancel_missing"[^>]*type="checkbox"', html)
    html_checker.assert_valid(html, "preview")


def test_the_api_previews_an_import_without_writing(
    owner: FlaskClient, web: Flask, sessions: sessionmaker[Session]
) -> None:
    before = rows(sessions)
    secret = issue_token(sessions, SLUG)
    body = events_file(talk(1), talk(2, title="Renamed"), talk(4), talk(5, end="bad"))
    answer = web.test_client().post(
        f"/api/v1/import/preview?series={SLUG}",
        data=body,
        headers=bearer(secret, Content_Type="text/yaml"),
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    found = answer.get_json()
    assert found["ok"] is False
    assert found["counts"] == {"new": 1, "changed": 1, "unchanged": 1, "error": 1}
    changed = next(t for t in found["talks"] if t["action"] == "changed")
    assert changed["changes"] == [{"field": "title", "before": "Talk 2", "after": "Renamed"}]
    error = next(t for t in found["talks"] if t["action"] == "error")
    assert error["errors"][0]["field"] == "end"
    assert [m["event_id"] for m in found["missing"]] == ["t3"]
    assert rows(sessions) == before
    other = issue_token(sessions, "elsewhere")
    refused = web.test_client().post(
        f"/api/v1/import/preview?series={SLUG}",
        data=body,
        headers=bearer(other, Content_Type="text/yaml"),
    )
    assert refused.status_code == 403
