"""Topics: the taxonomy (one level), how records' `topics` resolve, what a topic lists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import exporter, topics
from events.errors import InvalidRecord
from events.models import Event, Series, TopicLink

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def taxonomy(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        topics.add_topic(session, "math", "Mathematics")
        topics.add_topic(session, "math-ap", "Analysis of PDEs", parent="math")
        topics.add_topic(session, "cs", "Computer Science")
        topics.add_topic(session, "cs-lg", "Machine Learning", parent="cs")


@pytest.fixture
def records(
    taxonomy: None, make_series: Callable[..., Series], make_event: Callable[..., Event]
) -> None:
    make_series(slug="pde", name="PDE seminar", topics=["math-ap"])
    make_series(slug="ml", name="ML seminar", topics="Computer Science > Machine learning")
    make_series(slug="quiet", name="Quiet", visibility="unlisted", topics=["math"])
    make_event(series="pde", id="pde-1", start="2026-07-01 10:00", end="11:00", topics=[])
    make_event(
        series="ml",
        id="ml-1",
        start="2026-07-02 10:00",
        end="11:00",
        topics=["MATHÉMATICS › analysis of pdes", "neural operators"],
    )
    make_event(series="ml", id="ml-2", start="2026-07-03 10:00", end="11:00")
    make_event(series="ml", id="ml-old", start="2026-01-03 10:00", end="11:00")
    make_event(series="quiet", id="quiet-1", start="2026-07-04 10:00", end="11:00")


def listed(sessions: sessionmaker[Session], slug: str) -> list[str]:
    with sessions() as session:
        topic = topics.get_topic(session, slug).topic
        return [e.id for e in topics.upcoming(session, topic, NOW, number=1, size=50).events]


def test_a_topic_lists_its_talks_and_its_subtopics_talks(
    records: None, sessions: sessionmaker[Session]
) -> None:
    # Through the series (pde-1) or the talk itself (ml-1); unlisted and past talks never.
    assert listed(sessions, "math-ap") == ["pde-1", "ml-1"]
    assert listed(sessions, "math") == ["pde-1", "ml-1"]
    assert listed(sessions, "cs-lg") == ["ml-1", "ml-2"]
    assert listed(sessions, "cs") == ["ml-1", "ml-2"]


def test_names_resolve_folded_and_the_rest_are_keywords(
    taxonomy: None, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        found, keywords = topics.resolve(
            session,
            ["math-ap", "Mathematics/Analysis of PDEs", "computer science", "quantum", "cs-lg"],
        )
        assert [t.slug for t in found] == ["math-ap", "cs", "cs-lg"]
        assert keywords == ["quantum"]
        assert [n.path for n in topics.taxonomy(session)] == [
            "Computer Science",
            "Computer Science › Machine Learning",
            "Mathematics",
            "Mathematics › Analysis of PDEs",
        ]


def test_links_follow_edits_and_taxonomy_changes(
    records: None,
    sessions: sessionmaker[Session],
    make_event: Callable[..., Event],
    make_series: Callable[..., Series],
) -> None:
    make_event(series="ml", id="ml-2", start="2026-07-03 10:00", end="11:00", topics=["math"])
    assert listed(sessions, "math") == ["pde-1", "ml-1", "ml-2"]
    make_series(slug="pde", name="PDE seminar", topics=[])
    assert listed(sessions, "math") == ["ml-1", "ml-2"]
    with sessions() as session, session.begin():
        topics.add_topic(session, "neural-operators", "Neural operators", parent="cs")
    assert listed(sessions, "neural-operators") == ["ml-1"]
    with sessions() as session, session.begin():
        topics.remove_topic(session, "cs")
        assert session.scalar(select(TopicLink).where(TopicLink.topic_id.is_(None))) is None
    with sessions() as session:
        assert topics.keywords(session, ["neural operators", "math"]) == ["neural operators"]


@pytest.mark.parametrize(
    ("slug", "name", "parent", "field"),
    [
        ("Bad Slug", "X", None, "slug"),
        ("x", "A › B", None, "name"),
        ("x", "X", "nope", "parent"),
        ("x", "X", "math-ap", "parent"),
        ("math", "Mathematics", "cs", "parent"),
    ],
)
def test_taxonomy_rules(
    taxonomy: None,
    sessions: sessionmaker[Session],
    slug: str,
    name: str,
    parent: str | None,
    field: str,
) -> None:
    with sessions() as session, pytest.raises(InvalidRecord) as raised:
        topics.add_topic(session, slug, name, parent=parent)
    assert field in str(raised.value)


def test_topics_round_trip_through_export(records: None, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        text = exporter.export_series(session, ["ml"], "json")
    assert '"topics": [\n        "Computer Science > Machine learning"' in text
    assert "neural operators" in text


def test_feed_events_keep_the_window(records: None, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        topic = topics.get_topic(session, "cs").topic
        events = topics.feed_events(session, topic, since=datetime(2025, 1, 1, tzinfo=UTC), cap=2)
    assert [e.id for e in events] == ["ml-1", "ml-2"]  # the latest two, in start order


def test_cli(run: Callable[..., Result]) -> None:
    assert run("topics", "list").output == "no topics\n"
    assert run("topics", "add", "math", "Mathematics").output == "topic math: Mathematics\n"
    added = run("topics", "add", "math-ap", "Analysis of PDEs", "--parent", "math")
    assert added.output == "topic math-ap: Mathematics › Analysis of PDEs\n"
    assert run("topics", "list").output == (
        "math\tMathematics\nmath-ap\tMathematics › Analysis of PDEs\n"
    )
    bad = run("topics", "add", "x", "X", "--parent", "math-ap")
    assert bad.exit_code == 1 and bad.output.startswith("Error: ")
    assert run("topics", "remove", "math").output == "removed topic math\n"
    assert run("topics", "list").output == "no topics\n"
    missing = run("topics", "remove", "math")
    assert missing.exit_code == 1 and "no topic" in missing.output
