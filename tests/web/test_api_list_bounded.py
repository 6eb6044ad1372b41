"""The API talk list reads a bounded number of rows (issue 21): `total` is counted up to a
cap, then `total_capped` says there are more."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

import web.api.talks
from events.models import Event


def test_total_is_exact_up_to_the_cap_then_capped(
    client: FlaskClient, make_event: Callable[..., Event], monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(5):
        make_event(id=f"b{n}", start=f"2027-01-{n + 1:02d} 12:00", end="13:00")
    monkeypatch.setattr(web.api.talks, "TOTAL_CAP", 5)
    exact = client.get("/api/v1/events?limit=2").get_json()
    assert exact["total"] == 5 and exact["total_capped"] is False
    monkeypatch.setattr(web.api.talks, "TOTAL_CAP", 3)
    capped = client.get("/api/v1/events?limit=2").get_json()
    assert capped["total"] == 3 and capped["total_capped"] is True
    assert [e["id"] for e in capped["items"]] == ["b0", "b1"] and capped["next_cursor"]
    rest = client.get(f"/api/v1/events?limit=10&cursor={capped['next_cursor']}").get_json()
    assert [e["id"] for e in rest["items"]] == ["b2", "b3", "b4"]
