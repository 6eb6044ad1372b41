"""Search route: public talks matching a query (the same search as the /search page)."""

from __future__ import annotations

from flask import Response

from events import search
from web.api.base import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ApiError,
    answer,
    event_out,
    operation,
    query_int,
    query_text,
)
from web.api.schema import SearchResults
from web.context import db, now

MAX_SEARCH_PAGE = 500


@operation(
    "GET",
    "/search",
    summary="Search public talks (titles, abstracts, speakers, affiliations, series)",
    ok=(200, SearchResults),
    auth="none",
    query=[
        {
            "name": "q",
            "in": "query",
            "required": True,
            "description": "words to find; every one must occur (case, accents and width "
            "do not matter; Chinese and Japanese words are found inside longer text)",
            "schema": {"type": "string", "minLength": 1, "maxLength": search.MAX_QUERY},
        },
        {
            "name": "past",
            "in": "query",
            "description": "true: talks that have ended, latest first among equal matches",
            "schema": {"type": "boolean", "default": False},
        },
        {
            "name": "page",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_SEARCH_PAGE, "default": 1},
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
            },
        },
    ],
    description=(
        "Talks of public series only; meeting details are never searched. Ranked: a term in "
        "the title weighs most, then speakers and affiliations, then the series, then the "
        "abstract; ties go to the soonest talk (past: the latest)."
    ),
)
def search_talks() -> Response:
    """Search public talks, a page at a time."""
    query = " ".join((query_text("q") or "").split())
    if not query:
        raise ApiError(422, "q", "give the words to search for")
    if len(query) > search.MAX_QUERY:
        raise ApiError(422, "q", f"at most {search.MAX_QUERY} characters")
    past_text = (query_text("past") or "false").lower()
    if past_text not in ("true", "false", "1", "0"):
        raise ApiError(422, "past", "true or false")
    past = past_text in ("true", "1")
    number = query_int("page", 1, 1, MAX_SEARCH_PAGE) or 1
    limit = query_int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT) or DEFAULT_LIMIT
    results = search.search(db(), query, now(), past=past, number=number, size=limit)
    return answer(
        SearchResults(
            query=query,
            terms=results.terms,
            past=past,
            items=[event_out(e, None) for e in results.events],
            page=number,
            limit=limit,
            has_next=results.has_next,
        )
    )
