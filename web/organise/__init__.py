"""The organiser workspace: sign in with an emailed link, then create and edit series and talks.

`bp` carries every route (`web.organise.signin`: sign-in and sign-out; `web.organise.routes`:
the workspace). Rules live in `events.accounts`; forms in `web.organise.forms`.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("organise", __name__)

from web.organise import (  # noqa: E402  (routes register on bp)
    announce,
    audience,
    history,
    imports,
    mirror,
    routes,
    signin,
    speakers,
    tokens,
)

__all__ = [
    "announce",
    "audience",
    "bp",
    "history",
    "imports",
    "mirror",
    "routes",
    "signin",
    "speakers",
    "tokens",
]
