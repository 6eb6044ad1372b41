"""API tokens in the workspace: create one (shown once), list yours, revoke.

The same tokens as `eventfeed token create` (`events.tokens`): stored as hashes, scoped to
series slugs, read-only or read-write, usable with the editor API. A workspace token can
only be scoped to series you own (one, or every series you own at the time of creation,
listed by slug); editors make changes in the workspace. You see and revoke the tokens you
made here; tokens made on the command line are listed by `eventfeed token list`.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from events import accounts, tokens
from events.models import ApiToken
from web.context import db, now
from web.organise import bp
from web.organise.forms import ConfirmForm, TokenForm
from web.organise.routes import me, page
from web.organise.signin import signed_in

ALL = "*"


def _owned() -> list[tuple[str, str]]:
    """(slug, name) of the series the signed-in organiser owns (site admins: every series)."""
    return [
        (series.slug, series.name)
        for series, role in accounts.series_of(db(), me())
        if role != accounts.EDITOR
    ]


@bp.route("/organise/tokens", methods=["GET", "POST"])
@signed_in
def api_tokens() -> Any:
    """List your tokens; create one (its text is shown on this answer only)."""
    owned = _owned()
    form = TokenForm()
    form.series.choices = [(ALL, _("All series you own")), *owned] if owned else []
    secret = None
    status = 200
    if form.validate_on_submit():
        slugs = [slug for slug, _unused in owned] if form.series.data == ALL else [form.series.data]
        _unused, secret = tokens.create_token(
            db(),
            now(),
            series=slugs,
            label=form.label.data or "",
            organiser_id=me().id,
            read_only=form.access.data == "read",
        )
        db().commit()
        form = TokenForm(formdata=None)
        form.series.choices = [(ALL, _("All series you own")), *owned]
    elif request.method == "POST":
        status = 422
    return page(
        "organise/tokens.html",
        status,
        form=form,
        owned=owned,
        secret=secret,
        tokens=tokens.list_tokens(db(), me().id),
    )


@bp.post("/organise/tokens/<int:token_id>/revoke")
@signed_in
def revoke_token(token_id: int) -> Response:
    """Revoke one of your tokens (at once: the API refuses it from the next request)."""
    token = db().get(ApiToken, token_id)
    if token is None or token.organiser_id != me().id:
        abort(404, _("No such token."))
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; try again."))
    tokens.revoke_token(db(), str(token_id), now())
    db().commit()
    flash(_("Token %(prefix)s… revoked. The API refuses it from now on.", prefix=token.prefix))
    return redirect(url_for("organise.api_tokens"))
