"""The organiser workspace's rules: accounts, sign-in links, roles, drafts and safe edits.

- Sign-in is passwordless: `create_signin` makes a one-time link (a random secret; the
  database keeps its SHA-256 hash) valid for `SIGNIN_LIFETIME`, optionally bound to a nonce
  kept in the asking browser's session; `redeem` uses it once. Whether an address has an
  account never changes the answer a visitor sees (the web layer says the same thing).
- Roles per series: an owner changes everything (settings, people, talks), an editor changes
  talks. Site admins act as owners of every series. A series always keeps one owner.
- Talks are written through the same path as the API and importer: input mappings checked
  by `events.schemas.validate_event`, stored by `events.store.upsert_event` (signals,
  SEQUENCE, feed stamps). Drafts are kept apart (`TalkDraft`), so no public read sees them.
- Stale edits: a save names the version it started from (`talk_version`); the row is read
  with `SELECT ... FOR UPDATE`, and a save over a newer version raises `StaleEdit` with who
  saved it and when, instead of overwriting.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from events import importer, schedules, store, times
from events.errors import EventFeedError, InvalidRecord, NotFound, TimeError
from events.models import (
    Event,
    Organiser,
    Outbox,
    Schedule,
    Series,
    SeriesRole,
    SignInToken,
    TalkDraft,
    TalkEdit,
)
from events.schemas import EventRecord, SeriesRecord, validate_event
from events.versions import event_etag

SIGNIN_LIFETIME = timedelta(minutes=15)
OWNER, EDITOR, ADMIN = "owner", "editor", "admin"


class BadSignIn(EventFeedError):
    """A sign-in link that is unknown, used, expired or refused."""


class AccessDenied(EventFeedError):
    """An organiser acting on a series they do not organise (or without the role)."""


class LastOwner(EventFeedError):
    """Removing or demoting the last owner of a series."""


@dataclass(frozen=True)
class StaleEdit(EventFeedError):
    """A save over a newer version: who saved that version, when, and what it holds."""

    current: dict[str, Any]
    version: str
    saved_by: str
    saved_at: datetime

    def __str__(self) -> str:
        return f"this talk was changed by {self.saved_by} at {self.saved_at:%Y-%m-%d %H:%M} UTC"


def normalise_email(value: str) -> str:
    """Return the address normalised by email-validator; raise InvalidRecord on 'email'."""
    try:
        found = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidRecord("", [("email", f"not an email address ({exc})")]) from None
    return str(found.normalized)


def hash_secret(secret: str) -> str:
    """Return the SHA-256 hex digest kept for a secret."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def by_email(session: Session, email: str) -> Organiser | None:
    """Return the organiser with this (normalised) address."""
    return session.scalar(select(Organiser).where(Organiser.email == email))


def add_organiser(
    session: Session, email: str, now: datetime, *, admin: bool = False, name: str = ""
) -> Organiser:
    """Return the organiser with this address, created when new; `admin` makes them admin."""
    address = normalise_email(email)
    found = by_email(session, address)
    if found is None:
        found = Organiser(email=address, name=name, admin=admin, session_epoch=0, created_at=now)
        session.add(found)
        session.flush()
    elif admin:
        found.admin = True
    return found


# -- sign-in links ----------------------------------------------------------------------------


def create_signin(
    session: Session, email: str, now: datetime, *, browser_nonce: str | None, signup: str
) -> tuple[int, str] | None:
    """Return (link id, secret) of a new one-time sign-in link, or None when not allowed.

    With `signup` "invite" only existing organisers get a link. Older unused links of the
    address stay valid until they expire (the newest email is not always the one opened).
    """
    address = normalise_email(email)
    if signup != "open" and by_email(session, address) is None:
        return None
    secret = secrets.token_urlsafe(32)
    token = SignInToken(
        token_hash=hash_secret(secret),
        email=address,
        browser_hash=hash_secret(browser_nonce) if browser_nonce else None,
        created_at=now,
        expires_at=now + SIGNIN_LIFETIME,
    )
    session.add(token)
    session.flush()
    return token.id, secret


def pending_signin(session: Session, secret: str, now: datetime) -> SignInToken:
    """Return the unused, unexpired link of this secret (changing nothing); raise BadSignIn."""
    token = session.scalar(select(SignInToken).where(SignInToken.token_hash == hash_secret(secret)))
    if token is None or token.used_at is not None:
        raise BadSignIn("this sign-in link is unknown or was already used; ask for a new one")
    if token.expires_at <= now:
        raise BadSignIn("this sign-in link expired (links last 15 minutes); ask for a new one")
    return token


def same_browser(token: SignInToken, browser_nonce: str | None) -> bool:
    """Return whether the link was asked for by this browser (its session holds the nonce)."""
    return bool(
        token.browser_hash and browser_nonce and token.browser_hash == hash_secret(browser_nonce)
    )


def redeem(session: Session, secret: str, now: datetime, *, signup: str) -> Organiser:
    """Use a sign-in link once and return its organiser (created on first sign-in)."""
    token = pending_signin(session, secret, now)
    locked = session.get(SignInToken, token.id, with_for_update=True, populate_existing=True)
    if locked is None or locked.used_at is not None:
        raise BadSignIn("this sign-in link was already used; ask for a new one")
    locked.used_at = now
    organiser = by_email(session, locked.email)
    if organiser is None:
        if signup != "open":
            raise BadSignIn("this site is invite-only; ask an organiser to invite you")
        organiser = add_organiser(session, locked.email, now)
    organiser.last_signin_at = now
    return organiser


def sign_out_everywhere(organiser: Organiser) -> None:
    """End every session of this organiser (sessions remember the epoch they began in)."""
    organiser.session_epoch += 1


# -- roles ------------------------------------------------------------------------------------


def role_in(session: Session, organiser: Organiser, series: Series) -> str | None:
    """Return 'owner', 'editor', 'admin' (site admin, no own role) or None."""
    role = session.scalar(
        select(SeriesRole.role).where(
            SeriesRole.series_id == series.id, SeriesRole.organiser_id == organiser.id
        )
    )
    if role is None and organiser.admin:
        return ADMIN
    return role


def require(session: Session, organiser: Organiser, series: Series, *, owner: bool) -> str:
    """Return the organiser's role in the series; raise AccessDenied when it is not enough."""
    role = role_in(session, organiser, series)
    if role is None or (owner and role == EDITOR):
        raise AccessDenied("you do not organise this series" if role is None else "owners only")
    return role


def series_of(session: Session, organiser: Organiser) -> list[tuple[Series, str]]:
    """Return the series this organiser reaches with the role in each (admins: every one)."""
    own = dict(
        session.execute(
            select(SeriesRole.series_id, SeriesRole.role).where(
                SeriesRole.organiser_id == organiser.id
            )
        ).all()
    )
    query = select(Series).order_by(Series.name, Series.id)
    if not organiser.admin:
        query = query.where(Series.id.in_(list(own)))
    return [(s, own.get(s.id, ADMIN)) for s in session.scalars(query)]


def members(session: Session, series: Series) -> list[tuple[Organiser, str]]:
    """Return the organisers of a series with their roles, owners first."""
    rows = session.execute(
        select(Organiser, SeriesRole.role)
        .join(SeriesRole, SeriesRole.organiser_id == Organiser.id)
        .where(SeriesRole.series_id == series.id)
        .order_by(SeriesRole.role.desc(), Organiser.email)
    ).all()
    return [(o, r) for o, r in rows]


def _owners(session: Session, series: Series) -> int:
    return int(
        session.scalar(
            select(func.count()).where(SeriesRole.series_id == series.id, SeriesRole.role == OWNER)
        )
        or 0
    )


def set_role(session: Session, series: Series, email: str, role: str, now: datetime) -> Organiser:
    """Give an address a role in the series (inviting creates the account); keep one owner."""
    if role not in (OWNER, EDITOR):
        raise InvalidRecord("", [("role", "must be owner or editor")])
    organiser = add_organiser(session, email, now)
    found = session.get(SeriesRole, (series.id, organiser.id), with_for_update=True)
    if found is None:
        session.add(
            SeriesRole(series_id=series.id, organiser_id=organiser.id, role=role, created_at=now)
        )
    elif found.role != role:
        if found.role == OWNER and _owners(session, series) <= 1:
            raise LastOwner("a series keeps at least one owner; make someone else owner first")
        found.role = role
    session.flush()
    return organiser


def remove_member(session: Session, series: Series, organiser_id: int) -> None:
    """Remove an organiser from a series; the last owner cannot leave or be removed."""
    # Lock the series' role rows so two owners cannot remove each other at once.
    rows = session.scalars(
        select(SeriesRole).where(SeriesRole.series_id == series.id).with_for_update()
    ).all()
    found = next((r for r in rows if r.organiser_id == organiser_id), None)
    if found is None:
        raise NotFound("no such organiser in this series")
    if found.role == OWNER and sum(r.role == OWNER for r in rows) <= 1:
        raise LastOwner("a series keeps at least one owner; make someone else owner first")
    session.delete(found)
    session.flush()


def create_series(
    session: Session, organiser: Organiser, record: SeriesRecord, now: datetime
) -> Series:
    """Create a series with the organiser as its owner; a taken slug is a field error."""
    if session.scalar(select(Series.id).where(Series.slug == record.slug)) is not None:
        raise InvalidRecord("", [("slug", f"{record.slug!r} is taken; choose another")])
    series, _ = store.upsert_series(session, record, now)
    session.add(
        SeriesRole(series_id=series.id, organiser_id=organiser.id, role=OWNER, created_at=now)
    )
    session.flush()
    return series


def update_series(session: Session, series: Series, record: SeriesRecord, now: datetime) -> Series:
    """Save a series' settings; its slug may change only until its first talk is published
    (from then on page and feed addresses, and subscribers' calendars, depend on it)."""
    if record.slug != series.slug:
        if has_published_talks(session, series):
            raise InvalidRecord(
                "", [("slug", "fixed once a talk is published: page and feed addresses use it")]
            )
        if session.scalar(select(Series.id).where(Series.slug == record.slug)) is not None:
            raise InvalidRecord("", [("slug", f"{record.slug!r} is taken; choose another")])
        series.slug = record.slug
        session.flush()
    stored, _ = store.upsert_series(session, record, now)
    return stored


def has_published_talks(session: Session, series: Series) -> bool:
    """Return whether the series has a published talk (drafts do not count)."""
    found = session.scalar(select(Event.id).where(Event.series_id == series.id).limit(1))
    return found is not None


# -- talks ------------------------------------------------------------------------------------


def new_talk_id(series: Series, day: str) -> str:
    """Return a fresh talk id: the series slug, the day and a random suffix."""
    compact = re.sub(r"[^0-9]", "", day)[:8]
    return f"{series.slug[:80]}-{compact}-{secrets.token_hex(3)}"


def draft_version(draft: TalkDraft) -> str:
    """Return the version of a draft (raised on every save)."""
    return f'"d{draft.revision}"'


def talk_version(talk: Event | TalkDraft) -> str:
    """Return the version a form carries: the API's ETag of a talk, a draft's revision."""
    return draft_version(talk) if isinstance(talk, TalkDraft) else event_etag(talk)


def drafts_of(session: Session, series: Series) -> list[TalkDraft]:
    """Return the drafts of a series, soonest first."""
    return list(
        session.scalars(
            select(TalkDraft)
            .where(TalkDraft.series_id == series.id)
            .order_by(TalkDraft.start_utc, TalkDraft.id)
        )
    )


def find_talk(session: Session, talk_id: str, *, lock: bool = False) -> Event | TalkDraft:
    """Return the published talk or the draft with this id (locked for update); NotFound."""
    found: Event | TalkDraft | None = session.get(
        Event, talk_id, with_for_update=lock, populate_existing=lock
    )
    if found is None:
        found = session.get(TalkDraft, talk_id, with_for_update=lock, populate_existing=lock)
    if found is None:
        raise NotFound(f"no talk with id {talk_id!r}")
    return found


def _saved_by(session: Session, talk: Event | TalkDraft) -> tuple[str, datetime]:
    if isinstance(talk, TalkDraft):
        return talk.updated_by or "someone", talk.updated_at
    edit = session.get(TalkEdit, talk.id)
    if edit is not None and edit.saved_at == talk.updated_at:
        return edit.organiser_email, talk.updated_at
    return "someone through the API or an import", talk.updated_at


def _check_version(session: Session, talk: Event | TalkDraft, expected: str | None) -> None:
    current = talk_version(talk)
    if expected is not None and expected != current:
        who, when = _saved_by(session, talk)
        data = talk.data if isinstance(talk, TalkDraft) else importer.event_input(talk)
        raise StaleEdit(dict(data), current, who, when)


def _record_edit(session: Session, event: Event, organiser: Organiser) -> None:
    edit = session.get(TalkEdit, event.id)
    if edit is None:
        session.add(
            TalkEdit(event_id=event.id, organiser_email=organiser.email, saved_at=event.updated_at)
        )
    else:
        edit.organiser_email, edit.saved_at = organiser.email, event.updated_at


def save_draft(
    session: Session,
    series: Series,
    data: dict[str, Any],
    organiser: Organiser,
    now: datetime,
    *,
    expected: str | None = None,
) -> TalkDraft:
    """Validate and keep a draft (new, or saved over `expected`, its version in the form)."""
    record = validate_event(data, store.series_record(series))
    draft = session.get(TalkDraft, record.id, with_for_update=True, populate_existing=True)
    if draft is None:
        if session.get(Event, record.id) is not None:
            raise InvalidRecord("", [("id", "a published talk has this id")])
        draft = TalkDraft(id=record.id, series_id=series.id, revision=0, created_at=now)
        session.add(draft)
    else:
        if draft.series_id != series.id:
            raise NotFound(f"no talk with id {record.id!r} in this series")
        _check_version(session, draft, expected)
        draft.revision += 1
    draft.data = dict(data)
    draft.start_utc = record.start_utc
    draft.updated_by = organiser.email
    draft.updated_at = now
    session.flush()
    return draft


def save_talk(
    session: Session,
    series: Series,
    data: dict[str, Any],
    organiser: Organiser,
    now: datetime,
    *,
    expected: str | None,
) -> tuple[Event, store.Outcome]:
    """Validate and store a published talk over the version `expected` (None: a new one)."""
    record = validate_event(data, store.series_record(series))
    current = session.get(Event, record.id, with_for_update=True, populate_existing=True)
    if current is not None:
        if current.series_id != series.id:
            raise NotFound(f"no talk with id {record.id!r} in this series")
        _check_version(session, current, expected)
    return _store(session, series, record, organiser, now)


def _store(
    session: Session, series: Series, record: EventRecord, organiser: Organiser, now: datetime
) -> tuple[Event, store.Outcome]:
    event, outcome = store.upsert_event(session, series, record, now)
    session.flush()
    if outcome.action != "unchanged":
        _record_edit(session, event, organiser)
    return event, outcome


def publish(
    session: Session,
    series: Series,
    draft_id: str,
    organiser: Organiser,
    now: datetime,
    *,
    expected: str | None = None,
) -> Event:
    """Publish a draft: store it as a talk (announcements and feeds follow), drop the draft."""
    draft = session.get(TalkDraft, draft_id, with_for_update=True, populate_existing=True)
    if draft is None or draft.series_id != series.id:
        raise NotFound(f"no draft with id {draft_id!r}")
    _check_version(session, draft, expected)
    record = validate_event(draft.data, store.series_record(series))
    session.delete(draft)
    session.flush()
    event, _ = _store(session, series, record, organiser, now)
    return event


def cancel(
    session: Session,
    event: Event,
    reason: str,
    organiser: Organiser,
    now: datetime,
    *,
    expected: str | None = None,
) -> Event:
    """Cancel a published talk: it stays in feeds as cancelled; the reason leads the abstract."""
    locked = session.get(Event, event.id, with_for_update=True, populate_existing=True)
    assert locked is not None
    _check_version(session, locked, expected)
    data = importer.event_input(locked)
    data["status"] = "cancelled"
    reason = " ".join(reason.split())
    if reason:
        data["abstract"] = f"**Cancelled:** {reason}\n\n{data['abstract']}".strip()
    record = validate_event(data, store.series_record(locked.series))
    stored, _ = _store(session, locked.series, record, organiser, now)
    return stored


def was_announced(session: Session, event: Event) -> bool:
    """Return whether any email about this talk was queued (announcement, change, ...)."""
    return session.scalar(select(Outbox.id).where(Outbox.event_id == event.id).limit(1)) is not None


def delete_talk(session: Session, talk: Event | TalkDraft) -> None:
    """Delete a draft, or a published talk no email ever mentioned (else: cancel it)."""
    if isinstance(talk, Event) and was_announced(session, talk):
        raise InvalidRecord(
            "", [("talk", "this talk was announced by email; cancel it instead of deleting it")]
        )
    session.delete(talk)
    session.flush()


def _length(talk: Event | TalkDraft, zone: str) -> timedelta:
    """Return how long a talk or a draft lasts."""
    if isinstance(talk, Event):
        return talk.end_utc - talk.start_utc
    start = times.parse_local_time(str(talk.data["start"]))
    end = times.parse_clock_time(str(talk.data["end"]), start)
    return times.to_instant(end, zone) - times.to_instant(start, zone)


@dataclass(frozen=True)
class NextSession:
    """Where "same slot, next session" puts a copy: its start, and the block holding it."""

    start_utc: datetime
    parent_id: str | None = None


def next_session(
    session: Session, series: Series, talk: Event | TalkDraft, now: datetime
) -> NextSession | None:
    """Return the next session after a talk's: the next block of its kind when the talk is
    in a session (same offset into the block), else the series schedule's next occurrence
    that is not skipped (same local time in the series' zone); None when there is neither.
    """
    data = talk.data if isinstance(talk, TalkDraft) else {"parent": talk.parent_id}
    parent_id = data.get("parent")
    block = session.get(Event, parent_id) if parent_id else None
    if block is not None:
        following = session.scalar(
            select(Event)
            .where(
                Event.series_id == series.id,
                Event.kind == block.kind,
                Event.start_utc > block.start_utc,
                Event.status != "cancelled",
            )
            .order_by(Event.start_utc, Event.id)
            .limit(1)
        )
        if following is not None:
            offset = talk.start_utc - block.start_utc
            return NextSession(following.start_utc + offset, following.id)
    schedule = session.get(Schedule, series.id)
    if schedule is None:
        return None
    zone = series.timezone
    talk_day = times.local_date(talk.start_utc, zone)
    try:
        found = schedules.occurrences(schedule, zone, today=now.date())
    except InvalidRecord:
        return None
    later = [o for o in found if o.skipped is None and date.fromisoformat(o.key) > talk_day]
    if not later:
        return None
    # The talk's wall time, moved by as much as the next occurrence is (a moved date).
    wall = times.local(talk.start_utc, zone)
    slot_start = time.fromisoformat(schedule.start_time)
    nxt = times.local(later[0].start_utc, zone)
    shift = datetime.combine(nxt.date(), nxt.time()) - datetime.combine(nxt.date(), slot_start)  # noqa: DTZ001  (wall time)
    target = datetime.combine(nxt.date(), wall.time()) + shift  # noqa: DTZ001  (wall time)
    local = times.LocalTime(target.year, target.month, target.day, target.hour, target.minute)
    try:
        return NextSession(times.to_instant(local, zone))
    except TimeError:  # that wall time does not exist on that day (a DST gap)
        return None


def duplicate(
    session: Session,
    series: Series,
    talk: Event | TalkDraft,
    organiser: Organiser,
    now: datetime,
    *,
    days: int = 7,
    to: NextSession | None = None,
) -> TalkDraft:
    """Return a new draft of the same talk in the same slot `days` later (same wall times),
    or at `to` (the next session: same length, in its block)."""
    data = dict(talk.data) if isinstance(talk, TalkDraft) else importer.event_input(talk)
    zone = data.get("timezone") or series.timezone
    if to is not None:
        length = _length(talk, zone)
        data["start"] = times.wall_time_text(to.start_utc, zone)
        data["end"] = times.wall_time_text(to.start_utc + length, zone)
        data["timezone"], data["status"] = zone, "confirmed"
        data["parent"] = to.parent_id
        data["id"] = new_talk_id(series, data["start"])
        return save_draft(session, series, data, organiser, now)
    start = times.parse_local_time(str(data["start"]))
    end = times.parse_clock_time(str(data["end"]), start)
    shift = timedelta(days=days)

    def moved(local: times.LocalTime) -> str:
        day = date(local.year, local.month, local.day) + shift
        return f"{day:%Y-%m-%d} {local.hour:02d}:{local.minute:02d}"

    data["start"], data["end"], data["timezone"] = moved(start), moved(end), zone
    data["status"] = "confirmed"
    data.pop("parent", None)  # a week later is outside the session's block
    data["id"] = new_talk_id(series, data["start"])
    return save_draft(session, series, data, organiser, now)
