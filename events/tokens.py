"""Bearer tokens of API editors: created once, stored only as SHA-256 hashes, revocable.

A token is shown once at creation (`eft_` + 43 random URL-safe characters). The database
keeps its SHA-256 hash and a short prefix (the first 12 characters) to name it in lists
and to revoke it. A token is either an admin token (every series) or an editor token for
a list of series slugs; either may be read-only (it reads what its scope allows, including
unlisted series and hidden meeting details, and every write answers 403).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from events.errors import EventFeedError, NotFound
from events.models import TOKEN_PREFIX_LENGTH as PREFIX_LENGTH
from events.models import ApiToken
from events.schemas import SLUG_PATTERN

TOKEN_PREFIX = "eft_"


class TokenError(EventFeedError):
    """A token command was given bad arguments."""


@dataclass(frozen=True)
class Editor:
    """Who an authenticated request acts for."""

    token_id: int
    prefix: str
    admin: bool
    series: frozenset[str]
    read_only: bool = False

    def may_read(self, slug: str) -> bool:
        """Return True when this token's scope covers the series `slug`."""
        return self.admin or slug in self.series

    def may_edit(self, slug: str) -> bool:
        """Return True when this editor may change the series `slug`."""
        return not self.read_only and self.may_read(slug)


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest stored for a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(
    session: Session,
    now: datetime,
    *,
    series: list[str],
    admin: bool = False,
    label: str = "",
    organiser_id: int | None = None,
    read_only: bool = False,
) -> tuple[ApiToken, str]:
    """Store a new token and return it with its secret text (shown once, never stored)."""
    if admin and series:
        raise TokenError("give either --admin or --series, not both")
    if not admin and not series:
        raise TokenError("give --series SLUG (repeatable) or --admin")
    for slug in series:
        if not re.fullmatch(SLUG_PATTERN, slug):
            raise TokenError(f"{slug!r} is not a series slug ([a-z0-9-])")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        prefix=secret[:PREFIX_LENGTH],
        token_hash=hash_token(secret),
        label=" ".join(label.split())[:200],
        admin=admin,
        series=sorted(set(series)),
        created_at=now,
        organiser_id=organiser_id,
        read_only=read_only,
    )
    session.add(token)
    session.flush()
    return token, secret


def find_token(session: Session, ident: str) -> ApiToken:
    """Return the one token whose id or prefix (or full text) is `ident`; raise NotFound."""
    text = ident.strip()
    if text.isdigit():
        found = session.get(ApiToken, int(text))
        if found is not None:
            return found
    if text.startswith(TOKEN_PREFIX) and len(text) > PREFIX_LENGTH:
        match = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(text)))
        if match is not None:
            return match
    if len(text) < 6:
        raise NotFound(f"no token with id {text!r} (give the id or at least 6 prefix characters)")
    candidates = [
        t
        for t in session.scalars(select(ApiToken).order_by(ApiToken.id))
        if t.prefix.startswith(text)
    ]
    if not candidates:
        raise NotFound(f"no token with id or prefix {text!r}")
    if len(candidates) > 1:
        ids = ", ".join(str(t.id) for t in candidates)
        raise TokenError(f"prefix {text!r} matches several tokens (ids {ids}); give the id")
    return candidates[0]


def revoke_token(session: Session, ident: str, now: datetime) -> ApiToken:
    """Revoke a token by id or prefix; revoking twice is harmless."""
    token = find_token(session, ident)
    if token.revoked_at is None:
        token.revoked_at = now
    return token


def list_tokens(session: Session, organiser_id: int | None = None) -> list[ApiToken]:
    """Return every token (or those an organiser made in the workspace), oldest first."""
    query = select(ApiToken).order_by(ApiToken.id)
    if organiser_id is not None:
        query = query.where(ApiToken.organiser_id == organiser_id)
    return list(session.scalars(query))


def authenticate(session: Session, secret: str, now: datetime) -> Editor | None:
    """Return the editor of a live token, or None for an unknown or revoked one."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        return None
    last = token.last_used_at
    if last is None or (now - last).total_seconds() > 60:
        token.last_used_at = now
    return Editor(token.id, token.prefix, token.admin, frozenset(token.series), token.read_only)
