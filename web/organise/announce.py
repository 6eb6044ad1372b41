"""Announce a talk: the exact email in two zones, send it now, and its delivery status.

`/organise/talks/<id>/announce` (owners, editors, admins; others 404 as the workspace)
renders the announcement with the worker's own renderers (`mail.sender.event_message`, or
the session's email for a talk inside a session) for a reader in the series' zone and one in
a chosen zone, in a chosen language of emails (by default the one most of the talk's readers
have; the choices show how many read each); only the Message-ID, Date and the reader's
personal links differ from what the worker sends. The HTML part is served by its own route
under a strict CSP, sandboxed.
"Send now" queues through `mail.blocks.announce` (the dedupe keys keep it exactly-once).
"""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from events import times
from events.errors import UnknownTimezone
from events.models import Event, Outbox, ScheduledAnnouncement, Series, Subscriber
from feeds import email as mail_email
from feeds import i18n as mail_i18n
from feeds.links import Links
from mail import blocks, outbox, sender
from web.context import db, now, settings
from web.i18n import LANGUAGES, current_locale
from web.messages import known
from web.organise import bp
from web.organise.forms import ConfirmForm, utc_text
from web.organise.routes import _talk, me, page
from web.organise.signin import signed_in

# The HTML part is a page of its own, shown sandboxed: no script, no form, no plugin.
HTML_PART_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; "
    "frame-ancestors 'self'; sandbox"
)
PREVIEW_ADDRESS = "subscriber@example.invalid"
STATES = ("queued", "sent", "deferred", "bounced")
LEADS = (7, 1)  # "Schedule": days before the start


def _published(talk_id: str) -> tuple[Event, Series]:
    found, series, _unused = _talk(talk_id)
    if not isinstance(found, Event):
        abort(404, _("Publish the talk first: only published talks are announced."))
    return found, series


def reader(zone: str, language: str = mail_i18n.ENGLISH) -> Subscriber:
    """Return an unsaved confirmed subscriber in `zone` reading `language` (the preview's)."""
    return Subscriber(
        id=0,
        email=PREVIEW_ADDRESS,
        timezone=zone,
        language=language,
        token="preview",
        announcements=True,
        confirmed_at=now(),
    )


def message(event: Event, zone: str, language: str = mail_i18n.ENGLISH) -> EmailMessage | None:
    """Return the announcement a reader in `zone` reading `language` would be sent now
    (None: nothing to send)."""
    config = settings()
    subscriber = reader(zone, language)
    envelope = mail_email.Envelope.new(config.mail_from, config.domain)
    block = blocks.block_of(db(), event)
    if block is not None:
        row = Outbox(kind="session", event=block, payload={})
        links = Links(config.base_url)
        built = sender.block_email(
            db(), row, subscriber, config, sender.reader_for(subscriber, links), envelope
        )
        data = None if built is None else mail_email.to_bytes(built)
    else:
        emails = mail_email.EventEmails()
        data, _unused = sender.event_message(
            emails, "announcement", event, subscriber, config, envelope, {}, now=now()
        )
    if data is None:
        return None
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def part(msg: EmailMessage, content_type: str) -> str:
    """Return the text of a message's first part of `content_type` ('' if none)."""
    for found in msg.walk():
        if found.get_content_type() == content_type and isinstance(found, EmailMessage):
            text: str = found.get_content()
            return text
    return ""


def status(event: Event) -> dict[str, int]:
    """Return the queued / sent / deferred / bounced counts of a talk's announcement."""
    block = blocks.block_of(db(), event)
    if block is None:
        where = [Outbox.event_id == event.id, Outbox.kind == "announcement"]
    else:
        where = [Outbox.event_id == block.id, Outbox.kind.in_(blocks.BLOCK_KINDS)]
    counts = dict.fromkeys(STATES, 0)
    query = (
        select(Outbox.status, Outbox.attempts, func.count())
        .where(*where)
        .group_by(Outbox.status, Outbox.attempts)
    )
    for state, attempts, count in db().execute(query):
        if state in ("queued", "sending"):
            counts["deferred" if attempts else "queued"] += count
        elif state == "sent":
            counts["sent"] += count
        elif state in ("bounced", "failed"):
            counts["bounced"] += count
    return counts


def _zone() -> tuple[str, str | None]:
    text = request.args.get("zone", "").strip() or "UTC"
    try:
        return times.resolve_zone(text), None
    except UnknownTimezone as exc:
        return "UTC", known(exc)


def readers_languages(event: Event) -> dict[str, int]:
    """Return how many of the talk's announcement readers read each language of emails."""
    counts = dict.fromkeys(mail_i18n.LOCALES, 0)
    for subscriber in outbox.announced_to(db(), event):
        counts[mail_i18n.locale_of(subscriber.language)] += 1
    return counts


def _language(counts: dict[str, int]) -> str:
    """Return the preview's language: `?language=`, else most readers', else the page's."""
    asked = request.args.get("language", "")
    if asked:
        return mail_i18n.locale_of(asked)
    most = max(counts.values())
    if most and list(counts.values()).count(most) == 1:
        return max(counts, key=counts.__getitem__)
    return current_locale()


def _shown(msg: EmailMessage | None) -> dict[str, Any] | None:
    if msg is None:
        return None
    return {"subject": str(msg["Subject"]), "text": part(msg, "text/plain")}


@bp.get("/organise/talks/<talk_id>/announce")
@signed_in
def announce(talk_id: str) -> tuple[str, int]:
    """The announcement as readers in the series' zone and in a chosen zone get it."""
    event, series = _published(talk_id)
    zone, error = _zone()
    counts = readers_languages(event)
    language = _language(counts)
    return page(
        "organise/announce.html",
        400 if error else 200,
        talk=event,
        series=series,
        zone=zone,
        zone_text=request.args.get("zone", zone),
        zone_error=error,
        language=language,
        preview_tag=mail_i18n.TAGS[language],
        languages=[(lang, counts[lang.locale]) for lang in LANGUAGES],
        previews=[
            (series.timezone, _shown(message(event, series.timezone, language))),
            (zone, _shown(message(event, zone, language))),
        ],
        counts=status(event),
        form=ConfirmForm(),
        scheduled=db().get(ScheduledAnnouncement, event.id),
        leads=sorted(LEADS, key=lambda lead: lead != series.announce_lead),
        default_lead=series.announce_lead,
    )


@bp.get("/organise/talks/<talk_id>/announce/email.html")
@signed_in
def announce_html(talk_id: str) -> Response:
    """The HTML part for a zone and language, sandboxed under its own strict CSP."""
    event, _unused = _published(talk_id)
    zone, error = _zone()
    msg = message(event, zone, mail_i18n.locale_of(request.args.get("language")))
    if error or msg is None:
        abort(404, _("No such email."))
    response = Response(part(msg, "text/html"), content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = HTML_PART_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.get("/organise/talks/<talk_id>/announce/status.json")
@signed_in
def announce_status(talk_id: str) -> Response:
    """The delivery counts, for the page's polling script."""
    event, _unused = _published(talk_id)
    response = jsonify(status(event))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/organise/talks/<talk_id>/announce")
@signed_in
def send_announcement(talk_id: str) -> Response:
    """Queue the announcement now (readers already sent it are not sent it again)."""
    event, _unused = _published(talk_id)
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; try again."))
    if event.status == "cancelled":
        abort(409, _("A cancelled talk is not announced."))
    queued = blocks.announce(db(), event, now())
    db().commit()
    flash(ngettext("Queued for %(num)d subscriber.", "Queued for %(num)d subscribers.", queued))
    zone = request.args.get("zone") or None  # url_for leaves out None values
    language = request.args.get("language") or None
    return redirect(url_for("organise.announce", talk_id=talk_id, zone=zone, language=language))


@bp.post("/organise/talks/<talk_id>/announce/schedule")
@signed_in
def schedule_announcement(talk_id: str) -> Response:
    """Schedule the announcement `lead` days before the start, or cancel the schedule."""
    event, _unused = _published(talk_id)
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; try again."))
    planned = db().get(ScheduledAnnouncement, event.id)
    if request.form.get("action") == "cancel":
        if planned is not None and planned.queued_at is None:
            db().delete(planned)
            flash(_("The scheduled announcement is cancelled."))
    else:
        lead = request.form.get("lead", type=int)
        if lead not in LEADS:
            abort(400, _("Choose 7 or 1 days before."))
        if planned is not None:
            db().delete(planned)
            db().flush()
        due = max(event.start_utc - timedelta(days=lead), now())
        db().add(
            ScheduledAnnouncement(
                event_id=event.id,
                lead_days=lead,
                due_at=due,
                created_by=me().email,
                created_at=now(),
            )
        )
        flash(_("Scheduled for %(when)s.", when=utc_text(due)))
    db().commit()
    return redirect(url_for("organise.announce", talk_id=talk_id))
