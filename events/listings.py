"""What pages list: bounded reads of the upcoming window and pages of past talks.

A page never loads every talk. Lists come a page at a time (`Page`: the rows plus whether
more follow, from one query asking for one row more than it shows); per-series figures are
aggregates over the upcoming window. "Upcoming" means not ended yet (`end_utc >= now`, so a
talk under way is listed).

The statements are shaped so that both databases' planners walk the right index, whatever
their statistics: site-wide lists pick talks by `event.id IN (talks with end_utc >= now)`,
which only the index on `end_utc` (migration 0006b) can answer, so their cost follows the
number of upcoming talks, not the history; past talks walk the index on `start_utc`
backwards from the latest; the visibility of a talk's series is an EXISTS on the series'
primary key, which no planner can drive the query from (a join on `series` lets SQLite
loop over every series' whole history instead). One series' lists use its own index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.orm import Session, selectinload

from events.models import TALK_KINDS, Event, Series

# Schedules: lists show top-level entries (a session or workshop, not its items, which the
# page shows inside it); site-wide lists and archives leave TBA slots out.
TOP = Event.parent_id.is_(None)
NOT_SLOT = Event.kind != "tba"


@dataclass(frozen=True)
class Page:
    """One page of a list of talks: its rows, its number and whether another page follows."""

    events: list[Event]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        """Return whether a page comes before this one."""
        return self.number > 1


@dataclass(frozen=True)
class Outlook:
    """A series' upcoming window: how many talks are ahead (not cancelled) and the next one."""

    upcoming: int
    next_event: Event


def _public() -> ColumnElement[bool]:
    return exists().where(Series.id == Event.series_id, Series.visibility == "public")


def _upcoming_ids(now: datetime) -> Select[str]:
    return select(Event.id).where(Event.end_utc >= now)


def _page(session: Session, query: Select[Event], number: int, size: int) -> Page:
    # a session's or workshop's items come in one more query for the whole page
    query = query.options(selectinload(Event.items))
    rows = list(session.scalars(query.offset((number - 1) * size).limit(size + 1)))
    return Page(rows[:size], number, len(rows) > size)


def upcoming(
    session: Session,
    now: datetime,
    *,
    number: int = 1,
    size: int,
    series_id: int | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> Page:
    """Return a page of talks not ended yet, soonest first: public series, or one series.

    `where`: further conditions on the talk (events.filters).
    """
    query = select(Event).where(TOP, *where)
    if series_id is None:
        query = query.where(Event.id.in_(_upcoming_ids(now)), _public(), NOT_SLOT)
    else:
        query = query.where(Event.series_id == series_id, Event.end_utc >= now)
    return _page(session, query.order_by(Event.start_utc, Event.id), number, size)


def past(
    session: Session,
    now: datetime,
    *,
    number: int = 1,
    size: int,
    series_id: int | None = None,
    recorded: bool = False,
) -> Page:
    """Return a page of ended talks, latest first: public series, or one series.

    With `recorded`, only talks with a recording (items of sessions included, blocks not).
    """
    query = select(Event).where(Event.end_utc < now, NOT_SLOT)
    if recorded:
        query = query.where(Event.recording.is_not(None), Event.kind.in_(TALK_KINDS))
    else:
        query = query.where(TOP)
    if series_id is None:
        # Latest starts first, no tie-break column, so the start index gives the order.
        query = query.where(_public()).order_by(Event.start_utc.desc())
    else:
        query = query.where(Event.series_id == series_id)
        query = query.order_by(Event.start_utc.desc(), Event.id.desc())
    return _page(session, query, number, size)


def outlooks(session: Session, series_ids: Sequence[int], now: datetime) -> dict[int, Outlook]:
    """Return each series' count of upcoming talks (not cancelled) and its next one.

    One query over the upcoming window (a window function ranks each series' talks), whatever
    the history; series with nothing ahead are left out.
    """
    wanted = set(series_ids)
    if not wanted:
        return {}
    ranked = (
        select(
            Event.id.label("id"),
            func.count().over(partition_by=Event.series_id).label("ahead"),
            func.row_number()
            .over(partition_by=Event.series_id, order_by=(Event.start_utc, Event.id))
            .label("rank"),
        )
        .where(Event.id.in_(_upcoming_ids(now)), Event.status != "cancelled", TOP, NOT_SLOT)
        .subquery()
    )
    firsts = select(Event, ranked.c.ahead).join(ranked, ranked.c.id == Event.id)
    rows = session.execute(firsts.where(ranked.c.rank == 1))
    return {
        event.series_id: Outlook(int(ahead), event)
        for event, ahead in rows
        if event.series_id in wanted
    }


def next_entry(session: Session, series_id: int, now: datetime) -> Event | None:
    """Return the series' next talk or session not over yet and not cancelled (slots aside)."""
    query = select(Event).where(
        Event.series_id == series_id, Event.end_utc >= now, Event.status != "cancelled", TOP
    )
    return session.scalar(query.where(NOT_SLOT).order_by(Event.start_utc, Event.id).limit(1))


def next_slot(session: Session, series_id: int, now: datetime) -> Event | None:
    """Return the series' next open TBA slot (not skipped), if its schedule has one."""
    query = select(Event).where(
        Event.series_id == series_id,
        Event.end_utc >= now,
        Event.kind == "tba",
        Event.status != "cancelled",
    )
    return session.scalar(query.order_by(Event.start_utc).limit(1))
