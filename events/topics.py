"""Topics: the site taxonomy (nested one level), free keywords, and what a topic lists.

Series and talks carry a `topics` list as imported. Each entry names a taxonomy topic by
its slug, its name or its path ('Mathematics › Analysis of PDEs'; '>' or '/' also work),
compared folded (case and accents do not matter); an entry that names none is a free
keyword (shown on the talk, searchable, no page of its own). The store links records to
the topics they name (`topic_link`) on every write; a change to the taxonomy relinks all.

A topic lists the talks linked to it or to one of its subtopics, directly or through their
series: 'Mathematics' lists the talks of 'Analysis of PDEs' too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    or_,
    select,
)
from sqlalchemy.orm import Session

from events import queries
from events.db import insert_rows
from events.errors import InvalidRecord, NotFound
from events.listings import Page
from events.models import Event, Series, Topic, TopicLink
from events.queries import SeriesStamps, public_stamps
from events.schemas import SLUG_PATTERN
from events.search import fold

SEPARATOR = " › "
PATH_SPLIT = re.compile(r"\s*(?:›|>|/)\s*")


@dataclass(frozen=True)
class Named:
    """A topic with its parent, for display: 'Mathematics › Analysis of PDEs'."""

    topic: Topic
    parent: Topic | None

    @property
    def path(self) -> str:
        """Return the topic's full name."""
        return f"{self.parent.name}{SEPARATOR}{self.topic.name}" if self.parent else self.topic.name


def taxonomy(session: Session) -> list[Named]:
    """Return every topic with its parent, parents first, each followed by its children."""
    topics = list(session.scalars(select(Topic).order_by(Topic.name)))
    by_id = {t.id: t for t in topics}
    ordered: list[Named] = []
    for top in (t for t in topics if t.parent_id is None):
        ordered.append(Named(top, None))
        ordered.extend(Named(t, top) for t in topics if t.parent_id == top.id)
    return ordered + [
        Named(t, by_id.get(t.parent_id))
        for t in topics
        if t.parent_id is not None and t.parent_id not in by_id
    ]


def _keys(session: Session) -> dict[str, Topic]:
    keys: dict[str, Topic] = {}
    for named in taxonomy(session):
        for key in (named.topic.slug, named.topic.name, named.path):
            keys.setdefault(_key(key), named.topic)
    return keys


def _key(text: str) -> str:
    return "›".join(fold(part) for part in PATH_SPLIT.split(text.strip()))


def resolve(session: Session, names: Iterable[str]) -> tuple[list[Topic], list[str]]:
    """Return the taxonomy topics the names give, and the rest (free keywords), in order."""
    keys = _keys(session)
    found: list[Topic] = []
    keywords: list[str] = []
    for name in names:
        topic = keys.get(_key(name))
        if topic is None:
            keywords.append(name)
        elif topic not in found:
            found.append(topic)
    return found, keywords


def keywords(session: Session, names: Iterable[str]) -> list[str]:
    """Return the entries of a `topics` list that name no taxonomy topic."""
    return resolve(session, names)[1]


def link_series(session: Session, series: Series) -> None:
    """Rewrite a series' topic links from its `topics` field."""
    session.flush()
    session.execute(delete(TopicLink).where(TopicLink.series_id == series.id))
    for topic in resolve(session, series.topics)[0]:
        session.add(TopicLink(topic=topic, series=series))


def link_event(session: Session, event: Event, *, new: bool = False) -> None:
    """Rewrite a talk's topic links from its `topics` field (a new talk has none yet)."""
    if not new:
        session.execute(delete(TopicLink).where(TopicLink.event_id == event.id))
    for topic in resolve(session, event.topics)[0] if event.topics else []:
        session.add(TopicLink(topic=topic, event=event))


def link_new_events(session: Session, named: Iterable[tuple[str, list[str]]]) -> None:
    """Link new talks, given as (id, `topics`), to the topics they name (a bulk import)."""
    keys: dict[str, Topic] | None = None
    rows: list[dict[str, object]] = []
    for event_id, names in named:
        if not names:
            continue
        keys = _keys(session) if keys is None else keys
        linked: list[int] = []
        for name in names:
            topic = keys.get(_key(name))
            if topic is not None and topic.id not in linked:
                linked.append(topic.id)
                rows.append({"topic_id": topic.id, "event_id": event_id})
    insert_rows(session, cast(Table, TopicLink.__table__), rows)


def relink_all(session: Session) -> None:
    """Rewrite every link (after the taxonomy changed)."""
    session.execute(delete(TopicLink))
    keys = _keys(session)
    for model in (Series, Event):
        rows = session.execute(select(model.id, model.topics))
        for row_id, names in rows:
            linked: list[int] = []
            for name in names or []:
                topic = keys.get(_key(name))
                if topic is not None and topic.id not in linked:
                    linked.append(topic.id)
                    column = "series_id" if model is Series else "event_id"
                    session.add(TopicLink(topic_id=topic.id, **{column: row_id}))
    session.flush()


def get_topic(session: Session, slug: str) -> Named:
    """Return the topic with this slug (and its parent) or raise NotFound."""
    topic = session.scalar(select(Topic).where(Topic.slug == slug))
    if topic is None:
        raise NotFound(f"no topic with slug {slug!r}")
    parent = session.get(Topic, topic.parent_id) if topic.parent_id else None
    return Named(topic, parent)


def children(session: Session, topic: Topic) -> list[Topic]:
    """Return a topic's subtopics, by name."""
    return list(
        session.scalars(select(Topic).where(Topic.parent_id == topic.id).order_by(Topic.name))
    )


def add_topic(
    session: Session, slug: str, name: str, *, parent: str | None = None, description: str = ""
) -> Topic:
    """Create a topic (under `parent`, itself a top-level topic) or rename it; relink all."""
    problems = []
    if not re.fullmatch(SLUG_PATTERN, slug):
        problems.append(("slug", "use lower-case letters, digits and '-'"))
    if not name.strip() or PATH_SPLIT.search(name):
        problems.append(("name", "give a name without '›', '>' or '/'"))
    parent_topic = None
    if parent is not None:
        parent_topic = session.scalar(select(Topic).where(Topic.slug == parent))
        if parent_topic is None:
            problems.append(("parent", f"no topic with slug {parent!r}"))
        elif parent_topic.parent_id is not None or parent == slug:
            problems.append(("parent", "topics nest one level: the parent must be top-level"))
    topic = session.scalar(select(Topic).where(Topic.slug == slug))
    if topic is not None and parent_topic is not None and children(session, topic):
        problems.append(("parent", f"{slug!r} has subtopics, so it stays top-level"))
    if problems:
        raise InvalidRecord(f"topic {slug!r}", problems)
    if topic is None:
        topic = Topic(slug=slug, name=name.strip(), description=description)
        session.add(topic)
    topic.name = name.strip()
    topic.description = description
    topic.parent_id = parent_topic.id if parent_topic is not None else None
    session.flush()
    relink_all(session)
    return topic


def remove_topic(session: Session, slug: str) -> None:
    """Delete a topic and its subtopics (records keep their `topics` text: now keywords)."""
    topic_id = get_topic(session, slug).topic.id
    session.execute(delete(Topic).where(Topic.parent_id == topic_id))
    session.execute(delete(Topic).where(Topic.id == topic_id))
    session.expire_all()
    relink_all(session)


def _ids(session: Session, topic: Topic) -> list[int]:
    return [topic.id, *(c.id for c in children(session, topic))]


def about(topic_ids: Sequence[int]) -> ColumnElement[bool]:
    """Return the condition that a talk, or its series, is linked to one of the topics."""
    return or_(
        exists().where(TopicLink.event_id == Event.id, TopicLink.topic_id.in_(topic_ids)),
        exists().where(TopicLink.series_id == Event.series_id, TopicLink.topic_id.in_(topic_ids)),
    )


def _public() -> ColumnElement[bool]:
    return exists().where(Series.id == Event.series_id, Series.visibility == "public")


def upcoming(session: Session, topic: Topic, now: datetime, *, number: int, size: int) -> Page:
    """Return a page of a topic's talks (public series) not ended yet, soonest first."""
    query = (
        select(Event)
        .where(and_(Event.end_utc >= now, _public(), about(_ids(session, topic))))
        .order_by(Event.start_utc, Event.id)
        .offset((number - 1) * size)
        .limit(size + 1)
    )
    rows = list(session.scalars(query))
    return Page(rows[:size], number, len(rows) > size)


def _taxonomy_digest(session: Session) -> tuple[list[tuple[int, int | None]], str]:
    """Return every topic's (id, parent id) and a digest of the whole taxonomy."""
    rows = session.connection().execute(_TAXONOMY).all()
    digest = hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()[:16]
    return [(row[0], row[4]) for row in rows], digest


def _linked(ids: Sequence[int] | BindParameter[Any]) -> ColumnElement[bool]:
    """Return the condition that a series, or one of its talks, is linked to the topics."""
    return or_(
        Series.id.in_(
            select(TopicLink.series_id).where(
                TopicLink.topic_id.in_(ids), TopicLink.series_id.is_not(None)
            )
        ),
        Series.id.in_(
            select(Event.series_id)
            .join(TopicLink, TopicLink.event_id == Event.id)
            .where(TopicLink.topic_id.in_(ids))
        ),
    )


# Built once (a personal feed's 304 runs them for a reader who follows topics).
_TAXONOMY = select(Topic.id, Topic.slug, Topic.name, Topic.description, Topic.parent_id).order_by(
    Topic.id
)
_TOPIC_SERIES = (
    select(
        Series.id,
        Series.updated_at,
        Series.talks_changed_at,
        Series.feed_revision,
        Series.reveals,
    )
    .where(Series.visibility == "public", _linked(bindparam("ids", expanding=True)))
    .order_by(Series.id)
)


def feed_stamps(session: Session, topic: Topic) -> tuple[SeriesStamps, str]:
    """Return what a topic's feeds change with: the stamps of the public series linked to
    the topic (or a subtopic) or holding a talk linked to it, and a digest of the taxonomy.

    A talk edit bumps its series' stamp (triggers, migration 0005); a talk or series that
    gains or loses the topic moves its series into or out of the set; a taxonomy change
    (which relinks everything) changes the digest.
    """
    rows, digest = _taxonomy_digest(session)
    ids = [row[0] for row in rows if topic.id in row]
    return public_stamps(session, _linked(ids)), digest


def followed(topic_ids: Sequence[int]) -> ColumnElement[bool]:
    """Return the condition that a talk belongs to one of the followed topics (or their
    subtopics): linked to it directly or through its series, in a public series."""
    children = select(Topic.id).where(Topic.parent_id.in_(topic_ids))
    ids = select(Topic.id).where(or_(Topic.id.in_(topic_ids), Topic.id.in_(children)))
    public = select(Series.id).where(Series.visibility == "public").correlate(None)
    return and_(
        Event.series_id.in_(public),
        or_(
            exists().where(TopicLink.event_id == Event.id, TopicLink.topic_id.in_(ids)),
            exists().where(TopicLink.series_id == Event.series_id, TopicLink.topic_id.in_(ids)),
        ),
    )


def personal_stamps(session: Session, token: str) -> tuple[int, SeriesStamps] | None:
    """Return `queries.personal_stamps` with what the followed topics' talks change with.

    For a reader who follows topics, the stamps also hold those of every public series
    linked to one of them (or a subtopic) or holding a talk linked to one, and a digest of
    the taxonomy, as a topic's own feeds do (`feed_stamps`): a talk joining or leaving a
    followed topic, any edit of such a talk, and any change of the taxonomy change them.
    Following or leaving a topic changes the subscriber's `updated_at` and `topic_ids`.
    """
    return with_topics(session, queries.personal_stamps(session, token))


def with_topics(
    session: Session, found: tuple[int, SeriesStamps] | None
) -> tuple[int, SeriesStamps] | None:
    """Return `queries.personal_stamps`' answer `found` with the followed topics' part added
    (`personal_stamps`): unchanged for a reader who follows no topic."""
    if found is None or not found[1].topic_ids:
        return found
    subscriber_id, stamps = found
    rows, digest = _taxonomy_digest(session)
    ids = [row[0] for row in rows if row[0] in stamps.topic_ids or row[1] in stamps.topic_ids]
    series = session.connection().execute(_TOPIC_SERIES, {"ids": ids}).all()
    moments = [m for row in series for m in (row[1], row[2]) if m is not None]
    changed = max([*moments, *([stamps.changed] if stamps.changed else [])], default=None)
    revealing = tuple(sorted({*stamps.revealing, *(row[0] for row in series if row[4])}))
    summary = (
        *stamps.summary,
        digest,
        tuple((row[0], row[3], str(row[1]), str(row[2])) for row in series),
    )
    merged = SeriesStamps(summary, changed, stamps.series_ids, revealing, stamps.topic_ids)
    return subscriber_id, merged


def feed_events(session: Session, topic: Topic, *, since: datetime, cap: int) -> list[Event]:
    """Return a topic's talks for its feeds: ended after `since`, the latest `cap`, in order."""
    query = (
        select(Event)
        .where(and_(Event.end_utc >= since, _public(), about(_ids(session, topic))))
        .order_by(Event.start_utc.desc(), Event.id)
        .limit(cap)
    )
    return sorted(session.scalars(query), key=lambda e: (e.start_utc, e.id))
