"""Helpers for API tests: issue tokens on the test database, build request headers."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from events import tokens
from events.clock import SYSTEM_CLOCK


def issue_token(
    sessions: sessionmaker[Session],
    *series: str,
    admin: bool = False,
    label: str = "",
    read_only: bool = False,
) -> str:
    """Create a token through the same code as `eventfeed token create`; return its secret."""
    with sessions() as session, session.begin():
        _, secret = tokens.create_token(
            session,
            SYSTEM_CLOCK.now(),
            series=list(series),
            admin=admin,
            label=label,
            read_only=read_only,
        )
    return secret


def bearer(secret: str, **extra: str) -> dict[str, str]:
    """Return request headers carrying the token (plus extra headers, '_' read as '-')."""
    headers = {"Authorization": f"Bearer {secret}"}
    headers.update({k.replace("_", "-"): v for k, v in extra.items()})
    return headers
