"""History in the workspace: the change log of a series and its talks, and restoring a version.

A series' organisers (owners and editors) and site admins read the log; restoring a talk's
version is a talk edit (owners and editors), restoring a series' version is a settings change
(owners). A restore goes through the workspace's ordinary save (validation, the version the
page showed, signals: feeds and change emails) and is logged itself, as 'restored'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import HiddenField

from events import accounts, history
from events.errors import InvalidRecord
from events.models import Change, Event, Series
from events.schemas import validate_series
from web.context import db, now
from web.organise import bp
from web.organise.forms import FlaskForm, instant_text
from web.organise.routes import _series, _talk, me, page
from web.organise.signin import current_organiser, signed_in

LABELS = {
    "start_local": _l("Start (local time)"),
    "end_local": _l("End (local time)"),
    "parent_id": _l("Session"),
    "livestream": _l("Livestream link"),
    "recording": _l("Video (recording) link"),
    "slides": _l("Slides link"),
    "homepage": _l("Web page"),
    "auto_announce": _l("Announce new talks automatically"),
    "title": _l("Title"),
    "abstract": _l("Abstract"),
    "speakers": _l("Speakers"),
    "timezone": _l("Timezone"),
    "location": _l("Location"),
    "meeting": _l("Meeting"),
    "status": _l("Status"),
    "tags": _l("Tags"),
    "name": _l("Name"),
    "description": _l("Description"),
    "language": _l("Language"),
    "visibility": _l("Visibility"),
    "duration": _l("Duration"),
    "kind": _l("Kind"),
    "cancel_reason": _l("Cancellation reason"),
    "embed_origins": _l("Sites allowed to embed"),
    "announce_lead": _l("Announcement lead"),
    "translations": _l("Other languages"),
}
PATHS = {
    "browser": _l("workspace"),
    "api": _l("API"),
    "import": _l("import"),
    "mirror": _l("mirrored calendar"),
    "speaker": _l("speaker link"),
    "system": _l("system"),
}
ACTIONS = {
    "created": _l("created"),
    "updated": _l("updated"),
    "deleted": _l("deleted"),
    "restored": _l("restored"),
    "exported": _l("exported"),
}
SHOWN_CHARACTERS = 400


class RestoreForm(FlaskForm):
    """Restore an earlier version (CSRF), over the version the page showed."""

    version = HiddenField()


@bp.before_app_request
def _nobody() -> None:
    """Start every request unattributed (the context may be a reused thread's)."""
    history.set_actor(None)


@bp.teardown_app_request
def _forget(_exc: BaseException | None = None) -> None:
    history.set_actor(None)


@bp.before_request
def _organiser_acts() -> None:
    """Attribute the workspace's writes to the signed-in organiser, through the browser."""
    found = current_organiser()
    if found is not None:
        history.set_actor(history.Actor(found.email, "browser"))


@dataclass(frozen=True)
class FieldChange:
    """One field of a change, as shown: its label, before and after."""

    label: str
    before: str
    after: str


def label(name: str) -> str:
    """Return the label of a logged field."""
    return str(LABELS.get(name, name.replace("_", " ").capitalize()))


def show(value: Any) -> str:
    """Return a logged value as short text."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, dict):
        if set(value) <= {"name", "affiliation", "homepage"} and "name" in value:
            extra = ", ".join(str(value[k]) for k in ("affiliation", "homepage") if value.get(k))
            return f"{value['name']} ({extra})" if extra else str(value["name"])
        text = ", ".join(f"{k}: {show(v)}" for k, v in value.items())
    elif isinstance(value, list):
        text = "; ".join(show(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 1] + "…"


def field_changes(change: Change) -> list[FieldChange]:
    """Return a change's fields, before → after, as shown."""
    return [
        FieldChange(label(name), show(pair[0]), show(pair[1]))
        for name, pair in change.fields.items()
    ]


def _context(series: Series) -> dict[str, Any]:
    return {
        "series": series,
        "field_changes": field_changes,
        "paths": PATHS,
        "actions": ACTIONS,
        "when": lambda c: instant_text(c.at, series.timezone),
        "restore_form": RestoreForm(),
    }


@bp.get("/organise/series/<slug>/history")
@signed_in
def series_history(slug: str) -> tuple[str, int]:
    """The change log of a series and its talks, newest first."""
    found, role = _series(slug)
    changes = list(
        db().scalars(
            select(Change).where(Change.series_id == found.id).order_by(Change.id.desc()).limit(300)
        )
    )
    talk_ids = {c.entity_id for c in changes if c.entity == "talk"}
    live = set(db().scalars(select(Event.id).where(Event.id.in_(talk_ids)))) if talk_ids else set()
    return page(
        "organise/history.html",
        changes=changes,
        talk=None,
        role=role,
        live_talks=live,
        version=found.version,
        **_context(found),
    )


@bp.get("/organise/talks/<talk_id>/history")
@signed_in
def talk_history(talk_id: str) -> tuple[str, int]:
    """The change log of one talk, newest first."""
    found, series, role = _talk(talk_id)
    if not isinstance(found, Event):
        abort(404, _("A draft has no history until it is published."))
    return page(
        "organise/history.html",
        changes=history.changes_of(db(), found),
        talk=found,
        role=role,
        live_talks={found.id},
        version=accounts.talk_version(found),
        **_context(series),
    )


def _change(change_id: int, entity: str, entity_id: str) -> Change:
    change = db().get(Change, change_id)
    if change is None or change.entity != entity or change.entity_id != entity_id:
        abort(404, _("No such change."))
    if change.action in ("deleted", "exported"):
        abort(404, _("That change has no version to restore."))
    return change


@bp.post("/organise/talks/<talk_id>/history/<int:change_id>/restore")
@signed_in
def restore_talk(talk_id: str, change_id: int) -> Response:
    """Restore a talk as it was right after a change (a logged edit over the shown version)."""
    found, series, _unused = _talk(talk_id, lock=True)
    if not isinstance(found, Event):
        abort(404, _("A draft has no history until it is published."))
    form = RestoreForm()
    if not form.validate_on_submit():
        abort(400, _("The form expired; try again."))
    change = _change(change_id, "talk", found.id)
    data = history.talk_input(found.id, history.version_after(db(), found, change.id))
    try:
        _saved, outcome = accounts.save_talk(
            db(), series, data, me(), now(), expected=form.version.data or None
        )
    except InvalidRecord as exc:
        db().rollback()
        flash(_("Not restored: %(error)s", error=exc))
        return redirect(url_for("organise.talk_history", talk_id=talk_id))
    except accounts.StaleEdit as exc:
        db().rollback()
        flash(_("Not restored: %(error)s. Look at its history again, then restore.", error=exc))
        return redirect(url_for("organise.talk_history", talk_id=talk_id))
    if outcome.action == "unchanged":
        db().rollback()
        flash(_("Nothing to restore: the talk is already that version."))
        return redirect(url_for("organise.talk_history", talk_id=talk_id))
    history.note(db(), found, "restored", f"restored the version after change #{change.id}")
    db().commit()
    flash(
        _(
            "Restored the version after change #%(number)d. Pages and feeds show it now.",
            number=change.id,
        )
    )
    return redirect(url_for("organise.talk_history", talk_id=talk_id))


@bp.post("/organise/series/<slug>/history/<int:change_id>/restore")
@signed_in
def restore_series(slug: str, change_id: int) -> Response:
    """Restore a series' settings as they were right after a change (owners)."""
    found, _unused = _series(slug, owner=True)
    form = RestoreForm()
    if not form.validate_on_submit():
        abort(400, _("The form expired; try again."))
    change = _change(change_id, "series", str(found.id))
    if form.version.data != str(found.version):
        flash(_("Not restored: the series changed since you looked. Look at its history again."))
        return redirect(url_for("organise.series_history", slug=slug))
    values = history.version_after(db(), found, change.id)
    try:
        before = history.values_of(found)
        accounts.update_series(db(), found, validate_series(values), now())
    except InvalidRecord as exc:
        db().rollback()
        flash(_("Not restored: %(error)s", error=exc))
        return redirect(url_for("organise.series_history", slug=slug))
    if history.values_of(found) == before:
        db().rollback()
        flash(_("Nothing to restore: the series is already that version."))
        return redirect(url_for("organise.series_history", slug=slug))
    history.note(db(), found, "restored", f"restored the version after change #{change.id}")
    db().commit()
    flash(_("Restored the version after change #%(number)d.", number=change.id))
    return redirect(url_for("organise.series_history", slug=found.slug))
