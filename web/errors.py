"""Every error answer of the site, decided in one place by what the path serves.

- `/api/...`: JSON `{"errors": [{"field": ..., "message": ...}]}`, keeping `Allow`,
  `Retry-After` (429) and `WWW-Authenticate` (401).
- Feed-like paths (`.ics`, `.rss`, `.atom`, `.json`, ...): the plain HTTP error.
- Pages: a friendly HTML page with the site's layout (404: "not found" with the site's
  subscribe box; errors on subscription pages: a message page).
"""

from __future__ import annotations

import json

from flask import Flask, Response, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, NotFound

from web.context import settings

MACHINE_SUFFIXES = (".ics", ".rss", ".atom", ".json", ".xml", ".txt")
KEPT_HEADERS = ("allow", "retry-after", "www-authenticate")


def register(app: Flask) -> None:
    """Answer every HTTP error through `handle`."""
    app.register_error_handler(HTTPException, handle)


def json_errors(
    status: int, errors: list[tuple[str, str]], headers: dict[str, str] | None = None
) -> Response:
    """Return the API's JSON error answer."""
    body = {"errors": [{"field": f, "message": m} for f, m in errors]}
    response = Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle(exc: HTTPException) -> Response | HTTPException | tuple[str, int]:
    """Answer an HTTP error in the form its path calls for."""
    path = request.path
    if path.startswith("/api/"):
        return api_error(exc)
    if path.endswith(MACHINE_SUFFIXES):
        return exc
    if exc.code == 404:
        from web import pages

        message = exc.description if exc.description != NotFound.description else None
        return pages.not_found_page(message)
    if exc.code is None or exc.code < 400:
        return exc
    return error_page(exc)


# Werkzeug's names and generic descriptions are English: pages show these instead.
TITLES = {
    400: _l("Bad request"),
    401: _l("Not signed in"),
    403: _l("Not allowed"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    410: _l("Gone"),
    413: _l("Too large"),
    422: _l("Cannot be processed"),
    429: _l("Too many requests"),
    500: _l("Something went wrong"),
    503: _l("Unavailable for a moment"),
}
GENERIC = {
    400: _l("The request could not be understood. Go back, reload the page and try again."),
    403: _l("You may not do this here."),
    405: _l("This address does not take that kind of request."),
    413: _l("What was sent is too large."),
    429: _l("Too many requests in a short time: wait a little, then try again."),
    500: _l("The error is logged. Try again in a moment."),
    503: _l("The service is busy or being updated. Try again in a moment."),
}


def error_page(exc: HTTPException) -> Response:
    """Return a page's HTTP error with the site's layout, in the page's language.

    Keeps `Allow`, `Retry-After` and `WWW-Authenticate`; a description our code gave (already
    in the page's language) is shown, werkzeug's generic English one is replaced.
    """
    code = exc.code or 500
    title = str(TITLES.get(code, exc.name))
    description = exc.description or ""
    if description == type(exc).description or not description:
        description = str(GENERIC.get(code, ""))
    template = (
        "subscriptions/message.html" if request.blueprint == "subscriptions" else "error.html"
    )
    body = render_template(template, title=title, message=description)
    response = Response(body, code, mimetype="text/html")
    for name, value in exc.get_headers():
        if name.lower() in KEPT_HEADERS:
            response.headers[name] = value
    return response


def api_error(exc: HTTPException) -> Response:
    """Return an HTTP error as the API's JSON answer."""
    headers = {k: v for k, v in exc.get_headers() if k.lower() in KEPT_HEADERS}
    field = {413: "body", 405: "method", 404: "path"}.get(exc.code or 500, "request")
    message = exc.description or exc.name
    if exc.code == 413:
        message = f"request body is above the {settings().max_body_bytes:,}-byte limit"
    return json_errors(exc.code or 500, [(field, str(message))], headers)
