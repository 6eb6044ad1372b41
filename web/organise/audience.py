"""Subscribers in the workspace: counts per channel (organisers), the email list (owners).

Exporting the email list is a POST (CSRF-checked) and is logged in the series' history.
"""

from __future__ import annotations

from flask import abort
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from events import audience, history
from web.context import db, now
from web.organise import bp
from web.organise.forms import ConfirmForm
from web.organise.routes import _series, page
from web.organise.signin import signed_in


@bp.get("/organise/series/<slug>/subscribers")
@signed_in
def subscribers(slug: str) -> tuple[str, int]:
    """Subscriber counts of a series per channel and state."""
    found, role = _series(slug)
    return page(
        "organise/subscribers.html",
        series=found,
        role=role,
        counts=audience.counts(db(), found),
        states=audience.STATES,
    )


@bp.post("/organise/series/<slug>/subscribers.csv")
@signed_in
def export_subscribers(slug: str) -> Response:
    """Download the confirmed subscribers' addresses as CSV (owners); logged in the history."""
    found, _unused = _series(slug, owner=True)
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; try again."))
    text, count = audience.email_list(db(), found)
    history.log_event(db(), found, "exported", f"email list exported ({count} addresses)", now())
    db().commit()
    name = f"{found.slug}-subscribers-{now():%Y%m%d}.csv"
    return Response(
        text,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
