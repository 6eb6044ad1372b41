"""Speakers' links: organisers make, rotate and revoke them; speakers fix their talk with one.

The organisers' page (`/organise/talks/<id>/speaker-link`, owners and editors) shows the
link once when made. The speaker's page (`/speaker/<secret>`, no account) offers the title,
abstract, affiliations and slides/video/livestream links; any other posted field (a forged
`start`, say) is refused with nothing written. A save emails the series' organisers (the
outbox) with what changed and where to revert it (the talk's history).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # wtforms 3.3

from events import accounts, speakers
from events.errors import InvalidRecord, StaleRecord
from events.models import Event, Series
from feeds import display
from mail import organisers
from web.context import db, now, settings
from web.i18n import current_locale
from web.messages import known
from web.organise import bp
from web.organise.forms import ConfirmForm, FlaskForm
from web.organise.history import label, show
from web.organise.routes import _talk, me, page
from web.organise.signin import signed_in

# Posted by the speaker's form besides the talk's fields.
FORM_KEYS = frozenset({"csrf_token", "version"})


class SpeakerLinkForm(FlaskForm):
    """Make or rotate a talk's speaker link."""

    days = SelectField(
        _l("The link works for"),
        choices=[SelectChoice(str(d), str(d)) for d in speakers.LIFETIMES_DAYS],
        default=str(speakers.DEFAULT_DAYS),
    )


def _published(talk_id: str) -> tuple[Event, Series]:
    found, series, _unused = _talk(talk_id)
    if not isinstance(found, Event):
        abort(404, _("Publish the talk first: speaker links are for published talks."))
    return found, series


def _absolute(path: str) -> str:
    return settings().base_url.rstrip("/") + path


@bp.route("/organise/talks/<talk_id>/speaker-link", methods=["GET", "POST"])
@signed_in
def speaker_link(talk_id: str) -> Any:
    """The talk's speaker link: its state; make or rotate it (shown once)."""
    found, series = _published(talk_id)
    form = SpeakerLinkForm()
    form.days.choices = [
        SelectChoice(str(d), ngettext("%(num)d day", "%(num)d days", d))
        for d in speakers.LIFETIMES_DAYS
    ]
    secret = None
    status = 200
    if form.validate_on_submit():
        secret = speakers.make_link(db(), found, me().email, now(), days=int(form.days.data))
        db().commit()
    elif request.method == "POST":
        status = 400
    return page(
        "organise/speaker_link.html",
        status,
        form=form,
        talk=found,
        series=series,
        link=speakers.link_of(db(), found),
        url=_absolute(url_for("organise.speaker_page", secret=secret)) if secret else None,
        now=now(),
    )


@bp.post("/organise/talks/<talk_id>/speaker-link/revoke")
@signed_in
def revoke_speaker_link(talk_id: str) -> Response:
    """Stop the talk's speaker link from working."""
    found, _unused = _published(talk_id)
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; try again."))
    speakers.revoke(db(), found)
    db().commit()
    flash(_("The speaker link no longer works."))
    return redirect(url_for("organise.speaker_link", talk_id=talk_id))


def _speaker_view(
    event: Event, status: int = 200, *, errors: list[tuple[str, str]] | None = None, **context: Any
) -> tuple[str, int, dict[str, str]]:
    body = render_template(
        "speaker.html",
        talk=event,
        series=event.series,
        errors=[(label(name), known(message)) for name, message in errors or []],
        talk_when=_talk_when(event),
        values=context.pop("values", None) or _values(event),
        version=context.pop("version", event.version),
        **context,
    )
    # The secret is in the address: never sent on, never kept by a cache.
    return body, status, {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _talk_when(event: Event) -> str:
    """Return the talk's start and end in its own zone, in the page's language."""
    locale, zone = current_locale(), event.timezone
    start = display.day_time(
        display.day(event.start_utc, zone, locale), display.clock(event.start_utc, zone), locale
    )
    return f"{start}–{display.clock(event.end_utc, zone)} ({zone})"


def _values(event: Event) -> dict[str, str]:
    values = {name: getattr(event, name) or "" for name in speakers.SPEAKER_FIELDS}
    for index, speaker in enumerate(event.speakers):
        values[f"{speakers.AFFILIATION}{index}"] = speaker.get("affiliation", "")
    return values


@bp.route("/speaker/<secret>", methods=["GET", "POST"])
def speaker_page(secret: str) -> Any:
    """The speaker's page: fix the title, abstract, affiliations and links of one talk."""
    try:
        link, event = speakers.find(db(), secret, now())
    except speakers.BadSpeakerLink as exc:
        message = _("Ask the organisers for a new link.") if exc.expired else ""
        body = render_template("speaker_gone.html", reason=known(exc), message=message)
        return body, 410 if exc.expired else 404, {"Referrer-Policy": "no-referrer"}
    if request.method == "GET":
        return _speaker_view(event)
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; reload the page and save again."))
    values = {k: v for k, v in request.form.items() if k not in FORM_KEYS}
    seen = request.form.get("version", "")
    try:
        edit = speakers.apply(
            db(), link, event, values, now(), seen=int(seen) if seen.isdigit() else -1
        )
    except InvalidRecord as exc:
        db().rollback()
        return _speaker_view(event, 422, errors=exc.errors, values=values, version=seen)
    except StaleRecord:
        db().rollback()
        errors = [
            (_("talk"), _("the organisers changed this talk meanwhile: reload, then save again"))
        ]
        return _speaker_view(event, 409, errors=errors, values=values, version=seen)
    if edit.changed:
        _tell_organisers(event, edit.changed)
    db().commit()
    saved = _("Saved. Thank you!") if edit.changed else _("Nothing changed.")
    return _speaker_view(event, saved=saved)


def _tell_organisers(event: Event, changed: dict[str, tuple[Any, Any]]) -> None:
    """Queue the notice of a speaker's edit to each organiser, in their language."""
    series = event.series
    by_language: dict[str, list[str]] = {}
    for organiser, _unused in accounts.members(db(), series):
        by_language.setdefault(organiser.language or "en", []).append(organiser.email)
    history = _absolute(url_for("organise.talk_history", talk_id=event.id))
    for language, addresses in sorted(by_language.items()):
        with force_locale(language):
            lines = [
                _(
                    "The speaker of “%(title)s” (%(series)s) changed it through their speaker"
                    " link:",
                    title=event.title,
                    series=series.name,
                ),
                "",
                *(
                    _("- %(field)s: %(old)s → %(new)s", field=label(n), old=show(a), new=show(b))
                    for n, (a, b) in changed.items()
                ),
                "",
                _("Review it, or restore the earlier version, in the talk's history:"),
                history,
            ]
            subject = _("Speaker update: %(title)s", title=event.title)
        organisers.queue_notice(
            db(),
            addresses,
            subject[:200],
            "\n".join(lines),
            settings(),
            now(),
            key=f"speaker:{event.id}:{event.version}",
        )
