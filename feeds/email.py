"""Emails as pure functions: records in, RFC 5322 messages out (no Flask).

Every email is `multipart/mixed` → `multipart/alternative` (text + HTML carrying the same
content), plus, for emails about one talk, a `text/calendar; method=REQUEST` (CANCEL for a
cancellation) part whose calendar the caller renders with the feeds' iCalendar renderer
(same UID and SEQUENCE; `itip_calendar` makes it a scheduling message for the reader).
Times are shown in the series' zone and the reader's zone (`feeds.when.dual_span`), meeting
details only as `events.access.visible_meeting(meeting, "subscriber")` allows, and each
email carries RFC 8058 one-click unsubscribe headers and a visible unsubscribe link.
"""

from __future__ import annotations

import quopri
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from html import escape
from typing import Literal, TypeGuard

from events import languages, times
from events.access import MeetingView, is_revealed, visible_meeting
from events.models import Event, Meeting, PreviousValues, Series
from feeds import display, i18n
from feeds.i18n import N_
from feeds.text import markdown_html, plain_text

# policy.SMTP folds long headers into encoded words; 998 keeps List-Unsubscribe URLs intact.
MAX_LINE = 998
# Text headers a reader sees are folded at 78 (RFC 5322), so a long non-ASCII subject becomes
# several encoded words of at most 75 characters (RFC 2047) on lines of their own.
SHORT_HEADERS = frozenset({"subject", "list-id"})
# 76, not 78: Python's folder fills a continuation line " =?utf-8?b?...?=" to the limit, and
# an encoded word must stay within 75 characters.
_SHORT = policy.SMTP.clone(max_line_length=76)


class _MailPolicy(policy.EmailPolicy):
    """policy.SMTP with 998-octet lines, but 78 for the headers in `SHORT_HEADERS`."""

    def fold(self, name: str, value: str) -> str:
        """Fold a header (as text)."""
        if name.lower() in SHORT_HEADERS:
            short: str = _SHORT.fold(name, value)
            return short
        long: str = super().fold(name, value)
        return long

    def fold_binary(self, name: str, value: str) -> bytes:
        """Fold a header (as bytes)."""
        if name.lower() in SHORT_HEADERS:
            short: bytes = _SHORT.fold_binary(name, value)
            return short
        return super().fold_binary(name, value)


POLICY = _MailPolicy(linesep="\r\n", max_line_length=MAX_LINE)

EventKind = Literal["announcement", "change", "cancellation", "reminder"]
EVENT_KINDS: tuple[EventKind, ...] = ("announcement", "change", "cancellation", "reminder")


def is_event_kind(kind: str) -> TypeGuard[EventKind]:
    """Return whether an outbox kind is an email about one talk."""
    return kind in EVENT_KINDS


# The texts (English ids of the `feeds` catalogs, translated where they are used).
KIND_PREFIX: dict[str, str] = {
    "announcement": "",
    "change": N_("Changed: "),
    "cancellation": N_("Cancelled: "),
    "reminder": N_("Reminder: "),
}
KIND_INTRO: dict[str, str] = {
    "announcement": N_("A new talk has been announced."),
    "change": N_("This talk has changed."),
    "cancellation": N_("This talk has been cancelled."),
    "reminder": N_("This talk starts soon."),
}


@dataclass(frozen=True)
class Reader:
    """The recipient and their personal links."""

    email: str
    timezone: str
    manage_url: str
    unsubscribe_url: str
    calendar_url: str | None = None
    language: str = i18n.ENGLISH  # a locale of feeds.i18n.LOCALES (the subscriber's setting)

    def gettext(self, message: str) -> str:
        """Return a text of the `feeds` catalog in the reader's language."""
        return i18n.texts(self.language).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """Return the plural form for `n` in the reader's language."""
        return i18n.texts(self.language).ngettext(singular, plural, n)


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

    def message(self, to: str, subject: str) -> EmailMessage:
        """Return an empty message to `to` with its From, To, Subject, Date and Message-ID."""
        msg = EmailMessage(policy=POLICY)
        msg["From"] = self.mail_from
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = self.date
        msg["Message-ID"] = self.message_id
        return msg


# How a label and its value are joined in the text part ('When: …', '时间：…').
COLONS = {"zh_Hans": "："}


@dataclass
class _Body:
    """Content written once and rendered both as plain text and as HTML."""

    title: str
    blocks: list[tuple[str, str]]  # (kind, value): "p", "h", "row", "abstract", "link", "hr"
    locale: str = i18n.ENGLISH

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
        colon = COLONS.get(self.locale, ": ")
        out = [self.title, "=" * min(len(self.title), 72), ""]
        for kind, value in self.blocks:
            if kind == "p":
                out += ["", value, ""]
            elif kind == "h":
                out += ["", value, "-" * min(len(value), 72), ""]
            elif kind == "row":
                label, data = value.split("\0", 1)
                out.append(f"{label}{colon}{data}")
            elif kind == "link":
                label, url = value.split("\0", 1)
                out.append(f"{label}{colon}{url}")
            elif kind == "abstract":
                out += ["", plain_text(value), ""]
            elif kind == "hr":
                out += ["", "--", ""]
        text = "\n".join(line.rstrip() for line in out).strip()
        while "\n\n\n" in text:
            text = text.replace("\n\n\n", "\n\n")
        return text + "\n"

    def _lang(self) -> str:
        """Return the `<html>` lang attribute of a translated email ('' in English)."""
        return "" if self.locale == i18n.ENGLISH else f' lang="{i18n.TAGS[self.locale]}"'

    def html(self) -> str:
        parts = [
            "<!DOCTYPE html>",
            f'<html{self._lang()}><head><meta charset="utf-8">',
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


def _withheld(view: MeetingView, reader: Reader) -> str:
    """Return where withheld join details go, as a sentence in the reader's language."""
    return i18n.withheld(view.reveal_minutes, reader.language)


def _meeting_rows(
    body: _Body, meeting: Meeting | None, start: datetime, now: datetime | None, reader: Reader
) -> None:
    _ = reader.gettext
    view = visible_meeting(meeting, "subscriber", start=start, now=now)
    if view is None:
        return
    if view.platform:
        body.row(_("Meeting"), view.platform)
    if view.withheld:
        body.row(_("Join details"), _withheld(view, reader))
    if view.url:
        body.link(_("Join"), view.url)
    if view.id:
        body.row(_("Meeting ID"), view.id)
    if view.passcode:
        body.row(_("Passcode"), view.passcode)
    if view.alternate_id:
        body.row(_("Alternate ID"), view.alternate_id)


def _when(talk: times.Timed, reader: Reader) -> str:
    """Return a talk's span by the zone rule in the reader's language."""
    return display.talk_span(talk, reader.timezone, reader.language)


def _place(location: Mapping[str, object] | None, reader: Reader) -> str:
    """Return a talk's place in the reader's language ('Online' translated)."""
    return display.place_text(location, reader.gettext("Online"))


def _reading(reader: Reader, language: str | None) -> str:
    """Return the language to show talks' own texts in: `language`, else the reader's."""
    return language if language is not None else reader.language.replace("_", "-")


def talk_text(event: Event, original: str, language: str | None) -> tuple[str, str]:
    """Return a talk's (title, abstract) in `language` (a BCP 47 tag), else in `original`
    (its series' language)."""
    title = languages.pick(language, original, event.title, event.translations, "title")
    abstract = languages.pick(language, original, event.abstract, event.translations, "abstract")
    return title.text, abstract.text


def _event_rows(
    body: _Body,
    event: Event,
    reader: Reader,
    event_url: str,
    now: datetime | None = None,
    title: str | None = None,
) -> None:
    _ = reader.gettext
    body.row(_("Title"), event.title if title is None else title)
    _who_and_when(body, event, reader, where=True)
    if event.status == "tentative":
        body.row(_("Status"), _("tentative"))
    _meeting_rows(body, event.meeting, event.start_utc, now, reader)
    for label, url in ((_("Livestream"), event.livestream), (_("Slides"), event.slides)):
        if url:
            body.link(label, url)
    body.link(_("Details"), event_url)


def _who_and_when(body: _Body, event: Event, reader: Reader, *, where: bool = False) -> None:
    """Add the rows Speakers (if any), When and, with `where`, Where (if known)."""
    _ = reader.gettext
    if event.speakers:
        body.row(_("Speakers"), display.speakers_text(event.speakers))
    body.row(_("When"), _when(event, reader))
    place = _place(event.location, reader) if where else None
    if place:
        body.row(_("Where"), place)


def _footer(body: _Body, reader: Reader, series_names: Sequence[str]) -> None:
    _ = reader.gettext
    body.hr()
    if series_names:
        body.p(
            _("You receive this email because you follow %(series)s.")
            % {"series": ", ".join(series_names)}
        )
    if reader.calendar_url:
        body.link(_("Your calendar"), reader.calendar_url)
    body.link(_("Manage your subscription"), reader.manage_url)
    body.link(_("Unsubscribe"), reader.unsubscribe_url)


def _colon(reader: Reader) -> str:
    """Return how the reader's language joins a name and what follows (': ', '：')."""
    return COLONS.get(reader.language, ": ")


def list_id(name: str, label: str, envelope: Envelope) -> str:
    """Return a List-Id (RFC 2919): `Name <label.domain>`, the domain of the sender."""
    domain = parseaddr(envelope.mail_from)[1].rsplit("@", 1)[-1] or "localhost"
    safe = re.sub(r"[^a-z0-9-]+", "-", label.lower()).strip("-") or "list"
    return f"{name} <{safe}.{domain}>"


# iTIP method of the calendar attached to each kind (see `itip_calendar`).
ITIP_METHOD: dict[str, str] = {"cancellation": "CANCEL"}
ATTENDEE_PREFIX = "ATTENDEE;RSVP=FALSE:mailto:"
ICS_LINE = 75  # octets per content line before folding (RFC 5545)


def itip_calendar(ics: str, kind: str, email: str) -> tuple[str, str]:
    """Return (calendar, method): the talk's PUBLISH calendar made an iTIP REQUEST or CANCEL.

    Mail clients update an existing entry in place only for a scheduling message from its
    organiser: METHOD:REQUEST (CANCEL for a cancellation) with ORGANIZER, the reader as
    ATTENDEE (RSVP=FALSE: no reply expected), the talk's UID and a SEQUENCE that grows with
    each material change. A METHOD:PUBLISH attachment is imported as a new event by Outlook
    and Google each time, leaving duplicates.
    """
    method = ITIP_METHOD.get(kind, "REQUEST")
    line = ATTENDEE_PREFIX + email
    if len(line) > ICS_LINE:
        line = line[:ICS_LINE] + "\r\n " + line[ICS_LINE:]
    ics = ics.replace("METHOD:PUBLISH\r\n", f"METHOD:{method}\r\n", 1)
    return ics.replace("END:VEVENT\r\n", line + "\r\nEND:VEVENT\r\n"), method


def _message(
    subject: str,
    body: _Body,
    reader: Reader,
    envelope: Envelope,
    ics: str | None,
    *,
    listed: str | None = None,
    ics_method: str = "PUBLISH",
) -> EmailMessage:
    """Assemble a message; `listed` (a List-Id) marks mail sent to a list: Precedence: bulk."""
    msg = envelope.message(reader.email, subject)
    if listed is not None:
        msg["List-Id"] = listed
    msg["List-Unsubscribe"] = f"<{reader.unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    if listed is not None:
        msg["Precedence"] = "bulk"
    msg.set_content(body.text())
    msg.add_alternative(body.html(), subtype="html")
    msg.make_mixed()
    if ics is not None:
        msg.add_attachment(
            ics, subtype="calendar", params={"method": ics_method}, filename="talk.ics"
        )
    return msg


def event_email(
    kind: EventKind,
    event: Event,
    series: Series,
    reader: Reader,
    envelope: Envelope,
    *,
    event_url: str,
    ics: str | None,
    previous: PreviousValues | None = None,
    now: datetime | None = None,
    language: str | None = None,
) -> EmailMessage:
    """Return an announcement, change notice, cancellation or reminder for one talk.

    `previous` holds the old values of a change notice (start_utc/end_utc as ISO text,
    timezone, location); `ics` is the talk's calendar (METHOD:PUBLISH) or None; `now` is
    when the email is made (a `revealed` meeting's details only after its reveal moment).
    Every text is in the reader's language (`reader.language`); the talk's title and abstract
    in `language` when given, else in the reader's, where the talk has them (`talk_text`).
    """
    _ = reader.gettext
    title, abstract = talk_text(event, series.language, _reading(reader, language))
    prefix = _(KIND_PREFIX[kind]) if KIND_PREFIX[kind] else ""
    moment = display.talk_moment(event, reader.timezone, reader.language)
    subject = f"{prefix}[{series.name}] {title} — {moment}"
    body = _Body(f"{prefix}{title}", [], reader.language)
    body.p(f"{series.name}{_colon(reader)}{_(KIND_INTRO[kind])}")
    if kind == "change" and previous:
        _change_rows(body, event, reader, previous)
    _event_rows(body, event, reader, event_url, now, title)
    if kind != "cancellation":
        body.abstract(abstract)
    _footer(body, reader, [series.name])
    listed = list_id(series.name, series.slug, envelope)
    if ics is None:
        return _message(subject, body, reader, envelope, None, listed=listed)
    calendar, method = itip_calendar(ics, kind, reader.email)
    return _message(subject, body, reader, envelope, calendar, listed=listed, ics_method=method)


def _change_rows(body: _Body, event: Event, reader: Reader, previous: PreviousValues) -> None:
    _ = reader.gettext
    if "start_utc" in previous or "end_utc" in previous or "timezone" in previous:
        start = datetime.fromisoformat(previous.get("start_utc", event.start_utc.isoformat()))
        end = datetime.fromisoformat(previous.get("end_utc", event.end_utc.isoformat()))
        zone = previous.get("timezone", event.timezone)
        lead, second = display.talk_zones(zone, reader.timezone)
        body.row(_("Was"), display.dual_span(start, end, lead, second, reader.language))
        body.row(_("Now"), _when(event, reader))
    if "location" in previous:
        none = _("(none)")
        body.row(_("Place was"), _place(previous["location"], reader) or none)
        body.row(_("Place now"), _place(event.location, reader) or none)
    if "meeting" in previous:
        body.p(_("The meeting details have changed; the current ones are below."))
    if previous.get("status") and previous["status"] != event.status:
        body.row(_("Status"), f"{_(previous['status'])} → {_(event.status)}")
    body.hr()


# Talk statuses as emails name them (the `feeds` catalog translates them).
STATUS_NAMES = (N_("confirmed"), N_("tentative"), N_("cancelled"))


@dataclass(frozen=True)
class DigestItem:
    """One talk of a digest: its page, its .ics download, and whether the reader saw it before."""

    event: Event
    series: Series
    url: str
    ics_url: str
    changed: bool = False


DIGEST_NAMES = {"daily": "Daily", "weekly": "Weekly"}


def _digest_titles(frequency: str, label: str, count: int, reader: Reader) -> tuple[str, str]:
    """Return (subject, title) of a digest in the reader's language."""
    _ = reader.gettext
    values = {"day": label, "num": count}
    if frequency == "daily":
        subject = reader.ngettext(
            "Daily digest, %(day)s: %(num)d new or changed talk",
            "Daily digest, %(day)s: %(num)d new or changed talks",
            count,
        )
        return subject % values, _("Daily digest of %(day)s") % values
    subject = reader.ngettext(
        "Weekly digest, %(day)s: %(num)d new or changed talk",
        "Weekly digest, %(day)s: %(num)d new or changed talks",
        count,
    )
    return subject % values, _("Weekly digest of %(day)s") % values


def digest_email(
    items: Sequence[DigestItem],
    reader: Reader,
    envelope: Envelope,
    *,
    frequency: str,
    day: date,
    language: str | None = None,
) -> EmailMessage:
    """Return a daily or weekly digest: new and changed talks, by day in the reader's zone
    (titles in `language`, else the reader's, where a talk has them)."""
    _ = reader.gettext
    locale = reader.language
    label = display.day(times.local_midnight(day, reader.timezone), reader.timezone, locale)
    subject, title = _digest_titles(frequency, label, len(items), reader)
    series_names = sorted({item.series.name for item in items})
    body = _Body(title, [], locale)
    body.p(
        _(
            "New and changed talks of the series you follow. Times are given in each talk's "
            "zone and in yours (%(zone)s)."
        )
        % {"zone": display.zone_label(reader.timezone, locale)}
    )
    shown_day = None
    for item in sorted(items, key=lambda i: (i.event.start_utc, i.event.id)):
        event = item.event
        local_day = display.day(event.start_utc, reader.timezone, locale)
        if local_day != shown_day:
            body.h(local_day)
            shown_day = local_day
        title = talk_text(event, item.series.language, _reading(reader, language))[0]
        heading = f"{item.series.name}{_colon(reader)}{title}"
        if event.status == "cancelled":
            heading = _("Cancelled: %(talk)s") % {"talk": heading}
        elif item.changed:
            heading = _("Changed: %(talk)s") % {"talk": heading}
        body.p(heading)
        _who_and_when(body, event, reader, where=True)
        for link_label, url in ((_("Livestream"), event.livestream), (_("Slides"), event.slides)):
            if url:
                body.link(link_label, url)
        body.link(_("Details"), item.url)
        if event.status != "cancelled":
            body.link(_("Add to calendar"), item.ics_url)
    _footer(body, reader, series_names)
    listed = list_id("EventFeed digest", "digest", envelope)
    return _message(subject, body, reader, envelope, None, listed=listed)


# A session's kind as its email names it.
BLOCK_NAMES = {
    "session": N_("session"),
    "workshop": N_("workshop"),
    "conference-day": N_("conference day"),
}


def session_email(
    block: Event,
    talks: Sequence[Event],
    series: Series,
    reader: Reader,
    envelope: Envelope,
    *,
    urls: Mapping[str, str],
    ics: str | None,
    added: Sequence[str] = (),
    language: str | None = None,
) -> EmailMessage:
    """Return the one announcement of a session (or workshop) listing every talk in it.

    `urls` maps the block's and each talk's id to its page; `added` names the talks an
    update adds to a session announced before (the email is then an update that lists every
    talk, the new ones marked); `ics` is a calendar (METHOD:PUBLISH) of the talks, made an
    iTIP REQUEST here, one VEVENT per talk with the talk's own UID, as in the feeds.
    `language`: the reader's, for titles and abstracts (a template key must then hold it).
    """
    _ = reader.gettext
    count = reader.ngettext("%(num)d talk", "%(num)d talks", len(talks)) % {"num": len(talks)}
    moment = display.talk_moment(block, reader.timezone, reader.language)
    prefix = _("Updated: ") if added else ""
    reading = _reading(reader, language)
    heading = (
        talk_text(block, series.language, reading)[0]
        if block.title != series.name
        else _("%(series)s session") % {"series": series.name}
    )
    subject = f"{prefix}[{series.name}] {heading}{_colon(reader)}{count} — {moment}"
    body = _Body(f"{prefix}{heading}", [], reader.language)
    kind = _(BLOCK_NAMES.get(block.kind, BLOCK_NAMES["session"]))
    if added:
        news = [t.title for t in talks if t.id in added]
        values = {"series": series.name, "num": len(news), "kind": kind, "count": count}
        if len(news) == 1:
            what = _("%(series)s: A talk has been added to this %(kind)s. It now holds %(count)s.")
        else:  # the singular form is never used: English says 'A talk' above
            what = reader.ngettext(
                "%(series)s: %(num)d talk has been added to this %(kind)s. It now holds %(count)s.",
                "%(series)s: %(num)d talks have been added to this %(kind)s. "
                "It now holds %(count)s.",
                len(news),
            )
        body.p(what % values)
    else:
        body.p(
            _("%(series)s: a %(kind)s of %(count)s has been announced.")
            % {"series": series.name, "kind": kind, "count": count}
        )
    body.row(_("When"), _when(block, reader))
    place = _place(block.location, reader)
    if place:
        body.row(_("Where"), place)
    _meeting_rows(body, block.meeting, block.start_utc, None, reader)
    body.link(_("Programme"), urls[block.id])
    for talk in talks:
        title, abstract = talk_text(talk, series.language, reading)
        body.h(_("%(talk)s (new)") % {"talk": title} if talk.id in added else title)
        _who_and_when(body, talk, reader)
        if talk.status == "tentative":
            body.row(_("Status"), _("tentative"))
        if talk.meeting != block.meeting:
            _meeting_rows(body, talk.meeting, talk.start_utc, None, reader)
        for label, url in (
            (_("Livestream"), talk.livestream),
            (_("Video"), talk.recording),
            (_("Slides"), talk.slides),
        ):
            if url:
                body.link(label, url)
        body.link(_("Details"), urls[talk.id])
        body.abstract(abstract)
    _footer(body, reader, [series.name])
    listed = list_id(series.name, series.slug, envelope)
    if ics is None:
        return _message(subject, body, reader, envelope, None, listed=listed)
    calendar, method = itip_calendar(ics, "announcement", reader.email)
    msg = _message(subject, body, reader, envelope, calendar, listed=listed, ics_method=method)
    return msg


def recording_email(
    event: Event,
    series: Series,
    reader: Reader,
    envelope: Envelope,
    *,
    link: str,
    url: str,
    event_url: str,
    language: str | None = None,
) -> EmailMessage:
    """Return the short note that a talk's video (`link` 'recording') or slides are online."""
    _ = reader.gettext
    video = link == "recording"
    what = _("Video") if video else _("Slides")
    shown = talk_text(event, series.language, _reading(reader, language))[0]
    names = {"series": series.name, "talk": shown}
    if video:
        subject = _("Video available: [%(series)s] %(talk)s") % names
        title = _("Video available: %(talk)s") % names
        intro = _("%(series)s: the video of this talk can now be watched or read online.") % names
    else:
        subject = _("Slides available: [%(series)s] %(talk)s") % names
        title = _("Slides available: %(talk)s") % names
        intro = _("%(series)s: the slides of this talk can now be watched or read online.") % names
    body = _Body(title, [], reader.language)
    body.p(intro)
    body.link(what, url)
    body.row(_("Title"), shown)
    _who_and_when(body, event, reader)
    body.link(_("Details"), event_url)
    body.p(_("You can turn these notes off on the page that manages your subscription."))
    _footer(body, reader, [series.name])
    return _message(
        subject, body, reader, envelope, None, listed=list_id(series.name, series.slug, envelope)
    )


def confirmation_email(
    series_names: Sequence[str], reader: Reader, envelope: Envelope, *, confirm_url: str
) -> EmailMessage:
    """Return the double opt-in email with the confirmation link."""
    _ = reader.gettext
    values = {"series": ", ".join(series_names), "email": reader.email}
    subject = _("Confirm your subscription to %(series)s") % values
    body = _Body(_("Please confirm your subscription"), [], reader.language)
    body.p(
        _("Someone (hopefully you) asked to receive emails about %(series)s at %(email)s.") % values
    )
    body.p(_("Nothing is sent until you confirm. If this was not you, ignore this email."))
    body.link(_("Confirm"), confirm_url)
    label = display.zone_label(reader.timezone, reader.language)
    body.row(_("Your timezone"), f"{label} ({reader.timezone})")
    _footer(body, reader, [])
    return _message(subject, body, reader, envelope, None)


def signin_email(
    address: str,
    envelope: Envelope,
    *,
    signin_url: str,
    minutes: int,
    invited_to: str = "",
    language: str = i18n.ENGLISH,
) -> EmailMessage:
    """Return the one-time sign-in (or invitation) email of the organiser workspace.

    `language` is the locale of the page the link was asked for on.
    """
    _ = i18n.texts(language).gettext
    values = {
        "series": invited_to,
        "email": address,
        "duration": i18n.minutes_text(minutes, language),
    }
    if invited_to:
        subject = _("You are invited to organise %(series)s on EventFeed") % values
        body = _Body(_("Organise %(series)s") % values, [], language)
        body.p(_("You were invited to organise %(series)s. Sign in to start:") % values)
    else:
        subject = _("Your EventFeed sign-in link")
        body = _Body(_("Sign in to EventFeed"), [], language)
        body.p(_("Someone (hopefully you) asked to sign in to EventFeed as %(email)s.") % values)
    body.link(_("Sign in"), signin_url)
    body.p(
        _(
            "The link works once, for %(duration)s. If you did not ask for it, ignore this "
            "email: nobody can sign in without it."
        )
        % values
    )
    msg = envelope.message(address, subject)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body.text())
    msg.add_alternative(body.html(), subtype="html")
    return msg


def to_bytes(msg: EmailMessage) -> bytes:
    """Serialise a message for SMTP (CRLF line ends, 998-octet header lines)."""
    return msg.as_bytes(policy=POLICY)


def seven_bit(data: bytes) -> bytes:
    """Return a message with its 8bit parts quoted-printable (a server without 8BITMIME)."""
    msg = message_from_bytes(data, policy=POLICY)
    for part in msg.walk():
        if part.is_multipart() or str(part.get("Content-Transfer-Encoding", "")).lower() != "8bit":
            continue
        body = part.get_payload(decode=True)
        assert isinstance(body, bytes)
        # Text line breaks stay line breaks (CRLF on the wire), not =0D=0A.
        encoded = quopri.encodestring(body.replace(b"\r\n", b"\n")).decode("ascii")
        part.set_payload(encoded)
        part.replace_header("Content-Transfer-Encoding", "quoted-printable")
    return msg.as_bytes(policy=POLICY)


# -- the fast path: one template per talk version and kind of reader -------------------------

# A value is substituted into template bytes only when every renderer leaves it verbatim:
# printable ASCII without whitespace (no line breaks, nothing for rstrip/strip to remove),
# none of & < > " ' (html.escape), no "=?" (an RFC 2047 encoded word in a header) and at most
# PLAIN_MAX characters (with the line-length check in _Template.fill, no header line folds).
PLAIN_MAX = 300
_PLAIN_URL = re.compile(r"[\x21\x23-\x25\x28-\x3b\x3d\x3f-\x7e]+")
# Addresses and Message-IDs: dot-atoms of letters, digits, _ + - (rendered verbatim by the
# address and msg-id header parsers).
_DOT_ATOM = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
_PLAIN_EMAIL = re.compile(f"{_DOT_ATOM}@{_DOT_ATOM}")
_PLAIN_MESSAGE_ID = re.compile(f"<{_DOT_ATOM}@{_DOT_ATOM}>")
PLACEHOLDER_DATE = "Sat, 01 Jan 2000 00:00:00 GMT"


def _plain(value: str, pattern: re.Pattern[str]) -> bool:
    return len(value) <= PLAIN_MAX and "=?" not in value and pattern.fullmatch(value) is not None


def _date_line(date: str) -> bytes:
    """Return the Date header line exactly as `_message` and `to_bytes` write it."""
    name, header = POLICY.header_store_parse("Date", date)
    return POLICY.fold_binary(name, header)


def _decoded(msg: EmailMessage) -> list[str]:
    """Return the decoded header values and contents of every part of a message."""
    texts: list[str] = []
    for part in msg.walk():
        texts += (str(value) for value in part.values())
        if not part.is_multipart():
            texts.append(str(part.get_content()))
    return texts


@dataclass(frozen=True)
class _Template:
    """Message bytes split at the per-reader values: parts[0] fields[0] parts[1] ... parts[-1]."""

    parts: tuple[bytes, ...]
    fields: tuple[str, ...]
    lines: tuple[tuple[int, tuple[tuple[str, int], ...]], ...]  # (fixed length, field counts)
    subject: str

    def fill(self, values: dict[str, bytes]) -> bytes | None:
        """Return the message with `values` in place, or None when a line would exceed 998."""
        for fixed, counts in self.lines:
            if fixed + sum(len(values[name]) * count for name, count in counts) > MAX_LINE:
                return None
        out = [self.parts[0]]
        for name, part in zip(self.fields, self.parts[1:], strict=True):
            out += (values[name], part)
        return b"".join(out)


class EventEmails:
    """Event emails, each talk's email rendered once as a template (kept for many batches).

    `render` returns exactly `to_bytes(event_email(...))` and its subject, except that every
    message made from one template shares that template's random MIME boundaries (which
    stay valid: a boundary only must not be a line of the message, and the values put in
    contain no line breaks). A template is `event_email` rendered for placeholder values
    (a unique token for the address, the three personal links and the Message-ID, a fixed
    Date), once per (kind, talk content, series name, reader's zone, whether the reader has
    a calendar link, talk page, calendar, previous values, sender). Each reader's values
    then replace the tokens in the bytes; the Date header line is rendered on its own.
    Since the key holds everything else the bytes depend on, one object may serve many
    batches (the `send` command keeps one); it keeps the `max_templates` newest templates.

    That substitution is exact when (1) each value is rendered verbatim everywhere it
    appears (`_plain`: checked per value), (2) the template bodies are 7bit/8bit, so the
    tokens appear verbatim and as often in the bytes as in the content (checked once per
    template), and (3) no line that holds a value grows past 998 octets, which would switch
    a body to quoted-printable or fold a header (checked per message). Otherwise the
    reader's email is rendered by `event_email` (the slow path). The cache assumes nothing
    else changes a message; keep `_template_key` in step with what `event_email` reads.
    """

    def __init__(self, max_templates: int = 256) -> None:
        nonce = secrets.token_hex(8)
        self._tokens = {
            "email": f"ef{nonce}to@placeholder.invalid",
            "manage_url": f"https://placeholder.invalid/{nonce}/manage",
            "unsubscribe_url": f"https://placeholder.invalid/{nonce}/unsubscribe",
            "calendar_url": f"https://placeholder.invalid/{nonce}/calendar",
            "message_id": f"<ef{nonce}id@placeholder.invalid>",
        }
        self._templates: dict[tuple[object, ...], _Template | None] = {}
        self._max_templates = max_templates
        self._dates: dict[str, bytes] = {}
        self.fast = 0
        self.slow = 0

    def render(
        self,
        kind: EventKind,
        event: Event,
        series: Series,
        reader: Reader,
        envelope: Envelope,
        *,
        event_url: str,
        ics: str | None,
        previous: PreviousValues | None = None,
        now: datetime | None = None,
        language: str | None = None,
    ) -> tuple[bytes, str]:
        """Return (message bytes, subject) of `event_email` with these arguments."""
        values = self._values(reader, envelope)
        if values is not None:
            key = _template_key(kind, event, series, reader, envelope, event_url, ics, previous)
            shown = talk_text(event, series.language, _reading(reader, language))
            key += (is_revealed(event.meeting, event.start_utc, now), shown)
            if key not in self._templates:
                if len(self._templates) >= self._max_templates:
                    del self._templates[next(iter(self._templates))]  # the oldest
                self._templates[key] = self._template(
                    kind, event, series, reader, envelope, event_url, ics, previous, now, language
                )
            template = self._templates[key]
            data = None if template is None else template.fill(values)
            if template is not None and data is not None:
                self.fast += 1
                return data, template.subject
        self.slow += 1
        msg = event_email(
            kind,
            event,
            series,
            reader,
            envelope,
            event_url=event_url,
            ics=ics,
            previous=previous,
            now=now,
            language=language,
        )
        return to_bytes(msg), str(msg["Subject"])

    def _values(self, reader: Reader, envelope: Envelope) -> dict[str, bytes] | None:
        """Return the reader's values as bytes by field, or None when one is not plain."""
        links = [reader.manage_url, reader.unsubscribe_url]
        if reader.calendar_url:
            links.append(reader.calendar_url)
        if not (
            # The calendar's ATTENDEE line folds past 75 octets: then the slow path.
            len(ATTENDEE_PREFIX + reader.email) <= ICS_LINE
            and _plain(reader.email, _PLAIN_EMAIL)
            and _plain(envelope.message_id, _PLAIN_MESSAGE_ID)
            and all(_plain(url, _PLAIN_URL) for url in links)
        ):
            return None
        date = self._dates.get(envelope.date)
        if date is None:
            if len(self._dates) > 1000:
                self._dates.clear()
            date = self._dates[envelope.date] = _date_line(envelope.date)
        values = {
            "email": reader.email.encode("ascii"),
            "manage_url": reader.manage_url.encode("ascii"),
            "unsubscribe_url": reader.unsubscribe_url.encode("ascii"),
            "message_id": envelope.message_id.encode("ascii"),
            "date": date,
        }
        if reader.calendar_url:
            values["calendar_url"] = reader.calendar_url.encode("ascii")
        return values

    def _template(
        self,
        kind: EventKind,
        event: Event,
        series: Series,
        reader: Reader,
        envelope: Envelope,
        event_url: str,
        ics: str | None,
        previous: PreviousValues | None,
        now: datetime | None = None,
        language: str | None = None,
    ) -> _Template | None:
        """Render the email for placeholder values; None when they are not all verbatim."""

        def build(stand_in: Reader, placeholder: Envelope) -> EmailMessage:
            return event_email(
                kind,
                event,
                series,
                stand_in,
                placeholder,
                event_url=event_url,
                ics=ics,
                previous=previous,
                now=now,
                language=language,
            )

        return self._template_of(build, reader, envelope)

    def render_built(
        self,
        key: tuple[object, ...],
        build: Callable[[Reader, Envelope], EmailMessage],
        reader: Reader,
        envelope: Envelope,
    ) -> tuple[bytes, str]:
        """Return (bytes, subject) of `build(reader, envelope)`, through a template per `key`.

        For emails other than `event_email` (a session's announcement): `key` must hold
        everything `build` reads except the reader's and envelope's own values, as
        `_template_key` does for talks (the reader's zone and whether they have a calendar
        link are added here).
        """
        values = self._values(reader, envelope)
        if values is not None:
            full = (
                *key,
                reader.timezone,
                reader.language,
                bool(reader.calendar_url),
                envelope.mail_from,
            )
            if full not in self._templates:
                if len(self._templates) >= self._max_templates:
                    del self._templates[next(iter(self._templates))]
                self._templates[full] = self._template_of(build, reader, envelope)
            template = self._templates[full]
            data = None if template is None else template.fill(values)
            if template is not None and data is not None:
                self.fast += 1
                return data, template.subject
        self.slow += 1
        msg = build(reader, envelope)
        return to_bytes(msg), str(msg["Subject"])

    def _template_of(
        self, build: Callable[[Reader, Envelope], EmailMessage], reader: Reader, envelope: Envelope
    ) -> _Template | None:
        """Build the email for placeholder values; None when they are not all verbatim."""
        tokens = dict(self._tokens)
        if not reader.calendar_url:
            del tokens["calendar_url"]
        stand_in = Reader(
            email=tokens["email"],
            timezone=reader.timezone,
            manage_url=tokens["manage_url"],
            unsubscribe_url=tokens["unsubscribe_url"],
            calendar_url=tokens.get("calendar_url"),
            language=reader.language,
        )
        placeholder = Envelope(envelope.mail_from, tokens["message_id"], PLACEHOLDER_DATE)
        msg = build(stand_in, placeholder)
        data = to_bytes(msg)
        if any(
            part.get("Content-Transfer-Encoding", "7bit") not in ("7bit", "8bit")
            for part in msg.walk()
            if not part.is_multipart()
        ):
            return None
        found = {name: token.encode("ascii") for name, token in tokens.items()}
        decoded = _decoded(msg)
        for name, token in tokens.items():
            count = data.count(found[name])
            if count == 0 or count != sum(text.count(token) for text in decoded):
                return None
        found["date"] = _date_line(PLACEHOLDER_DATE)
        if data.count(found["date"]) != 1:
            return None
        return _split(data, found, str(msg["Subject"]))


def _split(data: bytes, found: dict[str, bytes], subject: str) -> _Template:
    """Return the template of message bytes whose values are the tokens in `found`."""
    names = {token: name for name, token in found.items()}
    pattern = re.compile(b"(" + b"|".join(re.escape(t) for t in found.values()) + b")")
    pieces = pattern.split(data)
    lines = []
    for line in data.splitlines():
        if not pattern.search(line):
            continue
        counts = tuple(
            (name, line.count(token))
            for name, token in found.items()
            if name != "date" and token in line
        )
        fixed = len(line) - sum(len(found[name]) * count for name, count in counts)
        lines.append((fixed, counts))
    return _Template(
        parts=tuple(pieces[0::2]),
        fields=tuple(names[token] for token in pieces[1::2]),
        lines=tuple(lines),
        subject=subject,
    )


def _template_key(
    kind: str,
    event: Event,
    series: Series,
    reader: Reader,
    envelope: Envelope,
    event_url: str,
    ics: str | None,
    previous: PreviousValues | None,
) -> tuple[object, ...]:
    """Return everything `event_email` reads except the reader's and envelope's own values."""
    return (
        kind,
        event.id,
        event.title,
        repr(event.speakers),
        event.start_utc,
        event.end_utc,
        event.timezone,
        repr(event.location),
        event.status,
        repr(event.meeting),
        event.livestream,
        event.slides,
        event.abstract,
        series.name,
        reader.timezone,
        reader.language,
        bool(reader.calendar_url),
        envelope.mail_from,
        event_url,
        ics,
        repr(previous),
    )
