"""The import's shortcuts give exactly what the general paths give: the bulk insert's SQLite
conversions, one-line text (issue 14 item 8: a 50,000-talk import at 5,000 talks/s)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine

from events.db import sqlite_bind_processor
from events.models import Event, SearchDoc
from events.schemas import _line, _no_disguise, _one_line

DIALECT = create_engine("sqlite://").dialect


def _generic(column: Any) -> Any:
    return column.type.dialect_impl(DIALECT).bind_processor(DIALECT)


def _instants() -> list[datetime]:
    rng = random.Random(14)
    zones = [UTC, ZoneInfo("Europe/Lisbon"), ZoneInfo("America/St_Johns"), ZoneInfo("Asia/Kolkata")]
    found = [datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)]
    for _ in range(5_000):
        moment = datetime(1900, 1, 1, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(0, 200 * 365 * 86_400), microseconds=rng.randrange(0, 10**6)
        )
        zone = rng.choice(zones)
        local = moment.astimezone(zone)
        found += [local, local.replace(fold=1), local.replace(microsecond=0)]
    return found


def test_instants_are_stored_as_the_column_type_stores_them() -> None:
    for table, name in ((Event, "start_utc"), (Event, "created_at"), (SearchDoc, "end_utc")):
        column = table.__table__.c[name]
        fast, generic = sqlite_bind_processor(column.type, DIALECT), _generic(column)
        assert fast is not generic  # the fast path is taken (else this test proves nothing)
        values = _instants()
        assert [fast(v) for v in values] == [generic(v) for v in values]
        assert fast(None) is None
        with pytest.raises(ValueError, match="naive datetime"):
            fast(datetime(2026, 5, 5, 10, 0))  # noqa: DTZ001  (refused, as the type refuses it)


JSON_VALUES: list[Any] = [
    None,
    [],
    {},
    0,
    "",
    False,
    [None],
    [[]],
    {"": ""},
    [{"name": "Zoë Ñúñez", "affiliation": "北京大学"}],
    {"room": "B1", "online": True},
    {"access": "revealed", "reveal_minutes": 15},
    ["pde", "análise"],
    [1, 1.0, True],
]


@pytest.mark.parametrize("name", ["speakers", "location", "meeting", "tags", "topics", "posters"])
def test_json_values_are_stored_as_the_column_type_stores_them(name: str) -> None:
    column = Event.__table__.c[name]
    fast, generic = sqlite_bind_processor(column.type, DIALECT), _generic(column)
    assert fast is not generic
    assert [fast(v) for v in JSON_VALUES] == [generic(v) for v in JSON_VALUES]


def test_other_columns_keep_their_own_conversion() -> None:
    for name in ("id", "title", "sequence"):
        column = Event.__table__.c[name]
        assert sqlite_bind_processor(column.type, DIALECT) is _generic(column) is None


LINES = [
    "",
    " ",
    "  Plain   title \t with\r\nbreaks ",
    "Équations ＦＵＬＬ",
    "زه\u200cرا",  # a joiner between two letters: kept
    "\u200cleading joiner",
    "bidi \u202eoverride",
    "nul \x00 inside",
    "lone \ud800 surrogate",
    "zero\u200bwidth",
    "del \x7f",
    "tab\tand\nnewline",
]


@pytest.mark.parametrize("value", [*LINES, 7, 2.5, True, None, ["a"]])
def test_one_line_fields_read_as_the_checks_and_folding_one_after_the_other(value: Any) -> None:
    # `_line` takes a shortcut for plain strings: the same result, or the same error.
    def outcome(read: Any) -> tuple[str, Any]:
        try:
            return ("ok", read(value))
        except ValueError as exc:
            return ("error", str(exc))

    assert outcome(_line) == outcome(lambda v: _one_line(_no_disguise(v)))
