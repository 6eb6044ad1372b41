"""Emails as pure functions: records in, RFC 5322 messages out (no Flask).

Every email is `multipart/mixed` → `multipart/alternative` (text + HTML carrying the same
content), plus, for emails about one talk, a `text/calendar; method=PUBLISH` part whose
calendar the caller renders with the feeds' iCalendar renderer (same UID and SEQUENCE).
Times are shown in the series' zone and the reader's zone (`feeds.when.dual_span`), meeting
details only as `events.access.visible_meeting(meeting, "subscriber")` allows, and each
email carries RFC 8058 one-click unsubscribe headers and a visible unsubscribe link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape
from typing import Any, Literal

from events.access import visible_meeting
from events.models import Event, Series
from feeds import when
from feeds.text import markdown_html, plain_text

# policy.SMTP folds long headers into encoded words; 998 keeps List-Unsubscribe URLs intact.
POLICY = policy.SMTP.clone(max_line_length=998)

EventKind = Literal["announcement", "change", "cancellation", "reminder"]
KIND_PREFIX: dict[str, str] = {
    "announcement": "",
    "change": "Changed: ",
    "cancellation": "Cancelled: ",
    "reminder": "Reminder: ",
}
KIND_INTRO: dict[str, str] = {
    "announcement": "A new talk has been announced.",
    "change": "This talk has changed.",
    "cancellation": "This talk has been cancelled.",
    "reminder": "This talk starts soon.",
}


@dataclass(frozen=True)
class Reader:
    """The recipient and their personal links."""

    email: str
    timezone: str
    manage_url: str
    unsubscribe_url: str
    calendar_url: str | None = None


@dataclass(frozen=True)
class Envelope:
    """Sender, Message-ID and Date of one message."""

    mail_from: str
    message_id: str
    date: str

    @classmethod
    def new(cls, mail_from: str, domain: str) -> Envelope:
        """Return a fresh envelope: a unique Message-ID on `domain`, the Date of now."""
        return cls(mail_from, make_msgid(domain=domain), formatdate(usegmt=True))


@dataclass
class _Body:
    """Content written once and rendered both as plain text and as HTML."""

    title: str
    blocks: list[tuple[str, str]]  # (kind, value): "p", "h", "row", "abstract", "link", "hr"

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def h(self, text: str) -> None:
        self.blocks.append(("h", text))

    def row(self, label: str, value: str) -> None:
        self.blocks.append(("row", f"{label}\0{value}"))

    def link(self, label: str, url: str) -> None:
        self.blocks.append(("link", f"{label}\0{url}"))

    def abstract(self, markdown: str) -> None:
        if markdown.strip():
            self.blocks.append(("abstract", markdown))

    def hr(self) -> None:
        self.blocks.append(("hr", ""))

    def text(self) -> str:
        out = [self.title, "=" * min(len(self.title), 72), ""]
        for kind, value in self.blocks:
            if kind == "p":
                out += ["", value, ""]
            elif kind == "h":
                out += ["", value, "-" * min(len(value), 72), ""]
            elif kind == "row":
                label, data = value.split("\0", 1)
                out.append(f"{label}: {data}")
            elif kind == "link":
                label, url = value.split("\0", 1)
                out.append(f"{label}: {url}")
            elif kind == "abstract":
                out += ["", plain_text(value), ""]
            elif kind == "hr":
                out += ["", "--", ""]
        text = "\n".join(line.rstrip() for line in out).strip()
        while "\n\n\n" in text:
            text = text.replace("\n\n\n", "\n\n")
        return text + "\n"

    def html(self) -> str:
        parts = [
            "<!DOCTYPE html>",
            '<html><head><meta charset="utf-8">',
            f"<title>{escape(self.title)}</title></head>",
            '<body style="font-family: sans-serif; line-height: 1.4; max-width: 40em;">',
            f"<h1>{escape(self.title)}</h1>",
        ]
        rows: list[str] = []

        def flush() -> None:
            if rows:
                parts.append("<table>" + "".join(rows) + "</table>")
                rows.clear()

        for kind, value in self.blocks:
            if kind == "row":
                label, data = value.split("\0", 1)
                rows.append(f"<tr><th align=left>{escape(label)}</th><td>{escape(data)}</td></tr>")
                continue
            if kind == "link":
                label, url = value.split("\0", 1)
                rows.append(
                    f'<tr><th align=left>{escape(label)}</th><td><a href="{escape(url)}">'
                    f"{escape(url)}</a></td></tr>"
                )
                continue
            flush()
            if kind == "p":
                parts.append(f"<p>{escape(value)}</p>")
            elif kind == "h":
                parts.append(f"<h2>{escape(value)}</h2>")
            elif kind == "abstract":
                parts.append(f"<div>{markdown_html(value)}</div>")
            elif kind == "hr":
                parts.append("<hr>")
        flush()
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"


def location_text(location: dict[str, Any] | None) -> str:
    """Return 'Room 2, Address — Online' for a stored location mapping."""
    location = location or {}
    place = ", ".join(str(location[k]) for k in ("room", "address") if location.get(k))
    if location.get("online"):
        return f"{place} — Online" if place else "Online"
    return place


def speakers_text(speakers: Sequence[dict[str, Any]]) -> str:
    """Return 'Name (Affiliation), Name' for the speakers of a talk."""
    return ", ".join(
        f"{s['name']} ({s['affiliation']})" if s.get("affiliation") else str(s["name"])
        for s in speakers
    )


def _meeting_rows(body: _Body, meeting: dict[str, Any] | None) -> None:
    view = visible_meeting(meeting, "subscriber")
    if view is None:
        return
    if view.platform:
        body.row("Meeting", view.platform)
    if view.url:
        body.link("Join", view.url)
    if view.id:
        body.row("Meeting ID", view.id)
    if view.passcode:
        body.row("Passcode", view.passcode)
    if view.alternate_id:
        body.row("Alternate ID", view.alternate_id)


def _event_rows(body: _Body, event: Event, reader: Reader, event_url: str) -> None:
    body.row("Title", event.title)
    if event.speakers:
        body.row("Speakers", speakers_text(event.speakers))
    body.row(
        "When", when.dual_span(event.start_utc, event.end_utc, event.timezone, reader.timezone)
    )
    place = location_text(event.location)
    if place:
        body.row("Where", place)
    if event.status == "tentative":
        body.row("Status", "tentative")
    _meeting_rows(body, event.meeting)
    for label, url in (("Livestream", event.livestream), ("Slides", event.slides)):
        if url:
            body.link(label, url)
    body.link("Details", event_url)


def _footer(body: _Body, reader: Reader, series_names: Sequence[str]) -> None:
    body.hr()
    if series_names:
        body.p(f"You receive this email because you follow {', '.join(series_names)}.")
    if reader.calendar_url:
        body.link("Your calendar", reader.calendar_url)
    body.link("Manage your subscription", reader.manage_url)
    body.link("Unsubscribe", reader.unsubscribe_url)


def _message(
    subject: str, body: _Body, reader: Reader, envelope: Envelope, ics: str | None
) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["From"] = envelope.mail_from
    msg["To"] = reader.email
    msg["Subject"] = subject
    msg["Date"] = envelope.date
    msg["Message-ID"] = envelope.message_id
    msg["List-Unsubscribe"] = f"<{reader.unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body.text())
    msg.add_alternative(body.html(), subtype="html")
    msg.make_mixed()
    if ics is not None:
        msg.add_attachment(
            ics, subtype="calendar", params={"method": "PUBLISH"}, filename="talk.ics"
        )
    return msg


def subject_date(instant: datetime, zone_name: str) -> str:
    """Return the date (and time) of a talk for a subject line, in the reader's zone."""
    return f"{when.day(instant, zone_name)} {when.clock(instant, zone_name)}"


def event_email(
    kind: EventKind,
    event: Event,
    series: Series,
    reader: Reader,
    envelope: Envelope,
    *,
    event_url: str,
    ics: str | None,
    previous: dict[str, Any] | None = None,
) -> EmailMessage:
    """Return an announcement, change notice, cancellation or reminder for one talk.

    `previous` holds the old values of a change notice (start_utc/end_utc as ISO text,
    timezone, location); `ics` is the talk's calendar (METHOD:PUBLISH) or None.
    """
    subject = (
        f"{KIND_PREFIX[kind]}[{series.name}] {event.title} — "
        f"{subject_date(event.start_utc, reader.timezone)}"
    )
    body = _Body(f"{KIND_PREFIX[kind]}{event.title}", [])
    body.p(f"{series.name}: {KIND_INTRO[kind]}")
    if kind == "change" and previous:
        _change_rows(body, event, reader, previous)
    _event_rows(body, event, reader, event_url)
    if kind != "cancellation":
        body.abstract(event.abstract)
    _footer(body, reader, [series.name])
    return _message(subject, body, reader, envelope, ics)


def _change_rows(body: _Body, event: Event, reader: Reader, previous: dict[str, Any]) -> None:
    if "start_utc" in previous or "end_utc" in previous or "timezone" in previous:
        start = datetime.fromisoformat(previous.get("start_utc", event.start_utc.isoformat()))
        end = datetime.fromisoformat(previous.get("end_utc", event.end_utc.isoformat()))
        zone = previous.get("timezone", event.timezone)
        body.row("Was", when.dual_span(start, end, zone, reader.timezone))
        body.row(
            "Now", when.dual_span(event.start_utc, event.end_utc, event.timezone, reader.timezone)
        )
    if "location" in previous:
        body.row("Place was", location_text(previous["location"]) or "(none)")
        body.row("Place now", location_text(event.location) or "(none)")
    if "meeting" in previous:
        body.p("The meeting details have changed; the current ones are below.")
    if previous.get("status") and previous["status"] != event.status:
        body.row("Status", f"{previous['status']} → {event.status}")
    body.hr()


def digest_email(
    items: Sequence[tuple[Event, Series, str]],
    reader: Reader,
    envelope: Envelope,
    *,
    week_start: datetime,
) -> EmailMessage:
    """Return the weekly digest: the reader's talks of the coming week, by day, in their zone."""
    label = when.day(week_start, reader.timezone)
    subject = f"This week's talks: {len(items)} from {label}"
    series_names = sorted({series.name for _, series, _ in items})
    body = _Body(f"Your talks for the week from {label}", [])
    body.p(
        f"Times are given in the series' zone and in yours ({when.zone_label(reader.timezone)})."
    )
    for event, series, url in items:
        body.h(f"{series.name}: {event.title}")
        _event_rows(body, event, reader, url)
    _footer(body, reader, series_names)
    return _message(subject, body, reader, envelope, None)


def confirmation_email(
    series_names: Sequence[str], reader: Reader, envelope: Envelope, *, confirm_url: str
) -> EmailMessage:
    """Return the double opt-in email with the confirmation link."""
    names = ", ".join(series_names)
    subject = f"Confirm your subscription to {names}"
    body = _Body("Please confirm your subscription", [])
    body.p(f"Someone (hopefully you) asked to receive emails about {names} at {reader.email}.")
    body.p("Nothing is sent until you confirm. If this was not you, ignore this email.")
    body.link("Confirm", confirm_url)
    body.row("Your timezone", when.zone_label(reader.timezone) + f" ({reader.timezone})")
    _footer(body, reader, [])
    return _message(subject, body, reader, envelope, None)


def to_bytes(msg: EmailMessage) -> bytes:
    """Serialise a message for SMTP (CRLF line ends, 998-octet header lines)."""
    return msg.as_bytes(policy=POLICY)
