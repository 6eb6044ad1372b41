"""Security for every response: headers, CSRF protection of forms (Flask-WTF), rate limits.

- `init_app(app)` (called by `server.create_app`) sets the security headers on every
  response and protects every state-changing request with Flask-WTF's `CSRFProtect`
  (the Jinja global `csrf_token()` comes with it).
- Forms: put `<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">` in every
  form (or send the value as an `X-CSRFToken` header). Views marked `@csrf_exempt` are not
  checked; an `Authorization: Bearer` header exempts nothing. The API blueprint checks
  CSRF itself (`web.api.base`): it skips the check only when a bearer token authenticates
  the request.
- CORS: public feeds (the `feeds` blueprint: series, site and single-talk calendars and
  reader feeds) and the API's GETs answered without a token carry
  `Access-Control-Allow-Origin: *`, so other sites can build their own views. Never
  personal (token) feeds, pages, writes, or an answer to a request with credentials
  (`Authorization`); preflights are not answered, so no other site can send a token or write.
- `@rate_limit("subscribe", limit=10, period=3600)` limits a view per client address (or
  per `key=`), counted in the database so every worker shares the counts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, Response, g, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import TooManyRequests

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
CSRF_MAX_AGE = 12 * 3600

csrf = CSRFProtect()


CORS_BLUEPRINTS = frozenset({"feeds", "api"})
CORS_EXPOSED = "ETag, Last-Modified"


def init_app(app: Flask) -> None:
    """Register the security headers and CSRF protection (tokens valid 12 hours)."""
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", CSRF_MAX_AGE)
    app.after_request(add_security_headers)
    app.after_request(add_cors)
    csrf.init_app(app)


def add_security_headers(response: Response) -> Response:
    """Set the security headers a view has not set itself (a frameable view: no DENY)."""
    for name, value in SECURITY_HEADERS.items():
        if name == "X-Frame-Options" and g.get("frameable"):
            continue
        response.headers.setdefault(name, value)
    return response


def frameable_policy(ancestors: str = "*") -> str:
    """Return the site's CSP with `frame-ancestors` opened to `ancestors` (embeds only)."""
    return CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")


def add_cors(response: Response) -> Response:
    """Let any site read public feeds and the API's anonymous GETs (see the module notes)."""
    if (
        request.method in ("GET", "HEAD")
        and request.blueprint in CORS_BLUEPRINTS
        and "Authorization" not in request.headers
    ):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
    return response


def csrf_exempt(view: F) -> F:
    """Mark a view as not needing a CSRF token (e.g. RFC 8058 one-click unsubscribe)."""
    csrf.exempt(view)
    return view


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
