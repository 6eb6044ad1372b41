"""The editor API under /api/v1: series and talks as JSON, bearer-token writes, OpenAPI 3.1.

Every write goes through the same validation path as imports (`events.schemas`) and the
same store (`events.store`), so SEQUENCE rules hold whatever door a change comes in by.
Every error answer is JSON: `{"errors": [{"field": ..., "message": ...}]}` (`web.errors`),
a 429 with `Retry-After`. Every route is an `operation`, so it is listed in the OpenAPI
document at /api/v1/openapi.json.

Modules: `base` (blueprint, auth, input, answers), `schema` (answer models, OpenAPI), and
the routes: `series`, `talks`, `imports`, `subscriptions`, `search`, `mirror`.
"""

from __future__ import annotations

import json

from flask import Flask, Response

from web.api import imports, mirror, search, series, subscriptions, talks  # noqa: F401  (register the routes)
from web.api.base import OPERATIONS, PREFIX, bp
from web.api.schema import openapi_document
from web.context import settings
from web.security import csrf


def register(app: Flask) -> None:
    """Register the API blueprint; it checks CSRF itself (`base`), not the app-wide check."""
    csrf.exempt(bp)
    app.register_blueprint(bp)


# --- OpenAPI ---------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Response:
    """Serve the OpenAPI 3.1 document of this API."""
    document = openapi_document(OPERATIONS, settings().base_url.rstrip("/") + PREFIX)
    document["paths"]["/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {}}}}
            },
        }
    }
    return Response(json.dumps(document), mimetype="application/json")
