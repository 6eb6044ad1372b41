"""The one registry of feed formats: extension, media type, label and reader renderer."""

from __future__ import annotations

from dataclasses import dataclass

from feeds.syndication import ReaderRenderer, render_atom, render_json, render_rss


@dataclass(frozen=True)
class FeedFormat:
    """One format a feed is served in."""

    ext: str
    media_type: str
    label: str

    @property
    def content_type(self) -> str:
        """Return the Content-Type header value (UTF-8)."""
        return f"{self.media_type}; charset=utf-8"


ICS = FeedFormat("ics", "text/calendar", "iCalendar")
RSS = FeedFormat("rss", "application/rss+xml", "RSS")
ATOM = FeedFormat("atom", "application/atom+xml", "Atom")
JSON_FEED = FeedFormat("json", "application/feed+json", "JSON Feed")

# In the order pages offer them.
FORMATS: dict[str, FeedFormat] = {f.ext: f for f in (RSS, ATOM, JSON_FEED, ICS)}
# Feed-reader formats and their renderers (the calendar is assembled from pieces instead).
READER_RENDERERS: dict[str, ReaderRenderer] = {
    "rss": render_rss,
    "atom": render_atom,
    "json": render_json,
}
