"""Absolute URLs of pages and feeds, built from the configured base URL (no Flask needed)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit, urlunsplit


@dataclass(frozen=True)
class Links:
    """URL builder for one site."""

    base_url: str

    def _url(self, path: str, query: dict[str, str] | None = None) -> str:
        base = self.base_url.rstrip("/")
        return base + path + (f"?{urlencode(query)}" if query else "")

    def home(self) -> str:
        """Return the home page."""
        return self._url("/")

    def series_page(self, slug: str) -> str:
        """Return a series page."""
        return self._url(f"/series/{quote(slug)}")

    def event_page(self, event_id: str) -> str:
        """Return a talk page."""
        return self._url(f"/events/{quote(event_id)}")

    def topic_page(self, slug: str) -> str:
        """Return a topic's page."""
        return self._url(f"/topics/{quote(slug)}")

    def topic_feed(self, slug: str, ext: str) -> str:
        """Return a topic's feed: ext is ics, rss, atom or json."""
        return self._url(f"/topics/{quote(slug)}.{ext}")

    def topic_embed(self, slug: str) -> str:
        """Return a topic's embeddable schedule."""
        return self._url(f"/embed/topics/{quote(slug)}")

    def series_embed(self, slug: str) -> str:
        """Return a series' embeddable schedule (for an iframe)."""
        return self._url(f"/embed/series/{quote(slug)}")

    def asset(self, name: str) -> str:
        """Return a static file of the site (under /assets/)."""
        return self._url(f"/assets/{quote(name)}")

    def series_feed(self, slug: str, ext: str) -> str:
        """Return a series feed: ext is ics, rss, atom or json."""
        return self._url(f"/series/{quote(slug)}.{ext}")

    def event_ics(self, event_id: str) -> str:
        """Return one talk as an .ics download."""
        return self._url(f"/events/{quote(event_id)}.ics")

    def site_feed(self, ext: str, query: dict[str, str] | None = None) -> str:
        """Return the site-wide feed: /calendar.ics or /feed.rss|atom|json."""
        path = "/calendar.ics" if ext == "ics" else f"/feed.{ext}"
        return self._url(path, query)

    def personal_feed(self, token: str, ext: str) -> str:
        """Return a subscriber's personal feed."""
        return self._url(f"/s/{quote(token)}.{ext}")

    def manage(self, token: str) -> str:
        """Return a subscriber's management page."""
        return self._url(f"/manage/{quote(token)}")

    def unsubscribe(self, token: str) -> str:
        """Return a subscriber's one-click unsubscribe URL (RFC 8058)."""
        return self._url(f"/unsubscribe/{quote(token)}")

    def confirm(self, signed: str) -> str:
        """Return the double opt-in confirmation link."""
        return self._url(f"/subscriptions/confirm/{quote(signed)}")

    def subscribe(self, slug: str) -> str:
        """Return a series' subscribe form."""
        return self._url(f"/series/{quote(slug)}/subscribe")


def webcal(url: str) -> str:
    """Return the webcal:// form of an http(s) feed URL (Apple, Outlook, Thunderbird)."""
    parts = urlsplit(url)
    return urlunsplit(("webcal", parts.netloc, parts.path, parts.query, ""))


def google_calendar_subscribe(url: str) -> str:
    """Return Google Calendar's add-by-URL link for a feed."""
    return "https://calendar.google.com/calendar/r?" + urlencode({"cid": webcal(url)})
