"""RSS, Atom and JSON Feed items come from per-talk pieces (issue 21): after an edit, the
feed's rebuild renders the edited talk only, and shows the edit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events.models import Event, RenderedPiece, Series
from tests.web.test_stored_feeds import _retitle

URLS = ["/series/alpha.rss", "/series/alpha.atom", "/series/alpha.json", "/feed.rss"]


@contextmanager
def piece_writes(app: Flask) -> Iterator[list[int]]:
    """Collect how many rows each upsert of rendered pieces writes."""
    from web.context import state

    rows: list[int] = []

    def count(
        conn: object, cursor: object, statement: str, params: object, _: object, many: bool
    ) -> None:
        if statement.startswith("INSERT INTO rendered_piece"):
            assert isinstance(params, tuple | list | dict)
            # executemany: a row per parameter set; else one multi-row insert, 5 columns a row
            rows.append(len(params) if many else len(params) // 5)

    engine = state(app).engine
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        yield rows
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)


def test_an_edit_renders_only_the_edited_item(
    app: Flask,
    sessions: sessionmaker[Session],
    make_series: Callable[..., Series],
    make_event: Callable[..., Event],
) -> None:
    make_series(slug="alpha", name="Seminar Alpha")
    for n in range(8):
        make_event(
            "alpha", id=f"r{n}", title=f"Talk {n}", start=f"2030-03-{n + 1:02d} 12:00", end="13:00"
        )
    client = app.test_client()
    with piece_writes(app) as rows:
        cold = {url: client.get(url).data for url in URLS}
    assert sum(rows) == 8  # every item rendered once, shared by the four feeds
    with sessions() as session:
        kinds = session.scalars(select(RenderedPiece.kind).where(RenderedPiece.kind == "reader"))
        assert len(list(kinds)) == 8

    _retitle(sessions, "r3", "An edited talk")
    with piece_writes(app) as rows:
        warm = {url: client.get(url).data for url in URLS}
    assert rows == [1]  # the edited talk only, then stored for the other feeds
    for url in URLS:
        assert b"An edited talk" in warm[url] and b"Talk 3" not in warm[url], url
        assert b"Talk 5" in warm[url], url
        assert warm[url] != cold[url]
