"""Passwordless sign-in: ask for a link, follow it once, sign out (here or everywhere).

- `POST /login` answers "check your inbox" whatever the address (no enumeration). It queues
  a one-time link through the outbox (sent by `eventfeed send`, like every email), at most
  `signin_per_address_per_hour` per address (beyond that, silently none) and
  `signin_per_ip_per_hour` requests per client address (beyond that, 429).
- The link is bound to the browser that asked (a nonce in its session): followed there, it
  signs in at once; anywhere else (another device, a mail scanner) it shows a button, since
  a GET must not use up the link.
- The session keeps the organiser's id and session epoch; "sign out everywhere" raises the
  epoch, so every other session stops at its next request.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import abort, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from events import accounts, ratelimit
from events.errors import InvalidRecord
from events.models import Organiser
from mail import outbox
from web.context import db, now, settings, state
from web.i18n import current_locale
from web.messages import known
from web.organise import bp
from web.organise.forms import ConfirmForm, SignInForm
from web.security import check_rate, client_address

F = TypeVar("F", bound=Callable[..., Any])
SESSION_KEY = "organiser"
NONCE_KEY = "signin_nonce"


def current_organiser() -> Organiser | None:
    """Return the signed-in organiser (None when the session is absent or signed out)."""
    if "organiser" in g:
        found: Organiser | None = g.organiser
        return found
    organiser = None
    held = session.get(SESSION_KEY)
    if isinstance(held, dict):
        candidate = db().get(Organiser, held.get("id"))
        if candidate is not None and candidate.session_epoch == held.get("epoch"):
            organiser = candidate
    g.organiser = organiser
    return organiser


def signed_in(view: F) -> F:
    """Decorate a view: sign-in required (else to /login, coming back afterwards)."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        organiser = current_organiser()
        if organiser is None:
            return redirect(url_for("organise.login", next=request.full_path.rstrip("?")))
        if "lang" in request.args and organiser.language != current_locale():
            organiser.language = current_locale()  # the switcher: their emails follow
            db().commit()
        return view(*args, **kwargs)

    return cast(F, guarded)


def _safe_next(target: str | None) -> str:
    parts = urlsplit(target or "")
    if target and not parts.scheme and not parts.netloc and target.startswith("/organise"):
        return target
    return url_for("organise.home")


def signin_url(secret: str) -> str:
    """Return the absolute address of a sign-in link."""
    return settings().base_url.rstrip("/") + url_for("organise.signin_link", secret=secret)


def send_link(address: str, *, browser_nonce: str | None, invited_to: str = "") -> None:
    """Make a sign-in link for an address and queue its email (nothing when not allowed).

    Call `may_email(address)` first, before the request's session writes anything (the
    rate counter commits in its own transaction).
    """
    made = accounts.create_signin(
        db(), address, now(), browser_nonce=browser_nonce, signup=settings().organiser_signup
    )
    if made is None:
        return
    link, secret = made
    outbox.queue_signin(
        db(),
        link,
        address,
        signin_url(secret),
        settings(),
        now(),
        invited_to=invited_to,
        language=current_locale(),
    )


def may_email(address: str) -> bool:
    """Count one sign-in email to an address; False beyond its hourly limit."""
    limit = settings().signin_per_address_per_hour
    if not limit:
        return True
    key = f"signin-address:{address}"
    return ratelimit.hit(state().sessions, key, limit, 3600, now()).allowed


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Ask for a sign-in link by email."""
    form = SignInForm()
    if current_organiser() is not None and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    if form.validate_on_submit():
        check_rate("signin-ip", client_address(), settings().signin_per_ip_per_hour, 3600)
        try:
            address = accounts.normalise_email(form.email.data or "")
        except InvalidRecord as exc:
            form.email.errors = [exc.errors[0][1]]
            return render_template("organise/login.html", form=form), 422
        nonce = secrets.token_urlsafe(24)
        session[NONCE_KEY] = nonce
        session["signin_next"] = _safe_next(request.args.get("next"))
        if may_email(address):
            send_link(address, browser_nonce=nonce)
            db().commit()
        return render_template("organise/login_sent.html", address=address)
    status = 400 if request.method == "POST" else 200
    return render_template("organise/login.html", form=form), status


def _start_session(organiser: Organiser) -> Response:
    target = session.get("signin_next") or url_for("organise.home")
    session.clear()  # a fresh session: nothing from before signing in carries over
    session.permanent = True
    session[SESSION_KEY] = {"id": organiser.id, "epoch": organiser.session_epoch}
    return redirect(_safe_next(target))


@bp.get("/login/<secret>")
def signin_link(secret: str) -> Any:
    """Follow a sign-in link: in the browser that asked, sign in; elsewhere, show a button."""
    try:
        token = accounts.pending_signin(db(), secret, now())
    except accounts.BadSignIn as exc:
        return render_template(
            "organise/message.html", title=_("Sign-in link"), message=known(exc)
        ), 400
    if accounts.same_browser(token, session.get(NONCE_KEY)):
        return _redeem(secret)
    return render_template("organise/login_confirm.html", form=ConfirmForm(), email=token.email)


@bp.post("/login/<secret>")
def signin_confirm(secret: str) -> Any:
    """Use a sign-in link (the button of a link followed in another browser)."""
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; follow the link again."))
    return _redeem(secret)


def _redeem(secret: str) -> Any:
    try:
        organiser = accounts.redeem(db(), secret, now(), signup=settings().organiser_signup)
    except accounts.BadSignIn as exc:
        db().rollback()
        return render_template(
            "organise/message.html", title=_("Sign-in link"), message=known(exc)
        ), 400
    organiser.language = current_locale()  # notices to them speak the workspace's language
    db().commit()
    return _start_session(organiser)


@bp.post("/logout")
def logout() -> Response:
    """Sign out of this browser."""
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; try again."))
    session.clear()
    return redirect(url_for("organise.login"))


@bp.post("/logout/everywhere")
def logout_everywhere() -> Response:
    """Sign out of every browser and device."""
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; try again."))
    organiser = current_organiser()
    if organiser is not None:
        accounts.sign_out_everywhere(organiser)
        db().commit()
    session.clear()
    return redirect(url_for("organise.login"))
