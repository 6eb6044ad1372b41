"""Security for every response: headers, CSRF protection of forms, rate limits.

- `init_app(app)` (called by `server.create_app`) sets the security headers on every
  response, checks the CSRF token of every state-changing request, and exposes the Jinja
  global `csrf_token()`.
- Forms: put `<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">` in every
  form (or send the value as an `X-CSRF-Token` header). Requests that carry
  `Authorization: Bearer ...`, views marked `@csrf_exempt` and blueprints passed to
  `exempt_blueprint` are not checked.
- `@rate_limit("subscribe", limit=10, period=3600)` limits a view per client address (or
  per `key=`), counted in the database so every worker shares the counts.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Flask, Response, current_app, request, session
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.exceptions import BadRequest, TooManyRequests

from events import ratelimit
from web.context import now, state

F = TypeVar("F", bound=Callable[..., Any])

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: https:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_SESSION_KEY = "_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_MAX_AGE = 12 * 3600
EXEMPT_BLUEPRINTS = "eventfeed_csrf_exempt_blueprints"


class CSRFError(BadRequest):
    """A state-changing form request without a valid CSRF token."""

    description = (
        "The form has expired or was not sent from this site. Reload the page and try again."
    )


def init_app(app: Flask) -> None:
    """Register the security headers, the CSRF check and the `csrf_token()` Jinja global."""
    app.config.setdefault("CSRF_ENABLED", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.extensions.setdefault(EXEMPT_BLUEPRINTS, set())
    app.after_request(add_security_headers)
    app.before_request(check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token


def add_security_headers(response: Response) -> Response:
    """Set the security headers a view has not set itself."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt="eventfeed-csrf")


def csrf_token() -> str:
    """Return a signed CSRF token for the current session (created on first use)."""
    raw = session.get(CSRF_SESSION_KEY)
    if not isinstance(raw, str):
        raw = secrets.token_hex(32)
        session[CSRF_SESSION_KEY] = raw
    return _serializer().dumps(raw)


def csrf_exempt(view: F) -> F:
    """Mark a view as not needing a CSRF token (e.g. RFC 8058 one-click unsubscribe)."""
    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view


def exempt_blueprint(app: Flask, blueprint: Blueprint) -> None:
    """Exempt a whole blueprint that never authenticates by cookie (the bearer-token API)."""
    app.extensions.setdefault(EXEMPT_BLUEPRINTS, set()).add(blueprint.name)


def _is_exempt() -> bool:
    if not current_app.config.get("CSRF_ENABLED", True):
        return True
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return True
    if request.blueprint in current_app.extensions.get(EXEMPT_BLUEPRINTS, set()):
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "csrf_exempt", False))


def check_csrf() -> None:
    """Refuse a state-changing request whose CSRF token is missing or wrong (400)."""
    if request.method not in UNSAFE_METHODS or request.endpoint is None or _is_exempt():
        return
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    expected = session.get(CSRF_SESSION_KEY)
    if not sent or not isinstance(expected, str):
        raise CSRFError()
    try:
        raw = _serializer().loads(sent, max_age=CSRF_MAX_AGE)
    except BadData:
        raise CSRFError() from None
    if not isinstance(raw, str) or not hmac.compare_digest(raw, expected):
        raise CSRFError()


def client_address() -> str:
    """Return the client's address (behind a proxy, configure werkzeug's ProxyFix)."""
    return request.remote_addr or "unknown"


def check_rate(scope: str, key: str, limit: int, period: int) -> None:
    """Count one hit of `scope`/`key`; raise 429 Too Many Requests beyond `limit` per period."""
    if limit <= 0:
        return
    decision = ratelimit.hit(state().sessions, f"{scope}:{key}", limit, period, now())
    if not decision.allowed:
        raise TooManyRequests(
            f"too many requests: at most {limit} per {period} s; retry in {decision.retry_after} s",
            retry_after=decision.retry_after,
        )


def rate_limit(
    scope: str,
    limit: int | Callable[[], int],
    period: int,
    key: Callable[[], str] = client_address,
) -> Callable[[F], F]:
    """Decorate a view: at most `limit` requests per `period` seconds per key (default: IP)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            check_rate(scope, key(), limit() if callable(limit) else limit, period)
            return view(*args, **kwargs)

        return cast(F, limited)

    return decorate
