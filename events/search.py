"""Full-text search over public talks: the index kept by the store, and the query.

What is indexed: a talk's title, abstract, tags, speakers' names and affiliations, and its
series' name and description, for talks of public series only. Never meeting details
(passcodes, links), locations' private parts, or anything of an unlisted series.

Matching is the same on both databases: text is folded (`fold`: compatibility forms, case,
accents) when stored and when asked, and a talk matches when every term of the query occurs
in its text as a substring. Substrings, not words, because Chinese and Japanese have no
spaces (机器学习 must find 基于机器学习的方法). Each database answers that with a trigram
index: SQLite's FTS5 `trigram` tokenizer (table `search_fts`, synced by triggers), and
PostgreSQL's pg_trgm GIN index on `search_doc.body` (which serves `LIKE '%term%'`). A word
tokenizer (FTS5 `unicode61`, a `tsvector`) would miss CJK text and give each database
different answers, so neither is used. Terms shorter than three characters cannot use a
trigram index: they only filter the talks the longer terms found (a query of short terms
alone scans the index table).

Ranking is computed in portable SQL, so both databases order alike: per term, 8 points
when it is in the title, 4 in a speaker's name or affiliation, 2 in the series, 1 elsewhere;
ties go to the soonest (upcoming) or the latest (past) talk, then the id.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Table,
    and_,
    case,
    delete,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.orm import Session

from events.db import insert_rows, sqlite_triggers_aside
from events.models import Event, SearchDoc, Series, Speaker, TalkTranslation
from events.schemas import EventRecord

MAX_TERMS = 8
MAX_QUERY = 200
TRIGRAM = 3
WEIGHTS = (("title", 8), ("people", 4), ("series_text", 2))
FTS_NEW_ROWS = text(
    "INSERT INTO search_fts(rowid, body) SELECT id, body FROM search_doc WHERE id > :before"
)


def fold(value: str) -> str:
    """Return text folded for matching: NFKC, then no accents, case-folded, spaces collapsed.

    'Équations aux dérivées' → 'equations aux derivees'; full-width 'ＡＢＣ' → 'abc'.
    """
    if value.isascii():  # every normalisation leaves ASCII as it is; casefold is lower
        return " ".join(value.lower().split())
    value = unicodedata.normalize("NFKC", value)
    stripped = "".join(
        ch for ch in unicodedata.normalize("NFKD", value) if not unicodedata.combining(ch)
    )
    folded = unicodedata.normalize("NFC", stripped.casefold())
    return " ".join(folded.split())


def terms(query: str) -> list[str]:
    """Return the folded, distinct terms of a query (at most MAX_TERMS), quotes dropped."""
    found: list[str] = []
    for word in fold(query[:MAX_QUERY]).replace('"', " ").split():
        if word not in found:
            found.append(word)
    return found[:MAX_TERMS]


def texts(
    *,
    title: str,
    speakers: Iterable[Speaker],
    abstract: str,
    tags: Iterable[str],
    series_name: str,
    series_description: str,
    topics: Iterable[str] = (),
) -> dict[str, str]:
    """Return the folded index texts of a talk (plain values: migrations use it too)."""
    return _texts(
        title, speakers, abstract, [*tags, *topics], fold(f"{series_name} {series_description}")
    )


def _texts(
    title: str,
    speakers: Iterable[Speaker],
    abstract: str,
    keywords: list[str],
    series_text: str,
) -> dict[str, str]:
    people = fold(
        " ".join(
            part
            for speaker in speakers
            for part in (speaker.get("name", ""), speaker.get("affiliation", ""))
            if part
        )
    )
    folded_title = fold(title)
    parts = (folded_title, people, fold(" ".join(keywords)), fold(abstract), series_text)
    return {
        "title": folded_title,
        "people": people,
        "series_text": series_text,
        "body": "\n".join(part for part in parts if part),
    }


def _all_languages(
    title: str, abstract: str, translations: Mapping[str, TalkTranslation]
) -> tuple[str, str]:
    """Return a talk's title and abstract followed by those of its other languages (issue 20),
    so a Chinese talk is found by its English title too."""
    titles = [title, *(t.get("title", "") for t in translations.values())]
    abstracts = [abstract, *(t.get("abstract", "") for t in translations.values())]
    return " ".join(t for t in titles if t), "\n".join(a for a in abstracts if a)


def _values(series: Series, event: Event) -> dict[str, object]:
    title, abstract = _all_languages(event.title, event.abstract, event.translations)
    return {
        "series_id": series.id,
        "start_utc": event.start_utc,
        "end_utc": event.end_utc,
        **texts(
            title=title,
            speakers=event.speakers,
            abstract=abstract,
            tags=event.tags,
            series_name=series.name,
            series_description=series.description,
            topics=[*event.topics, *series.topics],
        ),
    }


def index_event(session: Session, series: Series, event: Event) -> None:
    """Write (or remove) a talk's index row, in the caller's transaction."""
    doc = None
    if event not in session.new:
        doc = session.scalar(select(SearchDoc).where(SearchDoc.event_id == event.id))
    if series.visibility != "public":
        if doc is not None:
            session.delete(doc)
        return
    values = _values(series, event)
    if doc is None:
        session.add(SearchDoc(event=event, **values))
        return
    for name, value in values.items():
        if getattr(doc, name) != value:
            setattr(doc, name, value)


def index_new_events(session: Session, series: Series, records: Iterable[EventRecord]) -> None:
    """Write the index rows of new talks straight from their records (a bulk import)."""
    if series.visibility != "public":
        return
    series_text = fold(f"{series.name} {series.description}")
    rows = []
    for record in records:
        title, abstract = _all_languages(record.title, record.abstract, record.translations)
        keywords = [*record.tags, *record.topics, *series.topics]
        rows.append(
            {
                "event_id": record.id,
                "series_id": series.id,
                "start_utc": record.start_utc,
                "end_utc": record.end_utc,
                **_texts(title, record.speakers, abstract, keywords, series_text),
            }
        )
    with sqlite_triggers_aside(session, ("search_doc_ai",)) as aside:
        before = session.scalar(select(func.coalesce(func.max(SearchDoc.id), 0)))
        insert_rows(session, cast(Table, SearchDoc.__table__), rows)
        if aside:  # what the trigger does per row (migration 0011), in one statement
            session.execute(FTS_NEW_ROWS, {"before": before})


def index_series(session: Session, series: Series) -> None:
    """Rewrite the index rows of all of a series' talks (its name, text or visibility changed)."""
    session.flush()
    session.execute(delete(SearchDoc).where(SearchDoc.series_id == series.id))
    if series.visibility != "public":
        return
    for event in session.scalars(select(Event).where(Event.series_id == series.id)):
        session.add(SearchDoc(event=event, **_values(series, event)))
    session.flush()  # index_event looks rows up by query, even where autoflush is off


def reindex_all(session: Session) -> int:
    """Rebuild the whole index (after a bulk change outside the store); return the rows."""
    session.execute(delete(SearchDoc))
    count = 0
    for series in session.scalars(select(Series).where(Series.visibility == "public")):
        for event in session.scalars(select(Event).where(Event.series_id == series.id)):
            session.add(SearchDoc(event=event, **_values(series, event)))
            count += 1
    session.flush()
    return count


@dataclass(frozen=True)
class Results:
    """One page of matching talks, best first, and whether more follow."""

    events: list[Event]
    number: int
    has_next: bool
    terms: list[str]

    @property
    def has_previous(self) -> bool:
        """Return whether a page comes before this one."""
        return self.number > 1


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: ColumnElement[str], term: str) -> ColumnElement[bool]:
    return column.like(_like(term), escape="\\")


def _fts_query(long_terms: Iterable[str]) -> str:
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in long_terms)


def search(
    session: Session,
    query: str,
    now: datetime,
    *,
    past: bool = False,
    number: int = 1,
    size: int = 20,
) -> Results:
    """Return a page of public talks matching every term: upcoming (or past) talks, best first."""
    wanted = terms(query)
    if not wanted:
        return Results([], number, False, wanted)
    doc = SearchDoc.__table__.c
    conditions: list[ColumnElement[bool]] = [_contains(doc.body, t) for t in wanted]
    long_terms = [t for t in wanted if len(t) >= TRIGRAM]
    if long_terms and session.get_bind().dialect.name == "sqlite":
        # FTS5 trigram phrases are substring matches: the index picks the candidates.
        matched = text("SELECT rowid FROM search_fts WHERE search_fts MATCH :fts").bindparams(
            fts=_fts_query(long_terms)
        )
        conditions.append(doc.id.in_(matched.columns(rowid=Integer)))
    conditions.append(doc.end_utc < now if past else doc.end_utc >= now)
    rank: ColumnElement[int] = literal(0)
    for term in wanted:
        for column, weight in WEIGHTS:
            rank = rank + case((_contains(doc[column], term), weight), else_=0)
        rank = rank + 1
    when = doc.start_utc.desc() if past else doc.start_utc
    ranked = (
        select(doc.event_id, rank.label("rank"), doc.start_utc)
        .where(and_(*conditions))
        .order_by(rank.desc(), when, doc.event_id)
        .offset((number - 1) * size)
        .limit(size + 1)
        .subquery()
    )
    rows = session.execute(
        select(Event)
        .join(ranked, ranked.c.event_id == Event.id)
        .order_by(
            ranked.c.rank.desc(),
            ranked.c.start_utc.desc() if past else ranked.c.start_utc,
            ranked.c.event_id,
        )
    )
    found = list(rows.scalars())
    return Results(found[:size], number, len(found) > size, wanted)


def count(session: Session) -> int:
    """Return how many talks the index holds."""
    return session.scalar(select(func.count()).select_from(SearchDoc)) or 0
