"""A mirrored series in the workspace: its calendar URL, the last fetch, "Refresh now".

The series page shows the mirror's state (`organise/_mirror.html`, through the template
global `series_mirror`); owners set or stop the mirror on its own page; owners and editors
may refresh it at once (the fetch runs in the request, bounded by the fetch timeouts).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response
from wtforms import StringField

from events import mirror
from events.models import Series, SeriesMirror
from web.context import db, now, settings, state
from web.organise import bp
from web.organise.forms import ConfirmForm, FlaskForm
from web.organise.routes import _series, page
from web.organise.signin import signed_in

RESULTS = {"ok": _l("ok"), "not modified": _l("not modified"), "error": _l("error")}


class MirrorForm(FlaskForm):
    """The external calendar a series mirrors."""

    url = StringField(
        _l("Calendar URL"),
        description=_l(
            "An iCalendar (.ics) address, http:// or https://: an Indico category or event "
            "export, a Google or Nextcloud public calendar, another EventFeed."
        ),
    )


@bp.app_template_global("series_mirror")
def series_mirror(series: Series) -> SeriesMirror | None:
    """Return the mirror of a series (for the series page), or None."""
    return mirror.get_mirror(db(), series)


@bp.route("/organise/series/<slug>/mirror", methods=["GET", "POST"])
@signed_in
def mirror_settings(slug: str) -> Any:
    """Set the calendar a series mirrors (owners)."""
    found, _unused = _series(slug, owner=True)
    current = mirror.get_mirror(db(), found)
    form = MirrorForm()
    if request.method == "GET" and current is not None:
        form.url.data = current.url
    elif form.validate_on_submit():
        try:
            mirror.set_mirror(db(), found, form.url.data or "", now())
        except mirror.MirrorError as exc:
            db().rollback()
            form.url.errors = [str(exc)]
        else:
            db().commit()
            flash(_("Mirror saved: the worker fetches the calendar within a minute."))
            return redirect(url_for("organise.series", slug=found.slug))
    status = 422 if request.method == "POST" else 200
    return page("organise/mirror.html", status, form=form, series=found, mirror=current)


@bp.post("/organise/series/<slug>/mirror/refresh")
@signed_in
def mirror_refresh(slug: str) -> Response:
    """Fetch the mirrored calendar now and apply what changed (owners and editors)."""
    found, _unused = _series(slug)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired; try again."))
        return redirect(url_for("organise.series", slug=found.slug))
    if mirror.get_mirror(db(), found) is None:
        flash(_("This series mirrors no calendar."))
        return redirect(url_for("organise.series", slug=found.slug))
    db().rollback()  # the refresh writes in its own transactions
    outcome = mirror.refresh(state().sessions, found.slug, settings(), now())
    flash(
        _(
            "Refreshed: %(result)s — %(message)s",
            result=RESULTS.get(outcome.result, outcome.result),
            message=outcome.message,
        )
    )
    return redirect(url_for("organise.series", slug=slug))


@bp.post("/organise/series/<slug>/mirror/stop")
@signed_in
def mirror_stop(slug: str) -> Response:
    """Stop mirroring (owners); the talks stay as they are."""
    found, _unused = _series(slug, owner=True)
    if ConfirmForm().validate_on_submit() and mirror.remove_mirror(db(), found):
        db().commit()
        flash(_("Mirroring stopped. The talks stay as they are."))
    return redirect(url_for("organise.series", slug=found.slug))
