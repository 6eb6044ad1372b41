"""Discovery for crawlers: /robots.txt and /sitemap.xml.

The sitemap lists the home page, every public series, the topics and the talks of public
series (the latest first, at most 50,000 URLs: the sitemap protocol's limit for one file).
Unlisted series and their talks, personal feeds, management pages and search results stay
out; robots.txt keeps crawlers off personal and action URLs and points at the sitemap.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from flask import Blueprint, Response
from sqlalchemy import select

from events import times
from events.models import Event, Series, Topic
from feeds.links import Links
from web.context import db, settings

bp = Blueprint("discovery", __name__)

SITEMAP_LIMIT = 50_000
ROBOTS_DISALLOW = ("/api/", "/manage/", "/unsubscribe/", "/subscriptions/", "/s/", "/search")


@bp.get("/robots.txt")
def robots() -> Response:
    """Allow crawling of public pages; keep personal and action URLs out; name the sitemap."""
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in ROBOTS_DISALLOW), "Allow: /"]
    lines.append(f"Sitemap: {Links(settings().base_url).home()}sitemap.xml")
    return Response("\n".join(lines) + "\n", mimetype="text/plain")


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    """List the public pages with their last change."""
    links = Links(settings().base_url)
    session = db()
    entries: list[tuple[str, str | None]] = [(links.home(), None)]
    public = select(Series.slug, Series.updated_at).where(Series.visibility == "public")
    for slug, updated in session.execute(public.order_by(Series.slug)):
        entries.append((links.series_page(slug), times.rfc3339(updated)))
    topic_slugs = session.scalars(select(Topic.slug).order_by(Topic.slug)).all()
    if topic_slugs:
        entries.append((links.home() + "topics", None))
        entries.extend((links.topic_page(slug), None) for slug in topic_slugs)
    talks = (
        select(Event.id, Event.updated_at)
        .join(Series, Series.id == Event.series_id)
        .where(Series.visibility == "public")
        .order_by(Event.start_utc.desc(), Event.id)
        .limit(SITEMAP_LIMIT - len(entries))
    )
    for event_id, updated in session.execute(talks):
        entries.append((links.event_page(event_id), times.rfc3339(updated)))
    body = ['<?xml version="1.0" encoding="UTF-8"?>']
    body.append('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')
    for url, lastmod in entries:
        modified = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
        body.append(f"<url><loc>{escape(url)}</loc>{modified}</url>")
    body.append("</urlset>")
    return Response("\n".join(body) + "\n", mimetype="application/xml")
