"""Liveness and readiness probe."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import text

from web.context import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    """Answer 200 when the database answers."""
    db().execute(text("SELECT 1"))
    return {"status": "ok"}, 200
