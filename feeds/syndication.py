"""RSS 2.0 and Atom (through feedgen) and JSON Feed 1.1 (by hand, per its spec).

Each talk is one item that announces it. The item id (`item_id`: Atom `<id>`, RSS `<guid>`,
JSON Feed `id`) is a `tag:` URI (RFC 4151) made of the site's domain and the talk's id, the
same in every feed and never changed by an edit; `published` is when the talk was first
announced and `updated` its last change. Items come newest announcement first, at most `MAX_ITEMS`.
Titles read "Speaker: Title — Sat 27 Nov 2021, 09:30 Beijing time" (series' zone), with
"Cancelled: " in front of a cancelled talk. The HTML content gives the time in the series'
zone and in UTC, the speakers, the place, the abstract (Markdown, LaTeX as MathML), the
meeting details the access policy allows and the links; it is sanitised as a whole.

Plain text stays text: RSS has no way to say whether `<title>` and `<description>` hold text
or HTML, and readers (feedparser among them) render them as HTML, so RSS carries them
HTML-escaped once more (`Hostile <i>t</i>` is written `Hostile &amp;lt;i&amp;gt;...`, which a
reader shows as the literal text). Atom titles and summaries are declared text, and JSON
Feed's `title` and `summary` are text by definition, so they carry the text itself. HTML,
sanitised, goes only where it is declared: RSS `content:encoded`, Atom `<content
type="html">`, JSON Feed `content_html`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from types import MappingProxyType
from typing import Any, Protocol

from feedgen.feed import FeedGenerator

from events import times
from events.access import Audience, visible_meeting
from events.models import Event
from feeds import display, i18n
from feeds.ical import event_links, locale_of
from feeds.links import Links
from feeds.text import markdown_html, plain_text, sanitise

MAX_ITEMS = 100
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
GENERATOR = "EventFeed"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
SUMMARY_CHARS = 300
# The date in item ids' `tag:` authority (RFC 4151): fixed, so ids never change.
TAG_DATE = "2026"
_DNS_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class FeedInfo:
    """What a feed says about itself; `self_url` is this format's own URL (and Atom id)."""

    title: str
    description: str
    page_url: str
    self_url: str
    language: str = "en"
    updated: datetime | None = None


def item_id(event_id: str, domain: str) -> str:
    """Return a talk's item id in every reader feed: 'tag:<domain>,2026:event/<id>'.

    An absolute IRI, so feed readers (and the W3C validator) take it as it is rather than
    resolving it against each feed's URL. A domain that is no DNS name (an IPv6 literal)
    gets a name-based `urn:uuid:` instead.
    """
    if _DNS_NAME.match(domain):
        return f"tag:{domain},{TAG_DATE}:event/{event_id}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'eventfeed:{domain}:{event_id}')}"


def rss_text(text: str) -> str:
    """Return plain text as RSS `<title>`/`<description>` must carry it: HTML-escaped."""
    return escape(text, quote=False)


def ordered(events: Sequence[Event], limit: int = MAX_ITEMS) -> list[Event]:
    """Return the items in feed order: newest announcement (created_at) first, capped."""
    return sorted(events, key=lambda e: (e.created_at, e.id), reverse=True)[:limit]


def item_title(event: Event) -> str:
    """Return 'Speaker: Title — Sat 27 Nov 2021, 09:30 Beijing time' ('Cancelled: ' first).

    The time is in the talk's own zone (the zone rule of `feeds.display`); fixed texts and
    the date are in the series' language.
    """
    locale = locale_of(event)
    names = display.speaker_names(event.speakers)
    title = plain_text(event.title)
    title = f"{names}: {title}" if names else title
    text = f"{title} — {display.talk_moment(event, None, locale)}"
    if event.status != "cancelled":
        return text
    return i18n.texts(locale).gettext("Cancelled: %(talk)s") % {"talk": text}


def _meeting_html(event: Event, audience: Audience, now: datetime | None) -> str:
    view = visible_meeting(event.meeting, audience, start=event.start_utc, now=now)
    if view is None:
        return ""
    locale = locale_of(event)
    _ = i18n.texts(locale).gettext
    platform = escape(view.platform or _("Online meeting"))
    if view.withheld:
        withheld = escape(i18n.withheld(view.reveal_minutes, locale, capital=False))
        how = _("How to join:")
        return f"<p><strong>{how}</strong> {platform}; {withheld}</p>"
    parts = []
    if view.url:
        join = _("Join the meeting")
        parts.append(f'<a href="{escape(view.url)}">{join}</a>')
    for label, value in (
        (_("Meeting ID: %(value)s"), view.id),
        (_("Passcode: %(value)s"), view.passcode),
        (_("Alternate meeting ID: %(value)s"), view.alternate_id),
    ):
        if value:
            parts.append(label % {"value": escape(value)})
    if not parts:
        return ""
    how = _("How to join (%(platform)s):") % {"platform": platform}
    return f"<p><strong>{how}</strong><br>{'<br>'.join(parts)}</p>"


def content_html(
    event: Event, *, links: Links, audience: Audience, now: datetime | None = None
) -> str:
    """Return the sanitised HTML body of a talk's item (meeting details as at `now`).

    Fixed texts and dates are in the series' language.
    """
    locale = locale_of(event)
    _ = i18n.texts(locale).gettext
    parts: list[str] = []
    if event.status == "cancelled":
        parts.append(_("<p><strong>Cancelled:</strong> this talk will not take place.</p>"))
    elif event.status == "tentative":
        parts.append(_("<p><strong>Tentative:</strong> the time or details may still change.</p>"))
    spans = "<br>".join(escape(text) for text in display.talk_spans(event, "UTC", locale))
    when = _("When:")
    parts.append(f"<p><strong>{when}</strong> {spans}</p>")
    speakers = []
    for speaker in event.speakers:
        name = escape(str(speaker["name"]))
        if speaker.get("homepage"):
            name = f'<a href="{escape(str(speaker["homepage"]))}">{name}</a>'
        if speaker.get("affiliation"):
            name += f" ({escape(str(speaker['affiliation']))})"
        speakers.append(name)
    if speakers:
        label = i18n.texts(locale).ngettext("Speaker:", "Speakers:", len(speakers))
        parts.append(f"<p><strong>{label}</strong> {'; '.join(speakers)}</p>")
    place = display.place_text(event.location, _("Online"))
    if place:
        where = _("Where:")
        parts.append(f"<p><strong>{where}</strong> {escape(place)}</p>")
    if event.abstract.strip():
        parts.append(f'<div class="abstract">{markdown_html(event.abstract)}</div>')
    parts.extend(translations_html(event))
    meeting = _meeting_html(event, audience, now)
    if meeting:
        parts.append(meeting)
    items = "".join(
        f'<li><a href="{escape(url)}">{escape(label)}</a></li>'
        for label, url in event_links(event, links)
    )
    parts.append(f"<ul>{items}</ul>")
    series = _("Series: %(series)s") % {"series": escape(event.series.name)}
    parts.append(f"<p>{series}</p>")
    return sanitise("\n".join(parts))


def translations_html(event: Event) -> list[str]:
    """Return a talk's title and abstract in its other languages, one `<div lang>` each.

    The item's own title, summary and language stay the series' (the original); these
    alternates follow the abstract so a reader of either language finds the talk's text.
    """
    blocks = []
    for tag, text in sorted(event.translations.items()):
        inner = []
        if text.get("title"):
            inner.append(f"<p><strong>{escape(plain_text(text['title']))}</strong></p>")
        if text.get("abstract"):
            inner.append(markdown_html(text["abstract"]))
        blocks.append(f'<div class="translation" lang="{escape(tag)}">{"".join(inner)}</div>')
    return blocks


def summary_text(event: Event) -> str:
    """Return a short plain-text summary: time in the series' zone and the abstract's start."""
    locale = locale_of(event)
    head = display.talk_span(event, None, locale)
    if event.status == "cancelled":
        head = i18n.texts(locale).gettext("Cancelled. %(when)s") % {"when": head}
    abstract = " ".join(plain_text(event.abstract).split())
    if len(abstract) > SUMMARY_CHARS:
        abstract = abstract[:SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"
    return f"{head}. {abstract}".strip() if abstract else head


@dataclass(frozen=True)
class ItemText:
    """The costly parts of a talk's item, the same in RSS, Atom and JSON Feed: its title,
    summary (plain text) and sanitised HTML content. Stored per talk version as a piece
    (web.feeds), so rebuilding a feed after an edit renders only the changed talks."""

    title: str
    summary: str
    content: str

    def to_bytes(self) -> bytes:
        """Return the texts as a stored piece (JSON)."""
        return json.dumps([self.title, self.summary, self.content]).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> ItemText:
        """Return the texts of a stored piece."""
        title, summary, content = json.loads(data)
        return cls(title, summary, content)


def item_text(
    event: Event, *, links: Links, audience: Audience, now: datetime | None = None
) -> ItemText:
    """Return a talk's item texts (for `ItemTexts` pieces)."""
    return ItemText(
        item_title(event),
        summary_text(event),
        content_html(event, links=links, audience=audience, now=now),
    )


# Item texts already rendered, by talk id (others are rendered on the spot).
ItemTexts = Mapping[str, ItemText]
NO_TEXTS: ItemTexts = MappingProxyType({})


def _text_of(
    event: Event, texts: ItemTexts, links: Links, audience: Audience, now: datetime | None
) -> ItemText:
    found = texts.get(event.id)
    if found is not None:
        return found
    return item_text(event, links=links, audience=audience, now=now)


def _authors(event: Event) -> list[dict[str, str]]:
    found = []
    for speaker in event.speakers:
        if speaker.get("name"):
            author = {"name": str(speaker["name"])}
            if speaker.get("homepage"):
                author["uri"] = str(speaker["homepage"])
            found.append(author)
    return found or [{"name": event.series.name}]


def _updated(info: FeedInfo, items: Sequence[Event]) -> datetime:
    stamps = [e.updated_at for e in items]
    if info.updated is not None:
        stamps.append(info.updated)
    return times.utc(max(stamps)) if stamps else EPOCH


def _generator(
    events: Sequence[Event],
    *,
    info: FeedInfo,
    links: Links,
    domain: str,
    audience: Audience,
    text: Callable[[str], str],
    texts: ItemTexts,
    now: datetime | None = None,
) -> FeedGenerator:
    """Return the feed; `text` writes plain text as the format needs it (see the docstring)."""
    items = ordered(events)
    fg = FeedGenerator()
    fg.id(info.self_url)
    fg.title(text(info.title))
    fg.subtitle(text(info.description or info.title))
    fg.language(info.language)
    fg.generator(GENERATOR)
    # RSS takes the last link: self first, then the page (alternate).
    fg.link(href=info.self_url, rel="self")
    fg.link(href=info.page_url, rel="alternate")
    fg.author({"name": info.title})
    fg.updated(_updated(info, items))
    for event in reversed(items):  # feedgen prepends: add oldest first
        entry = fg.add_entry()
        shown = _text_of(event, texts, links, audience, now)
        entry.id(item_id(event.id, domain))
        entry.guid(item_id(event.id, domain), permalink=False)
        entry.title(text(shown.title))
        entry.link(href=links.event_page(event.id), rel="alternate")
        entry.published(times.utc(event.created_at))
        entry.updated(times.utc(event.updated_at))
        entry.author(_authors(event))
        if event.tags:
            entry.category([{"term": tag, "label": tag} for tag in event.tags])
        entry.summary(text(shown.summary))
        entry.content(shown.content, type="html")
    return fg


class ReaderRenderer(Protocol):
    """The shape of the reader-feed renderers (RSS, Atom, JSON Feed)."""

    def __call__(
        self,
        events: Sequence[Event],
        *,
        info: FeedInfo,
        links: Links,
        domain: str,
        audience: Audience,
        texts: ItemTexts = ...,
        now: datetime | None = None,
    ) -> bytes:
        """Return the feed's bytes."""
        ...


def _feedgen_renderer(
    text: Callable[[str], str],
    write: Callable[[FeedGenerator, Sequence[Event], FeedInfo, str], bytes],
    doc: str,
) -> ReaderRenderer:
    """Return a feedgen renderer: `text` writes plain text, `write` the feed's bytes."""

    def render(
        events: Sequence[Event],
        *,
        info: FeedInfo,
        links: Links,
        domain: str,
        audience: Audience,
        texts: ItemTexts = NO_TEXTS,
        now: datetime | None = None,
    ) -> bytes:
        fg = _generator(
            events,
            info=info,
            links=links,
            domain=domain,
            audience=audience,
            text=text,
            texts=texts,
            now=now,
        )
        return write(fg, events, info, domain)

    render.__doc__ = doc
    return render


def _write_rss(fg: FeedGenerator, events: Sequence[Event], info: FeedInfo, domain: str) -> bytes:
    rss: bytes = fg.rss_str(pretty=True)
    return rss


def _write_atom(fg: FeedGenerator, events: Sequence[Event], info: FeedInfo, domain: str) -> bytes:
    atom: bytes = fg.atom_str(pretty=True)
    return _entry_languages(atom, events, info.language, domain)


render_rss = _feedgen_renderer(rss_text, _write_rss, "Return an RSS 2.0 feed of the talks.")
render_atom = _feedgen_renderer(str, _write_atom, "Return an Atom 1.0 feed of the talks.")


_ENTRY_ID = re.compile(rb"<entry>(\s*<id>)([^<]+)</id>")


def _entry_languages(atom: bytes, events: Sequence[Event], language: str, domain: str) -> bytes:
    """Mark each entry of a series in another language than the feed's with its `xml:lang`.

    Site-wide and personal feeds mix series; feedgen sets `xml:lang` on the feed only.
    """
    other = {
        item_id(e.id, domain).encode(): e.series.language
        for e in events
        if e.series.language != language
    }
    if not other:
        return atom

    def mark(found: re.Match[bytes]) -> bytes:
        tag = other.get(found.group(2))
        if tag is None:
            return found.group(0)
        lang = escape(tag).encode()
        return b'<entry xml:lang="' + lang + b'">' + found.group(1) + found.group(2) + b"</id>"

    return _ENTRY_ID.sub(mark, atom)


def _rfc3339(instant: datetime) -> str:
    return times.rfc3339(instant)


def json_item(
    event: Event,
    *,
    links: Links,
    domain: str,
    audience: Audience,
    texts: ItemTexts | None = None,
    now: datetime | None = None,
) -> dict[str, object]:
    """Return one JSON Feed 1.1 item (with an `_event` extension holding the times)."""
    shown = _text_of(event, texts or NO_TEXTS, links, audience, now)
    authors = [
        {"name": a["name"], **({"url": a["uri"]} if "uri" in a else {})} for a in _authors(event)
    ]
    item: dict[str, Any] = {
        "id": item_id(event.id, domain),
        "url": links.event_page(event.id),
        "title": shown.title,
        "content_html": shown.content,
        "summary": shown.summary,
        "date_published": _rfc3339(event.created_at),
        "date_modified": _rfc3339(event.updated_at),
        "authors": authors,
        "language": event.series.language,
        "_event": {
            "start": _rfc3339(event.start_utc),
            "end": _rfc3339(event.end_utc),
            "timezone": event.timezone,
            "status": event.status,
            "series": event.series.slug,
            "ics": links.event_ics(event.id),
        },
    }
    if event.tags:
        item["tags"] = list(event.tags)
    return item


def render_json(
    events: Sequence[Event],
    *,
    info: FeedInfo,
    links: Links,
    domain: str,
    audience: Audience,
    texts: ItemTexts = NO_TEXTS,
    now: datetime | None = None,
) -> bytes:
    """Return a JSON Feed 1.1 document of the talks."""
    feed = {
        "version": JSON_FEED_VERSION,
        "title": info.title,
        "home_page_url": info.page_url,
        "feed_url": info.self_url,
        "description": info.description,
        "language": info.language,
        "authors": [{"name": info.title}],
        "items": [
            json_item(e, links=links, domain=domain, audience=audience, texts=texts, now=now)
            for e in ordered(events)
        ],
    }
    return json.dumps(feed, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
