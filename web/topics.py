"""Topic pages: `/topics` (the taxonomy) and `/topics/<slug>` (upcoming talks across series).

A topic's page lists the talks linked to it or its subtopics, directly or through their
series (events.topics), a page at a time, with its own calendar and reader feeds
(`/topics/<slug>.ics|rss|atom|json`, web.feeds) and an embeddable schedule
(`/embed/topics/<slug>`, web.embed).
"""

from __future__ import annotations

from flask import Blueprint, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound

from events import topics
from events.errors import NotFound as NoRecord
from feeds.formats import FORMATS
from feeds.links import Links, google_calendar_subscribe, webcal
from web.context import db, now, settings
from web.pages import Feed, Subscribe, _found, _render, embed_html, page_number, site_feeds

bp = Blueprint("topics", __name__)

TOPIC_PAGE = 20


def topic_feeds(slug: str, path: str) -> Subscribe:
    """Return the subscribe box of a topic."""
    links = Links(settings().base_url)
    ics = links.topic_feed(slug, "ics")
    feeds = [
        Feed(links.topic_feed(slug, f.ext), f.media_type, f.label, path) for f in FORMATS.values()
    ]
    email = url_for("subscriptions.topic_subscribe_form", slug=slug)
    return Subscribe(path, ics, webcal(ics), google_calendar_subscribe(ics), feeds, email)


@bp.get("/topics")
def topic_index() -> tuple[str, int]:
    """List the taxonomy: top-level topics with their subtopics."""
    sub = site_feeds()
    return _render(
        "topics.html", taxonomy=topics.taxonomy(db()), subscribe=sub, alternates=sub.feeds
    )


@bp.get("/topics/<slug>")
def topic_page(slug: str) -> tuple[str, int]:
    """Show a topic: its subtopics and its upcoming talks across public series (paged)."""
    try:
        named = topics.get_topic(db(), slug)
    except NoRecord:
        raise NotFound(_("There is no topic “%(slug)s”.", slug=slug)) from None
    upcoming = _found(
        topics.upcoming(db(), named.topic, now(), number=page_number("page"), size=TOPIC_PAGE)
    )
    sub = topic_feeds(slug, named.path)
    links = Links(settings().base_url)
    return _render(
        "topic.html",
        named=named,
        subtopics=topics.children(db(), named.topic),
        upcoming=upcoming,
        subscribe=sub,
        alternates=sub.feeds,
        page_url=links.topic_page(slug),
        embed_url=links.topic_embed(slug),
        embed_snippet=embed_html(
            links.topic_embed(slug), _("%(name)s: upcoming talks", name=named.path)
        ),
    )
