"""Search: the index the store keeps, and the same answers on SQLite and PostgreSQL.

The suite runs on both databases (EVENTFEED_TEST_DATABASE_URL); the expected answers below
are one table, so both must give exactly these talks in exactly this order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from events import search, store
from events.models import Event, SearchDoc, Series
from events.schemas import validate_series

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def corpus(make_series: Callable[..., Series], make_event: Callable[..., Event]) -> None:
    """A shared corpus: Chinese, accented and English talks, a past one, an unlisted series."""
    make_series(slug="ml", name="Joint Seminar of Machine Learning", description="Biweekly.")
    make_series(slug="hidden", name="Hidden seminar", visibility="unlisted")
    make_event(
        series="ml",
        id="cn",
        title="基于机器学习的蛋白质结构预测",
        speakers=[{"name": "王宇航", "affiliation": "北京深势科技有限公司"}],
        abstract="冷冻电镜原理及相关算法",
        start="2026-07-01 09:30",
        end="2026-07-01 11:00",
        tags=[],
    )
    make_event(
        series="ml",
        id="pde",
        title="Équations aux dérivées partielles",
        speakers=[{"name": "José Álvarez", "affiliation": "Universidade de Lisboa"}],
        abstract="Viscosity solutions of the ∞-Laplacian; 100% rigorous.",
        start="2026-07-02 14:00",
        end="2026-07-02 15:00",
        tags=["analysis-of-pdes"],
    )
    make_event(
        series="ml",
        id="old",
        title="Machine learning for PDEs",
        speakers=[{"name": "Ana Ferreira"}],
        abstract="Neural operators.",
        start="2026-01-10 10:00",
        end="2026-01-10 11:00",
        meeting={"url": "https://zoom.example/j/1", "passcode": "974114", "access": "hidden"},
    )
    make_event(
        series="hidden",
        id="secret",
        title="Machine learning secrets",
        start="2026-07-03 10:00",
        end="2026-07-03 11:00",
    )


def ids(sessions: sessionmaker[Session], query: str, **kwargs: Any) -> list[str]:
    with sessions() as session:
        return [e.id for e in search.search(session, query, NOW, **kwargs).events]


CASES = [
    ("机器学习", {}, ["cn"]),
    ("王", {}, ["cn"]),
    ("深势科技", {}, ["cn"]),
    ("equations", {}, ["pde"]),
    ("ÉQUATIONS DÉRIVÉES", {}, ["pde"]),
    ("dérivees", {}, ["pde"]),
    ("jose alvarez", {}, ["pde"]),
    ("ＬＩＳＢＯＡ", {}, ["pde"]),
    ("∞-laplacian", {}, ["pde"]),
    ("100%", {}, ["pde"]),
    ("%", {}, ["pde"]),
    ("1%0", {}, []),
    ("_", {}, []),
    ("machine", {}, ["cn", "pde"]),
    ("machine", {"past": True}, ["old"]),
    ("learning pdes", {"past": True}, ["old"]),
    ("learning pdes", {}, ["pde"]),
    ("secrets", {}, []),
    ("hidden seminar", {}, []),
    ("974114", {"past": True}, []),
    ("zoom.example", {"past": True}, []),
    ("   ", {}, []),
]


@pytest.mark.parametrize(("query", "kwargs", "expected"), CASES)
def test_same_answers_on_every_database(
    corpus: None,
    sessions: sessionmaker[Session],
    query: str,
    kwargs: dict[str, Any],
    expected: list[str],
) -> None:
    assert ids(sessions, query, **kwargs) == expected


def test_title_matches_rank_above_series_matches(
    make_event: Callable[..., Event], sessions: sessionmaker[Session], corpus: None
) -> None:
    make_event(
        series="ml",
        id="late-title",
        title="Machine translation",
        start="2026-09-01 10:00",
        end="2026-09-01 11:00",
    )
    # Later, but the term is in its title: first; the rest by date.
    assert ids(sessions, "machine") == ["late-title", "cn", "pde"]


def test_index_follows_every_write(
    corpus: None, sessions: sessionmaker[Session], make_series: Callable[..., Series]
) -> None:
    make_series(slug="hidden", name="Hidden seminar", visibility="public")
    assert ids(sessions, "secrets") == ["secret"]
    make_series(slug="ml", name="Séminaire d’apprentissage", description="")
    assert ids(sessions, "apprentissage") == ["cn", "pde"]
    assert ids(sessions, "machine") == ["secret"]
    make_series(slug="ml", name="Séminaire d’apprentissage", visibility="unlisted")
    assert ids(sessions, "apprentissage") == []
    with sessions() as session, session.begin():
        session.execute(delete(Event).where(Event.id == "secret"))
    assert ids(sessions, "secrets") == []
    with sessions() as session:
        assert session.scalars(select(SearchDoc.event_id)).all() == []


def test_edited_talk_is_found_by_its_new_title(
    corpus: None, sessions: sessionmaker[Session], make_event: Callable[..., Event]
) -> None:
    make_event(
        series="ml",
        id="pde",
        title="Hamilton–Jacobi equations",
        speakers=[{"name": "José Álvarez"}],
        start="2026-07-02 14:00",
        end="2026-07-02 15:00",
    )
    assert ids(sessions, "partielles") == []
    assert ids(sessions, "hamilton jacobi") == ["pde"]


def test_pages(corpus: None, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        first = search.search(session, "machine", NOW, size=1)
        second = search.search(session, "machine", NOW, size=1, number=2)
    assert [e.id for e in first.events] == ["cn"] and first.has_next
    assert [e.id for e in second.events] == ["pde"] and not second.has_next


def test_reindex_all_rebuilds_the_same_index(corpus: None, sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        before = sorted(session.scalars(select(SearchDoc.body)))
        assert search.reindex_all(session) == 3
    with sessions() as session:
        assert sorted(session.scalars(select(SearchDoc.body))) == before
    assert ids(sessions, "机器学习") == ["cn"]


def test_fold() -> None:
    assert search.fold("  Équations   AUX Dérivées ") == "equations aux derivees"
    assert search.fold("ＡＢＣ Straße") == "abc strasse"
    assert search.fold("机器学习") == "机器学习"
    assert search.terms('"a" a B') == ["a", "b"]


def test_store_upsert_series_keeps_index(sessions: sessionmaker[Session], corpus: None) -> None:
    record = validate_series(
        {"slug": "ml", "name": "Joint Seminar of Machine Learning", "timezone": "UTC"}
    )
    with sessions() as session, session.begin():
        store.upsert_series(session, record, NOW)
    assert ids(sessions, "biweekly") == []
    assert ids(sessions, "joint seminar") == ["cn", "pde"]
