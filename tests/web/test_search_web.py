"""The search page and /api/v1/search: the same search, public talks only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from events.clock import FrozenClock
from events.models import Event, Series

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def frozen(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(clock=FrozenClock(NOW)).test_client()


@pytest.fixture
def talks(make_series: Callable[..., Series], make_event: Callable[..., Event]) -> None:
    make_series(slug="ml", name="Joint Seminar of Machine Learning", description="")
    make_event(
        series="ml",
        id="cn",
        title="基于机器学习的蛋白质结构预测",
        speakers=[{"name": "王宇航", "affiliation": "北京深势科技有限公司"}],
        start="2026-07-01 09:30",
        end="2026-07-01 11:00",
    )
    make_event(
        series="ml",
        id="pde",
        title="Équations aux dérivées partielles",
        speakers=[{"name": "José Álvarez"}],
        start="2026-07-02 14:00",
        end="2026-07-02 15:00",
    )
    make_event(
        series="ml",
        id="old",
        title="Équations d’évolution",
        start="2026-01-10 10:00",
        end="2026-01-10 11:00",
    )


def test_every_page_has_the_search_box(frozen: FlaskClient, talks: None) -> None:
    for path in ("/", "/series/ml", "/events/cn", "/search"):
        html = frozen.get(path).get_data(as_text=True)
        assert 'role="search"' in html and 'action="/search"' in html, path


def test_search_page_finds_chinese_and_accented_text(frozen: FlaskClient, talks: None) -> None:
    html = frozen.get("/search?q=机器学习").get_data(as_text=True)
    assert "基于机器学习的蛋白质结构预测" in html
    assert "Équations" not in html.split("<main", 1)[1]
    html = frozen.get("/search?q=EQUATIONS").get_data(as_text=True)
    assert "Équations aux dérivées partielles" in html
    assert "évolution" not in html
    assert 'value="EQUATIONS"' in html


def test_past_switch(frozen: FlaskClient, talks: None) -> None:
    html = frozen.get("/search?q=equations&past=1").get_data(as_text=True)
    assert "Équations d’évolution" in html
    assert "partielles" not in html
    html = frozen.get("/search?q=protein").get_data(as_text=True)
    assert "No upcoming talks match" in html and "past=1" in html


def test_search_api(frozen: FlaskClient, talks: None) -> None:
    answer = frozen.get("/api/v1/search?q=alvarez")
    assert answer.status_code == 200
    body = answer.get_json()
    assert [item["id"] for item in body["items"]] == ["pde"]
    assert body["terms"] == ["alvarez"] and body["past"] is False and not body["has_next"]
    past = frozen.get("/api/v1/search?q=équations&past=true").get_json()
    assert [item["id"] for item in past["items"]] == ["old"]
    paged = frozen.get("/api/v1/search?q=seminar&limit=1").get_json()
    assert [i["id"] for i in paged["items"]] == ["cn"] and paged["has_next"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("", "q"), ("q=", "q"), ("q=x&past=maybe", "past"), ("q=x&limit=0", "limit")],
)
def test_search_api_errors(frozen: FlaskClient, query: str, field: str) -> None:
    answer = frozen.get(f"/api/v1/search?{query}")
    assert answer.status_code == 422
    assert answer.get_json()["errors"][0]["field"] == field


def test_search_in_openapi(frozen: FlaskClient) -> None:
    document = frozen.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/search"]["get"]
    assert operation["operationId"] == "search_talks"
    assert {p["name"] for p in operation["parameters"]} == {"q", "past", "page", "limit"}
    assert "SearchResults" in document["components"]["schemas"]
