"""Embeddable schedules: `/embed/series/<slug>` and `/embed/topics/<slug>`, compact pages
meant for another site's iframe.

- Times in the viewer's zone: `?tz=Area/City`; without it a small script in the frame
  (`embed.js`) asks the browser for its zone and reloads once with `?tz=` (nothing stored).
  Until then, or without JavaScript, times are shown in the talk's own zone, labelled.
- `?theme=light|dark` (default: the viewer's system preference), `?accent=1f5fbf` (a hex
  colour for links and dates), `?limit=N` (1-50 talks, default 10).
- No cookies: nothing here reads or sets one (the viewer's zone is never remembered).
- Framing: these pages answer no X-Frame-Options and `frame-ancestors *` (any site may
  frame them), or, for a series with an allow-list (`embed_origins`, events.origins), only
  those origins; a topic's embed has no list (its talks come from many series). Every other
  page keeps `frame-ancestors 'none'` and `X-Frame-Options: DENY` (web.security).
- Sizing: the frame posts its height to its parent (`postMessage`), and the host page's
  `/assets/embed-host.js` (the snippet on each series page) sets the iframe's height.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, g, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from events import listings, topics
from events.errors import NotFound as NoRecord
from events.errors import UnknownTimezone
from events.models import Event, Series
from events.origins import frame_ancestors
from events.times import resolve_zone
from feeds import display
from feeds.links import Links
from web.context import db, now, settings
from web.i18n import current_locale
from web.pages import ZoneTime, zone_time
from web.security import frameable_policy

bp = Blueprint("embed", __name__)

THEMES = ("light", "dark")
ACCENT = re.compile(r"[0-9a-fA-F]{6}")
DEFAULT_LIMIT = 10
MAX_LIMIT = 50


def _options() -> tuple[str | None, str, str | None, int]:
    """Return the zone, theme, accent and limit asked for; anything invalid is ignored."""
    zone: str | None = None
    asked = request.args.get("tz", "").strip()
    if asked:
        try:
            zone = resolve_zone(asked)
        except UnknownTimezone:
            zone = None
    theme = request.args.get("theme", "")
    accent = request.args.get("accent", "").lstrip("#")
    limit_text = request.args.get("limit", "")
    limit = int(limit_text) if limit_text.isdigit() else DEFAULT_LIMIT
    return (
        zone,
        theme if theme in THEMES else "auto",
        accent.lower() if ACCENT.fullmatch(accent) else None,
        min(max(limit, 1), MAX_LIMIT),
    )


def _when(event: Event, zone: str | None) -> ZoneTime:
    return zone_time(event.start_utc, event.end_utc, zone or event.timezone)


@bp.get("/embed/series/<slug>")
def series_embed(slug: str) -> Response:
    """Show a series' next talks, compactly, for an iframe on another site."""
    series = db().scalar(select(Series).where(Series.slug == slug))
    if series is None:
        raise NotFound(_("There is no series “%(slug)s”.", slug=slug))
    limit = _options()[3]
    upcoming = listings.upcoming(db(), now(), size=limit, series_id=series.id)
    links = Links(settings().base_url)
    return _embed(
        series.name,
        series.language,
        upcoming,
        links.series_page(series.slug),
        ancestors=frame_ancestors(series.embed_origins),
    )


@bp.get("/embed/topics/<slug>")
def topic_embed(slug: str) -> Response:
    """Show a topic's next talks across public series, compactly, for an iframe."""
    try:
        named = topics.get_topic(db(), slug)
    except NoRecord:
        raise NotFound(_("There is no topic “%(slug)s”.", slug=slug)) from None
    limit = _options()[3]
    upcoming = topics.upcoming(db(), named.topic, now(), number=1, size=limit)
    links = Links(settings().base_url)
    return _embed(named.path, "en", upcoming, links.topic_page(slug), show_series=True)


def _embed(
    title: str,
    language: str,
    upcoming: listings.Page,
    page_url: str,
    *,
    show_series: bool = False,
    ancestors: str = "*",
) -> Response:
    zone, theme, accent, _unused = _options()
    body = render_template(
        "embed.html",
        title=title,
        language=language,
        events=upcoming.events,
        more=upcoming.has_next,
        show_series=show_series,
        when=_when,
        zone=zone,
        zone_text=display.zone_label(zone, current_locale()) if zone else None,
        theme=theme,
        accent=accent,
        page_url=page_url,
        links=Links(settings().base_url),
        alternates=[],
    )
    g.frameable = True
    response = Response(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = frameable_policy(ancestors)
    return response
