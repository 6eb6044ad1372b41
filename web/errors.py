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
    if request.blueprint == "subscriptions":
        page = render_template(
            "subscriptions/message.html", title=exc.name, message=exc.description or ""
        )
        return page, exc.code or 500
    return exc


def api_error(exc: HTTPException) -> Response:
    """Return an HTTP error as the API's JSON answer."""
    headers = {k: v for k, v in exc.get_headers() if k.lower() in KEPT_HEADERS}
    field = {413: "body", 405: "method", 404: "path"}.get(exc.code or 500, "request")
    message = exc.description or exc.name
    if exc.code == 413:
        message = f"request body is above the {settings().max_body_bytes:,}-byte limit"
    return json_errors(exc.code or 500, [(field, str(message))], headers)
