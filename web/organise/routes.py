"""The workspace: your series, their settings and people, talks and drafts.

Who reaches what (`events.accounts.require`): a series' owners and editors reach its
workspace pages and talks; only owners (and site admins) change its settings and people.
Anyone else gets 404, as if the series were not there.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, get_flashed_messages, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from events import accounts, importer, listings, times
from events.errors import InvalidRecord, NotFound
from events.models import Event, Organiser, Series, Subscription, TalkDraft
from events.schemas import validate_series
from web.context import db, now
from web.messages import known
from web.organise import bp
from web.organise.forms import (
    SERIES_FIELDS,
    TALK_FIELDS,
    CancelForm,
    ConfirmForm,
    InviteForm,
    SeriesForm,
    TalkForm,
    apply_errors,
    compare,
    defaults_for,
    fill_series,
    fill_talk,
    instant_text,
    series_data,
    talk_data,
    talk_title,
    utc_text,
    when_text,
)
from web.organise.signin import current_organiser, may_email, send_link, signed_in
from web.pages import embed_snippet, rich_text

PREVIEW_LIMIT = 100_000
bp.add_app_template_global(utc_text, "utc_text")


def me() -> Organiser:
    """Return the signed-in organiser (views are @signed_in)."""
    found = current_organiser()
    assert found is not None
    return found


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """Render a workspace page (zone choices for the pickers, the organiser, notices)."""
    body = render_template(
        template,
        organiser=current_organiser(),
        zone_choices=times.zone_choices(),
        notices=get_flashed_messages(),
        confirm_form=ConfirmForm(),
        **context,
    )
    return body, status


def _series(slug: str, *, owner: bool = False) -> tuple[Series, str]:
    series = db().scalar(select(Series).where(Series.slug == slug))
    if series is None:
        abort(404, _("No such series in your workspace."))
    try:
        return series, accounts.require(db(), me(), series, owner=owner)
    except accounts.AccessDenied:
        if accounts.role_in(db(), me(), series) is None:
            abort(404, _("No such series in your workspace."))
        abort(403, _("Only the series' owners may do this."))


def _talk(talk_id: str, *, lock: bool = False) -> tuple[Event | TalkDraft, Series, str]:
    try:
        talk = accounts.find_talk(db(), talk_id, lock=lock)
    except NotFound:
        abort(404, _("No such talk in your workspace."))
    series = db().get(Series, talk.series_id)
    assert series is not None
    _unused, role = _series(series.slug)
    return talk, series, role


# -- home and series --------------------------------------------------------------------------


@bp.get("/organise")
@signed_in
def home() -> tuple[str, int]:
    """The workspace home: your series, each with its next talk, drafts and subscribers."""
    mine = accounts.series_of(db(), me())
    ids = [s.id for s, _unused in mine]
    outlooks = listings.outlooks(db(), ids, now())
    drafts = dict(
        db()
        .execute(
            select(TalkDraft.series_id, func.count())
            .where(TalkDraft.series_id.in_(ids))
            .group_by(TalkDraft.series_id)
        )
        .all()
    )
    subscribers = dict(
        db()
        .execute(
            select(Subscription.series_id, func.count())
            .where(Subscription.series_id.in_(ids), Subscription.confirmed_at.is_not(None))
            .group_by(Subscription.series_id)
        )
        .all()
    )
    rows = [
        {
            "series": s,
            "role": role,
            "outlook": outlooks.get(s.id),
            "drafts": drafts.get(s.id, 0),
            "subscribers": subscribers.get(s.id, 0),
        }
        for s, role in mine
    ]
    return page("organise/home.html", rows=rows, when_text=when_text)


@bp.route("/organise/series/new", methods=["GET", "POST"])
@signed_in
def new_series() -> Any:
    """Create a series; you become its owner."""
    form = SeriesForm()
    unplaced: list[str] = []
    if request.method == "GET":
        form.timezone.data = request.args.get("tz", "")
    elif form.validate_on_submit() and request.form.get("action") == "preview":
        return _series_preview(form, None)
    elif form.validate_on_submit():
        data = series_data(form)
        try:
            record = validate_series(data)
            series = accounts.create_series(db(), me(), record, now())
        except InvalidRecord as exc:
            db().rollback()
            unplaced = apply_errors(form, exc.errors, SERIES_FIELDS)
        else:
            db().commit()
            flash(_("Series “%(name)s” created. Add its first talk.", name=series.name))
            return redirect(url_for("organise.series", slug=series.slug))
    status = 422 if request.method == "POST" else 200
    return page("organise/series_form.html", status, form=form, series=None, unplaced=unplaced)


def _series_preview(form: SeriesForm, series: Series | None) -> tuple[str, int]:
    """The series form again, with its description rendered as the public page renders it."""
    preview = rich_text(form.description.data or "")
    locked = series is not None and accounts.has_published_talks(db(), series)
    return page(
        "organise/series_form.html",
        form=form,
        series=series,
        unplaced=[],
        preview=preview,
        slug_locked=locked,
        embed_snippet=embed_snippet(series) if series is not None else None,
    )


@bp.post("/organise/preview")
@signed_in
def preview() -> Response:
    """Markdown with LaTeX rendered exactly as the public pages render it (the live preview)."""
    text = request.form.get("text", "")
    if len(text) > PREVIEW_LIMIT:
        abort(413, _("Too long to preview."))
    response = Response(rich_text(text), content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/organise/series/<slug>")
@signed_in
def series(slug: str) -> tuple[str, int]:
    """One series in the workspace: drafts, upcoming and past talks, actions."""
    found, role = _series(slug)
    drafts = accounts.drafts_of(db(), found)
    talks = list(
        db().scalars(
            select(Event)
            .where(Event.series_id == found.id)
            .order_by(Event.start_utc.desc(), Event.id)
            .limit(200)
        )
    )
    current = now()
    return page(
        "organise/series.html",
        series=found,
        role=role,
        drafts=drafts,
        upcoming=[t for t in reversed(talks) if t.end_utc >= current],
        past=[t for t in talks if t.end_utc < current],
        when_text=when_text,
        talk_title=talk_title,
    )


@bp.route("/organise/series/<slug>/settings", methods=["GET", "POST"])
@signed_in
def series_settings(slug: str) -> Any:
    """Change a series' settings and the defaults of its new talks (owners)."""
    found, _unused = _series(slug, owner=True)
    form = SeriesForm()
    unplaced: list[str] = []
    if request.method == "GET":
        fill_series(form, found)
    elif form.validate_on_submit() and request.form.get("action") == "preview":
        return _series_preview(form, found)
    elif form.validate_on_submit():
        # The form does not edit these: keep them (topics, like organisers and the name and
        # description in other languages, come by import/API).
        data = {
            **series_data(form),
            "organisers": list(found.organisers),
            "topics": list(found.topics),
            "translations": {tag: dict(t) for tag, t in found.translations.items()},
        }
        try:
            accounts.update_series(db(), found, validate_series(data), now())
        except InvalidRecord as exc:
            db().rollback()
            unplaced = apply_errors(form, exc.errors, SERIES_FIELDS)
        else:
            db().commit()
            flash(_("Settings saved."))
            return redirect(url_for("organise.series", slug=found.slug))
        db().refresh(found)
    status = 422 if request.method == "POST" else 200
    locked = accounts.has_published_talks(db(), found)
    if locked:
        form.slug.data = found.slug
    return page(
        "organise/series_form.html",
        status,
        form=form,
        series=found,
        unplaced=unplaced,
        slug_locked=locked,
        embed_snippet=embed_snippet(found),
    )


# -- people -----------------------------------------------------------------------------------


@bp.route("/organise/series/<slug>/people", methods=["GET", "POST"])
@signed_in
def people(slug: str) -> Any:
    """The series' organisers: invite by email, change roles (owners)."""
    found, _unused = _series(slug, owner=True)
    form = InviteForm()
    status = 200
    if form.validate_on_submit():
        try:
            address = accounts.normalise_email(form.email.data or "")
            emailing = may_email(address)
            accounts.set_role(db(), found, address, form.role.data or "editor", now())
            if emailing:
                send_link(address, browser_nonce=None, invited_to=found.name)
        except InvalidRecord as exc:
            db().rollback()
            form.email.errors = [known(exc.errors[0][1])]
            status = 422
        except accounts.LastOwner as exc:
            db().rollback()
            form.role.errors = [known(exc)]
            status = 422
        else:
            db().commit()
            flash(
                _(
                    "%(address)s is now an owner of %(series)s; we emailed a sign-in link.",
                    address=address,
                    series=found.name,
                )
                if form.role.data == "owner"
                else _(
                    "%(address)s is now an editor of %(series)s; we emailed a sign-in link.",
                    address=address,
                    series=found.name,
                )
            )
            return redirect(url_for("organise.people", slug=slug))
    elif request.method == "POST":
        status = 400
    return page(
        "organise/people.html",
        status,
        series=found,
        form=form,
        members=accounts.members(db(), found),
    )


@bp.post("/organise/series/<slug>/people/<int:organiser_id>/remove")
@signed_in
def remove_person(slug: str, organiser_id: int) -> Response:
    """Remove an organiser from a series (owners; anyone may leave; never the last owner)."""
    found, role = _series(slug)
    if organiser_id != me().id and role == accounts.EDITOR:
        abort(403, _("Only the series' owners may do this."))
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; try again."))
    try:
        accounts.remove_member(db(), found, organiser_id)
    except accounts.LastOwner as exc:
        db().rollback()
        flash(known(exc))
        return redirect(url_for("organise.people", slug=slug))
    except NotFound:
        abort(404, _("No such organiser in this series."))
    db().commit()
    flash(_("Removed."))
    if organiser_id == me().id:
        return redirect(url_for("organise.home"))
    return redirect(url_for("organise.people", slug=slug))


# -- talks ------------------------------------------------------------------------------------


def _talk_page(
    form: TalkForm,
    series: Series,
    talk: Event | TalkDraft | None,
    status: int = 200,
    **context: Any,
) -> tuple[str, int]:
    form.number_speakers()
    context.setdefault("unplaced", [])
    context.setdefault("preview", None)
    following = accounts.next_session(db(), series, talk, now()) if talk is not None else None
    return page(
        "organise/talk_form.html",
        status,
        form=form,
        series=series,
        talk=talk,
        is_draft=talk is None or isinstance(talk, TalkDraft),
        heading=talk_title(talk) if talk is not None else _("New talk"),
        next_session=instant_text(following.start_utc, series.timezone) if following else None,
        **context,
    )


@bp.route("/organise/series/<slug>/talks/new", methods=["GET", "POST"])
@signed_in
def new_talk(slug: str) -> Any:
    """Add a talk: saved as a draft, or published at once."""
    found, _unused = _series(slug)
    form = TalkForm()
    if request.method == "GET":
        defaults_for(form, found)
        return _talk_page(form, found, None)
    return _save(form, found, None)


@bp.route("/organise/talks/<talk_id>", methods=["GET", "POST"])
@signed_in
def talk(talk_id: str) -> Any:
    """Edit a talk or a draft; a save over someone's newer save shows both versions."""
    found, series, _unused = _talk(talk_id)
    form = TalkForm()
    if request.method == "GET":
        data = found.data if isinstance(found, TalkDraft) else importer.event_input(found)
        fill_talk(form, data, series)
        form.version.data = accounts.talk_version(found)
        return _talk_page(form, series, found)
    return _save(form, series, found)


def _save(form: TalkForm, series: Series, talk: Event | TalkDraft | None) -> Any:
    if not form.validate_on_submit():
        return _talk_page(form, series, talk, 400, unplaced=[_("The form expired; save again.")])
    action = request.form.get("action", "save")
    if action == "add_speaker":
        form.speakers.append_entry()
        return _talk_page(form, series, talk)
    if action == "add_translation":
        form.translations.append_entry()
        return _talk_page(form, series, talk)
    if action == "preview":  # rendered exactly as the public talk page renders it
        return _talk_page(form, series, talk, preview=rich_text(form.abstract.data or ""))
    talk_id = talk.id if talk is not None else accounts.new_talk_id(series, form.date.data or "")
    data = talk_data(form, talk_id, series)
    if data is None:
        return _talk_page(form, series, talk, 422)
    expected = (form.version.data or None) if talk is not None else None
    try:
        if isinstance(talk, Event):
            saved: Event | TalkDraft
            saved, _unused = accounts.save_talk(db(), series, data, me(), now(), expected=expected)
            message = _("Saved. Pages and feeds show the change now.")
        elif action == "publish":
            draft = accounts.save_draft(db(), series, data, me(), now(), expected=expected)
            saved = accounts.publish(db(), series, draft.id, me(), now())
            message = _("Published. It is on the series page and in every feed now.")
        else:
            saved = accounts.save_draft(db(), series, data, me(), now(), expected=expected)
            message = _("Draft saved. Nobody else sees it until you publish it.")
    except InvalidRecord as exc:
        db().rollback()
        unplaced = apply_errors(form, exc.errors, TALK_FIELDS)
        return _talk_page(form, series, talk, 422, unplaced=unplaced)
    except accounts.StaleEdit as exc:
        db().rollback()
        form.version.data = exc.version
        return _talk_page(
            form, series, talk, 409, conflict=exc, differences=compare(data, exc.current)
        )
    db().commit()
    flash(message)
    return redirect(url_for("organise.talk", talk_id=saved.id))


@bp.post("/organise/talks/<talk_id>/publish")
@signed_in
def publish(talk_id: str) -> Response:
    """Publish a draft as it was last saved."""
    found, series, _unused = _talk(talk_id)
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; try again."))
    if not isinstance(found, TalkDraft):
        flash(_("This talk is already published."))
        return redirect(url_for("organise.talk", talk_id=talk_id))
    try:
        accounts.publish(db(), series, found.id, me(), now())
    except InvalidRecord as exc:
        db().rollback()
        flash(_("Not published: %(error)s", error=exc))
        return redirect(url_for("organise.talk", talk_id=talk_id))
    db().commit()
    flash(_("Published. It is on the series page and in every feed now."))
    return redirect(url_for("organise.talk", talk_id=talk_id))


@bp.route("/organise/talks/<talk_id>/cancel", methods=["GET", "POST"])
@signed_in
def cancel(talk_id: str) -> Any:
    """Cancel a published talk (it stays in feeds, struck through) with an optional reason."""
    found, series, _unused = _talk(talk_id)
    if not isinstance(found, Event):
        abort(404, _("A draft is deleted, not cancelled."))
    form = CancelForm()
    if request.method == "GET":
        form.version.data = accounts.talk_version(found)
    elif form.validate_on_submit():
        try:
            accounts.cancel(
                db(),
                found,
                form.reason.data or "",
                me(),
                now(),
                expected=form.version.data or None,
            )
        except accounts.StaleEdit as exc:
            db().rollback()
            flash(_("Not cancelled: %(error)s. Check the talk, then cancel again.", error=exc))
            return redirect(url_for("organise.talk", talk_id=talk_id))
        db().commit()
        flash(_("Cancelled. Calendars show it as cancelled."))
        return redirect(url_for("organise.series", slug=series.slug))
    return page("organise/cancel.html", form=form, talk=found, series=series)


@bp.post("/organise/talks/<talk_id>/delete")
@signed_in
def delete(talk_id: str) -> Response:
    """Delete a draft, or a talk no email ever mentioned."""
    found, series, _unused = _talk(talk_id)
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; try again."))
    try:
        accounts.delete_talk(db(), found)
    except InvalidRecord as exc:
        db().rollback()
        flash(exc.errors[0][1])
        return redirect(url_for("organise.talk", talk_id=talk_id))
    db().commit()
    flash(_("Deleted."))
    return redirect(url_for("organise.series", slug=series.slug))


@bp.post("/organise/talks/<talk_id>/duplicate")
@signed_in
def duplicate(talk_id: str) -> Response:
    """Copy a talk into a new draft in the same slot a week later, or in the next session
    (`to=session`: the next block of its session, or the schedule's next occurrence)."""
    found, series, _unused = _talk(talk_id)
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; try again."))
    to = None
    if request.form.get("to") == "session":
        to = accounts.next_session(db(), series, found, now())
        if to is None:
            flash(_("Not duplicated: this series has no next session (no schedule or block)."))
            return redirect(url_for("organise.talk", talk_id=talk_id))
    try:
        copy = accounts.duplicate(db(), series, found, me(), now(), to=to)
    except InvalidRecord as exc:
        db().rollback()
        flash(_("Not duplicated: %(error)s", error=exc))
        return redirect(url_for("organise.talk", talk_id=talk_id))
    db().commit()
    flash(
        _("A copy in the next session, as a draft: change the speaker and title.")
        if to is not None
        else _("A copy for the same slot next week, as a draft: change the speaker and title.")
    )

    return redirect(url_for("organise.talk", talk_id=copy.id))
