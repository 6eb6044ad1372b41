"""What each feed contains: the read queries behind the calendar and syndication feeds.

Rules shared by every feed:

- A cancelled talk stays (marked cancelled) until the end of the UTC day
  `cancelled_retention_days` after its start, then leaves, so clients first see the
  cancellation and then the talk goes away.
- A feed holds at most `feed_max_events` talks: the ones with the latest start times.
- Site-wide (and personal) feeds cover a rolling window: talks that ended at most
  `feed_window_days` ago, and everything ahead. A series' own feed has its whole history.
- Site-wide feeds list public series only; an unlisted series is reachable through its own
  feed URL and nowhere else.

Every query loads the series with the talks, so a feed costs a fixed number of queries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import starmap
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    cast,
    exists,
    func,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, contains_eager
from sqlalchemy.types import NullType

from events import access, times
from events.config import Settings
from events.errors import NotFound
from events.models import (
    BREAK_KINDS,
    CONTAINER_KINDS,
    TALK_KINDS,
    Event,
    RenderedFeed,
    RenderedPiece,
    Schedule,
    Series,
    Subscriber,
    Subscription,
)


@dataclass(frozen=True)
class FeedFilter:
    """The `?series=a,b` and `?tag=x,y` filters of a site-wide feed (empty: no filter)."""

    series: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @classmethod
    def parse(cls, series: str | None, tag: str | None) -> FeedFilter:
        """Read comma-separated query values, ignoring blanks and repeats."""

        def split(value: str | None) -> tuple[str, ...]:
            parts = (p.strip() for p in (value or "").split(","))
            return tuple(dict.fromkeys(p for p in parts if p))

        return cls(series=split(series), tags=split(tag))

    def query(self) -> dict[str, str]:
        """Return the filter as URL query parameters."""
        found = {}
        if self.series:
            found["series"] = ",".join(self.series)
        if self.tags:
            found["tag"] = ",".join(self.tags)
        return found


@dataclass(frozen=True)
class Shape:
    """Which rows a feed carries (schedules).

    Calendars: one entry per talk (sessions and workshops left out, their items in) or, with
    `group`, one per session (its items left out); breaks and lunches only with `breaks`;
    TBA slots when the series' schedule says so (the default). Reader feeds (RSS, Atom, JSON
    Feed, `reader`): talks only, never slots, blocks, breaks or lunch.
    """

    group: bool = False
    breaks: bool = False
    reader: bool = False

    @property
    def key(self) -> str:
        """Return a short key of the shape for stored feeds ('' for the default)."""
        return ("-s" if self.group else "") + ("-b" if self.breaks else "")

    def condition(self) -> ColumnElement[bool]:
        """Return the condition on a talk row."""
        if self.reader:
            return Event.kind.in_(TALK_KINDS)
        slots_shown = exists().where(
            Schedule.series_id == Event.series_id, Schedule.tba_in_feeds == true()
        )
        parts = [or_(Event.kind != "tba", slots_shown)]
        if self.group:
            parts.append(Event.parent_id.is_(None))
        else:
            parts.append(Event.kind.not_in(CONTAINER_KINDS))
        if not self.breaks:
            parts.append(Event.kind.not_in(BREAK_KINDS))
        return and_(*parts)


def retention_cutoff(now: datetime, settings: Settings) -> datetime:
    """Return the earliest start of a cancelled talk still shown: midnight UTC, N days ago.

    Whole UTC days, so a feed's content changes at most once a day by the clock alone and a
    version key made of the data and the date is exact.
    """
    return times.utc_day_start(now - timedelta(days=settings.cancelled_retention_days))


def retained(now: datetime, settings: Settings) -> ColumnElement[bool]:
    """Return the condition that keeps a talk: not cancelled, or cancelled recently."""
    return or_(Event.status != "cancelled", Event.start_utc >= retention_cutoff(now, settings))


def window_start(now: datetime, settings: Settings) -> datetime:
    """Return the start of the rolling window: midnight UTC, feed_window_days ago.

    Whole UTC days (like `retention_cutoff`), so the clock changes a site-wide or personal
    feed at most once a day and a version key of the data and the date is exact.
    """
    return times.utc_day_start(now - timedelta(days=settings.feed_window_days))


def in_window(now: datetime, settings: Settings) -> ColumnElement[bool]:
    """Return the rolling-window condition: ended on or after `window_start`."""
    return Event.end_utc >= window_start(now, settings)


def has_any_tag(session: Session, tags: Sequence[str]) -> ColumnElement[bool]:
    """Return the condition that a talk carries one of the tags (exact match)."""
    if session.get_bind().dialect.name == "postgresql":
        return or_(*(cast(Event.tags, JSONB).contains([tag]) for tag in tags))
    each = func.json_each(Event.tags).table_valued("value").alias("tag_each")
    return exists(select(1).select_from(each).where(each.c.value.in_(list(tags))))


def _capped(
    session: Session, query: Select[Event], settings: Settings, newest: int | None = None
) -> list[Event]:
    """Run an event query keeping the latest `feed_max_events` starts, in start order.

    With `newest`, load only the `newest` of those by announcement (created_at, id: the
    reader feeds' order and cap), choosing them from two light columns first.
    """
    capped = query.order_by(Event.start_utc.desc(), Event.id).limit(settings.feed_max_events)
    if newest is not None:
        # Chosen by the database: only `newest` ids cross the wire (the whole capped set
        # did, to be sorted here). Ids compare by code point, as Python's str does.
        light = capped.with_only_columns(Event.id, Event.created_at).subquery()
        order_id: ColumnElement[str] = light.c.id
        if session.get_bind().dialect.name == "postgresql":
            order_id = order_id.collate("C")
        chosen = session.connection().execute(
            select(light.c.id).order_by(light.c.created_at.desc(), order_id.desc()).limit(newest)
        )
        rows: Sequence[Event] = events_by_id(session, list(chosen.scalars()))
    else:
        rows = session.scalars(capped).all()
    return sorted(rows, key=lambda e: (e.start_utc, e.id))


def series_feed(
    session: Session,
    slug: str,
    *,
    now: datetime,
    settings: Settings,
    shape: Shape = Shape(),
    newest: int | None = None,
) -> tuple[Series, list[Event]]:
    """Return a series (public or unlisted) and the talks of its feeds; raise NotFound.

    `newest`: only that many, latest announced first (see `_capped`)."""
    series = session.scalar(select(Series).where(Series.slug == slug))
    if series is None:
        raise NotFound(f"no series with slug {slug!r}")
    query = (
        select(Event)
        .join(Event.series)
        .options(contains_eager(Event.series))
        .where(Event.series_id == series.id, retained(now, settings), shape.condition())
    )
    return series, _capped(session, query, settings, newest)


class TalkStamp(NamedTuple):
    """The columns of a talk a stored feed needs: identity, version, instants and zone."""

    id: str
    sequence: int
    updated_at: datetime
    start_utc: datetime
    end_utc: datetime
    timezone: str
    piece_version: str | None = None
    piece: bytes | None = None


def series_feed_stamps(
    session: Session,
    slug: str,
    *,
    now: datetime,
    settings: Settings,
    kind: str = "vevent",
    audience: str = "public",
    shape: Shape = Shape(),
    with_pieces: bool = True,
) -> tuple[Series, list[TalkStamp]]:
    """Return a series and the stamps of its feed's talks (same talks as series_feed).

    Only a few narrow columns per talk, with the stored piece of `kind`/`audience` (if any)
    joined in (unless `with_pieces` is false: the caller has them, feeds.cache.PieceMemo),
    so a feed built from stored pieces loads no full talk unless one must be rendered.
    """
    series = session.scalar(select(Series).where(Series.slug == slug))
    if series is None:
        raise NotFound(f"no series with slug {slug!r}")
    columns = (Event.id, Event.sequence, Event.updated_at, Event.start_utc, Event.end_utc)
    query: Select[*tuple[Any, ...]]
    if with_pieces:
        query = select(*columns, Event.timezone, RenderedPiece.version, RenderedPiece.body)
        query = query.outerjoin(
            RenderedPiece,
            and_(
                RenderedPiece.event_id == Event.id,
                RenderedPiece.kind == kind,
                RenderedPiece.audience == audience,
            ),
        )
    else:
        # The driver's values, unconverted: a stamp is converted once per process and
        # row value (`_STAMPS`), so a rebuild after an edit converts the edited talk only.
        query = select(*(type_coerce(c, NullType()) for c in (*columns, Event.timezone)))
    # Core rows (no ORM row processing): a rebuild after an edit reads every stamp.
    rows = (
        session.connection()
        .execute(
            query.where(Event.series_id == series.id, retained(now, settings), shape.condition())
            .order_by(Event.start_utc.desc(), Event.id)
            .limit(settings.feed_max_events)
        )
        .all()
    )
    if with_pieces:
        return series, sorted(starmap(TalkStamp, rows), key=_START_ID)
    return series, sorted(_stamps(session.get_bind().dialect, rows), key=_START_ID)


_START_ID = itemgetter(3, 0)  # TalkStamp (start_utc, id)
_STAMPS: dict[tuple[str, tuple[Any, ...]], TalkStamp] = {}  # (dialect, raw row) -> stamp
_STAMPS_MAX = 20_000  # about 1 KB each: ~20 MB at most per process
_STAMP_COLUMNS = (
    Event.id,
    Event.sequence,
    Event.updated_at,
    Event.start_utc,
    Event.end_utc,
    Event.timezone,
)


def _stamps(dialect: Dialect, rows: Sequence[Sequence[Any]]) -> list[TalkStamp]:
    """Return the stamps of raw (driver) rows of id, sequence, updated_at, start_utc,
    end_utc and timezone, converted by the columns' types once per process and row value."""
    name = dialect.name
    found: list[TalkStamp] = []
    convert: list[Any] | None = None
    for raw in rows:
        key = (name, tuple(raw))
        stamp = _STAMPS.get(key)
        if stamp is None:
            if convert is None:
                convert = [
                    c.type._cached_result_processor(dialect, None)  # noqa: SLF001
                    for c in _STAMP_COLUMNS
                ]
            values = [v if f is None else f(v) for f, v in zip(convert, raw, strict=True)]
            stamp = TalkStamp(*values)
            if len(_STAMPS) >= _STAMPS_MAX:
                _STAMPS.clear()
            _STAMPS[key] = stamp
        found.append(stamp)
    return found


def events_by_id(session: Session, ids: Sequence[str]) -> list[Event]:
    """Return the talks with these ids (series loaded), in one query per 5,000 ids."""
    found: list[Event] = []
    for start in range(0, len(ids), 5000):
        found += session.scalars(
            select(Event)
            .join(Event.series)
            .options(contains_eager(Event.series))
            .where(Event.id.in_(list(ids[start : start + 5000])))
        ).all()
    return found


def event_with_series(session: Session, event_id: str) -> Event:
    """Return one talk with its series loaded; raise NotFound."""
    event = session.scalar(
        select(Event)
        .join(Event.series)
        .options(contains_eager(Event.series))
        .where(Event.id == event_id)
    )
    if event is None:
        raise NotFound(f"no talk with id {event_id!r}")
    return event


def site_feed(
    session: Session,
    feed_filter: FeedFilter,
    *,
    now: datetime,
    settings: Settings,
    shape: Shape = Shape(),
    newest: int | None = None,
) -> list[Event]:
    """Return the talks of the site-wide feeds: public series, rolling window, filters
    (`newest`: see `_capped`).

    Raise NotFound when `?series=` names no public series at all (unknown names among
    known ones are ignored, so a feed keeps working when one series goes away).
    """
    conditions: list[ColumnElement[bool]] = [
        Series.visibility == "public",
        in_window(now, settings),
        retained(now, settings),
        shape.condition(),
    ]
    if feed_filter.series:
        known = session.scalars(
            select(Series.slug).where(
                Series.slug.in_(feed_filter.series), Series.visibility == "public"
            )
        ).all()
        if not known:
            names = ", ".join(repr(s) for s in feed_filter.series)
            raise NotFound(f"no public series named {names}")
        conditions.append(Series.slug.in_(known))
    if feed_filter.tags:
        conditions.append(has_any_tag(session, feed_filter.tags))
    query = (
        select(Event)
        .join(Event.series)
        .options(contains_eager(Event.series))
        .where(and_(*conditions))
    )
    return _capped(session, query, settings, newest)


def window_feed(
    session: Session,
    series_ids: Sequence[int],
    *,
    now: datetime,
    settings: Settings,
    shape: Shape = Shape(),
    also: ColumnElement[bool] | None = None,
) -> list[Event]:
    """Return the talks of several series (any visibility) in the rolling window, capped.

    For personal feeds: a subscriber sees every series they follow, unlisted ones included,
    and the talks meeting `also` (those of followed topics), each once.
    """
    if not series_ids and also is None:
        return []
    chosen = Event.series_id.in_(list(series_ids))
    query = (
        select(Event)
        .join(Event.series)
        .options(contains_eager(Event.series))
        .where(
            chosen if also is None else or_(chosen, also),
            in_window(now, settings),
            retained(now, settings),
            shape.condition(),
        )
    )
    return _capped(session, query, settings)


def last_modified(events: Sequence[Event], *series: Series) -> datetime | None:
    """Return the latest `updated_at` of the talks and series (None when there is none)."""
    stamps = [e.updated_at for e in events] + [e.series.updated_at for e in events]
    stamps += [s.updated_at for s in series]
    return max(stamps) if stamps else None


@dataclass(frozen=True)
class FeedStamp:
    """What a series feed's validators come from: one series row, no talk loaded."""

    series_id: int
    series_updated: datetime
    talks_changed: datetime | None
    revision: int

    @property
    def last_modified(self) -> datetime:
        """Return the latest change of the series or of one of its talks (deletions too)."""
        return max(self.series_updated, self.talks_changed or self.series_updated)

    def version(self, *parts: str) -> str:
        """Return a version key of the feed: the stamp plus the caller's parts."""
        changed = self.talks_changed.isoformat() if self.talks_changed else "-"
        return "|".join([self.series_updated.isoformat(), changed, str(self.revision), *parts])


# What one talk's .ics download changes with (web.feeds.event_calendar): its piece version.
TALK_STAMP = (
    select(Event.id, Event.sequence, Event.updated_at, Series.updated_at)
    .join(Series, Series.id == Event.series_id)
    .where(Event.id == bindparam("event_id"))
)


# Built once: a 304 answer runs only this statement, so it skips building and caching one.
STAMP = select(Series.id, Series.updated_at, Series.talks_changed_at, Series.feed_revision).where(
    Series.slug == bindparam("slug")
)


_STAMP_AND_FEED = (
    select(
        Series.id,
        Series.updated_at,
        Series.talks_changed_at,
        Series.feed_revision,
        RenderedFeed.version,
        RenderedFeed.body,
    )
    .outerjoin(
        RenderedFeed,
        and_(
            RenderedFeed.series_id == Series.id,
            RenderedFeed.format == bindparam("format"),
            RenderedFeed.encoding == bindparam("encoding"),
        ),
    )
    .where(Series.slug == bindparam("slug"))
)


def series_stamp_and_feed(
    session: Session, slug: str, fmt: str, encoding: str
) -> tuple[FeedStamp, str | None, bytes | None]:
    """Return a series feed's stamp and the body stored for it (any version), in one query.

    For unconditional requests, which almost always get that body: the caller compares the
    stored version with the one the stamp gives. Raise NotFound.
    """
    params = {"slug": slug, "format": fmt, "encoding": encoding}
    row = session.connection().execute(_STAMP_AND_FEED, params).first()
    if row is None:
        raise NotFound(f"no series with slug {slug!r}")
    return FeedStamp(row[0], row[1], row[2], row[3]), row[4], row[5]


def series_stamp(session: Session, slug: str) -> FeedStamp:
    """Return the stamp of a series feed from its row; raise NotFound.

    Database triggers (migration 0005) bump `feed_revision` and `talks_changed_at` on every
    insert, update or delete of a talk. What else a feed depends on, the retention boundary,
    moves once a day (`retention_cutoff`), so callers add the date to the version.
    """
    row = session.connection().execute(STAMP, {"slug": slug}).first()
    if row is None:
        raise NotFound(f"no series with slug {slug!r}")
    return FeedStamp(*row)


@dataclass(frozen=True)
class SeriesStamps:
    """What a feed over several series (site-wide, personal) changes with: one query.

    `summary` is an exact digest of the series set and their stamps: how many series, the
    sums of their ids and squared ids (the set), the sum of their `feed_revision`s (which
    database triggers bump on every talk insert, update and delete, migration 0005), and
    the newest series edit and talk change. Any change of any talk of those series or of any
    of those series, and any series joining or leaving the set, changes it.
    """

    summary: tuple[object, ...]
    changed: datetime | None
    series_ids: tuple[int, ...] = ()
    # Those of the series that have had a talk whose meeting is `revealed` (`Series.reveals`).
    revealing: tuple[int, ...] = ()
    # The topics a personal feed follows (their talks join it: events.topics.personal_stamps).
    topic_ids: tuple[int, ...] = ()

    @property
    def last_modified(self) -> datetime | None:
        """Return the latest change of any of the series or their talks."""
        return self.changed

    def version(self, *parts: str) -> str:
        """Return a short version key of the summary and the caller's parts."""
        text = "\0".join([repr(self.summary), *parts])
        return hashlib.sha256(text.encode()).hexdigest()[:40]


_SUMMARY = (
    func.count(Series.id),
    func.coalesce(func.sum(Series.id), 0),
    func.coalesce(func.sum(Series.id * Series.id), 0),
    func.coalesce(func.sum(Series.feed_revision), 0),
    func.max(Series.updated_at),
    func.max(Series.talks_changed_at),
)
PUBLIC_SUMMARY = select(*_SUMMARY).where(Series.visibility == "public")
_FILTERED_SUMMARY = select(*_SUMMARY).where(
    Series.visibility == "public", Series.slug.in_(bindparam("slugs", expanding=True))
)


def stamps_of(row: Sequence[object], series_ids: tuple[int, ...] = ()) -> SeriesStamps:
    """Return the stamps of a `PUBLIC_SUMMARY` row (or one made like it)."""
    count, ids, squares, revisions, updated, talks = row
    assert updated is None or isinstance(updated, datetime)
    assert talks is None or isinstance(talks, datetime)
    changed = max((t for t in (updated, talks) if t is not None), default=None)
    summary = (count, ids, squares, revisions, str(updated), str(talks))
    return SeriesStamps(summary, changed, series_ids)


def site_stamps(session: Session, feed_filter: FeedFilter) -> SeriesStamps:
    """Return the stamps of the public series a site-wide feed shows; raise NotFound like
    `site_feed` when `?series=` names no public series."""
    connection = session.connection()
    if feed_filter.series:
        row = connection.execute(_FILTERED_SUMMARY, {"slugs": list(feed_filter.series)}).one()
    else:
        row = connection.execute(PUBLIC_SUMMARY).one()
    if feed_filter.series and row[0] == 0:
        names = ", ".join(repr(s) for s in feed_filter.series)
        raise NotFound(f"no public series named {names}")
    return stamps_of(tuple(row))


def public_stamps(session: Session, condition: ColumnElement[bool]) -> SeriesStamps:
    """Return the stamps of the public series meeting `condition` (a topic's, for example)."""
    row = session.connection().execute(PUBLIC_SUMMARY.where(condition)).one()
    return stamps_of(tuple(row))


FOLLOWED = (
    select(
        Subscriber.id,
        Subscriber.updated_at,
        Series.id,
        Series.updated_at,
        Series.talks_changed_at,
        Series.feed_revision,
        Series.reveals,
        Subscription.topic_id,
    )
    .select_from(Subscriber)
    .outerjoin(
        Subscription,
        and_(Subscription.subscriber_id == Subscriber.id, Subscription.confirmed_at.is_not(None)),
    )
    .outerjoin(Series, Series.id == Subscription.series_id)
    .where(Subscriber.token == bindparam("token"), Subscriber.confirmed_at.is_not(None))
)


def personal_stamps(session: Session, token: str) -> tuple[int, SeriesStamps] | None:
    """Return (subscriber id, stamps of the followed series) for a confirmed subscriber's
    current token, in one query; None for an unknown, rotated or unconfirmed token.

    The followed topics are only named (`topic_ids`): events.topics.personal_stamps adds
    what their talks change with."""
    if not token or len(token) > 64:
        return None
    rows = session.connection().execute(FOLLOWED, {"token": token}).all()
    return personal_stamps_of([tuple(r) for r in rows])


def personal_stamps_of(rows: Sequence[Sequence[Any]]) -> tuple[int, SeriesStamps] | None:
    """Return `personal_stamps` from the rows of `FOLLOWED` (None: no such subscriber)."""
    if not rows:
        return None
    followed = sorted((r for r in rows if r[2] is not None), key=lambda r: r[2])
    ids = tuple(r[2] for r in followed)
    updated = max((r[3] for r in followed), default=None)
    talks = max((r[4] for r in followed if r[4] is not None), default=None)
    row = (len(ids), sum(ids), sum(i * i for i in ids), sum(r[5] for r in followed))
    base = stamps_of((*row, updated, talks), ids)
    # the subscriber's own edits (zone, choices) too: the manage page changes them
    revealing = tuple(r[2] for r in followed if r[6])
    topic_ids = tuple(sorted(r[7] for r in rows if r[7] is not None))
    summary = (*base.summary, str(rows[0][1]), topic_ids)
    stamps = SeriesStamps(summary, base.changed, ids, revealing, topic_ids)
    return rows[0][0], stamps


def revealed_meetings(session: Session, series_ids: list[int], now: datetime) -> str:
    """Return the ids of the followed talks whose `revealed` meeting details have reached
    subscribers at `now` (among talks from a day ago to a reveal period ahead), joined.

    It is part of a personal feed's version: it changes when a talk's reveal moment passes.
    """
    if not series_ids:
        return ""
    query = select(Event.id, Event.start_utc, Event.meeting).where(
        Event.series_id.in_(series_ids),
        Event.start_utc > now - timedelta(days=1),
        Event.start_utc <= now + timedelta(minutes=access.MAX_REVEAL_MINUTES),
    )
    found = sorted(
        event_id
        for event_id, start, meeting in session.execute(query)
        if access.is_revealed(meeting, times.utc(start), now)
    )
    return ",".join(found)
