"""Subscribing, confirming, managing, one-click unsubscribe and personal feeds."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, request, url_for
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from events import queries, times, topics
from events.access import Audience
from events.errors import InvalidRecord, NotFound
from events.models import Event, Series, Subscriber
from events.models.mail import TOPIC_KEY
from feeds import ical, syndication
from feeds.formats import FORMATS
from feeds.links import Links, google_calendar_subscribe, webcal
from mail import subscribers
from mail.subscribers import SUBSCRIBE_LIMIT
from web import pages
from web.context import db, now, settings
from web.feeds import calendar, personal_version, stored_document
from web.i18n import current_locale
from web.messages import known
from web.security import csrf_exempt, rate_limit

bp = Blueprint("subscriptions", __name__, template_folder="templates")


AUDIENCE: Audience = "subscriber"


def _links() -> Links:
    return Links(settings().base_url)


def _choices(form: Any) -> subscribers.Choices:
    """Read the choices from a subscribe form: how often (`frequency` radios), the reminder
    and cancellations, stored on each subscription it asks for; or, from older forms
    without `frequency`, the former subscriber-wide checkboxes. The emails' language is the
    form's `language`, else the page's."""
    if "frequency" not in form:
        choices = subscribers.check_choices(
            form.get("announcements") is not None,
            form.get("digest") is not None,
            form.get("reminder_hours") or 0,
        )
    else:
        choices = subscribers.check_choices(
            True,
            True,
            form.get("reminder_hours") or 0,
            frequency=form.get("frequency"),
            cancellations=form.get("cancellations") is not None,
        )
    language = subscribers.check_language(form.get("language") or current_locale())
    return replace(choices, language=language)


def _series(slug: str) -> Series:
    found = db().scalar(select(Series).where(Series.slug == slug))
    if found is None:
        abort(404, _("No series ‘%(slug)s’.", slug=slug))
    return found


FIELD_LABELS = {
    "email": _l("Email address"),
    "timezone": _l("Your timezone"),
    "series": _l("Series"),
}


def field_label(field: str) -> str:
    """Return a subscription field's name in the page's language."""
    return str(FIELD_LABELS.get(field, field))


def _shown(errors: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Return (field, message) errors as the page shows them, in its language."""
    return [(field_label(field), known(message)) for field, message in errors]


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """Render an email page in the site's base template (one stylesheet, no inline script)."""
    # The zone field's suggestions (<datalist id="zones">) on the subscribe and manage forms.
    suggestions = times.zone_suggestions()
    context.setdefault("frequencies", SUBSCRIBE_FREQUENCIES)
    context.setdefault("reminders", SUBSCRIBE_REMINDERS)
    return pages.render_page(
        template, status, zone_suggestions=suggestions, no_times=True, **context
    )


def _subscribe_page(
    series: Series | None, status: int = 200, errors: Any = (), form: Any = None
) -> tuple[str, int]:
    """The subscribe form: of one series, or (series None) with a box per public series."""
    if series is not None:
        action = url_for("subscriptions.subscribe_post", slug=series.slug)
        return _page(
            "subscriptions/subscribe.html",
            status,
            series=series,
            action=action,
            choices=[],
            chosen=set(),
            errors=_shown(errors),
            form=form or {},
        )
    public = (
        db()
        .scalars(select(Series).where(Series.visibility == "public").order_by(Series.name))
        .all()
    )
    chosen = set((form or request.args).getlist("series"))
    return _page(
        "subscriptions/subscribe.html",
        status,
        series=None,
        action=url_for("subscriptions.subscribe_any_post"),
        choices=public,
        chosen=chosen,
        errors=_shown(errors),
        form=form or {},
    )


@bp.get("/series/<slug>/subscribe")
def subscribe_form(slug: str) -> tuple[str, int]:
    """Show the subscribe form of a series."""
    return _subscribe_page(_series(slug))


def _topic(slug: str) -> topics.Named:
    try:
        return topics.get_topic(db(), slug)
    except NotFound:
        abort(404, _("No topic ‘%(slug)s’.", slug=slug))


def _topic_page(
    named: topics.Named, status: int = 200, errors: Any = (), form: Any = None
) -> tuple[str, int]:
    """The subscribe form of a topic: each talk's announcement, or a daily or weekly digest."""
    return _page(
        "subscriptions/subscribe.html",
        status,
        series=None,
        topic=named,
        action=url_for("subscriptions.topic_subscribe_post", slug=named.topic.slug),
        choices=[],
        chosen=set(),
        errors=_shown(errors),
        form=form or {},
    )


@bp.get("/topics/<slug>/subscribe")
def topic_subscribe_form(slug: str) -> tuple[str, int]:
    """Show the subscribe form of a topic (talks across series)."""
    return _topic_page(_topic(slug))


@bp.post("/topics/<slug>/subscribe")
@rate_limit("subscribe", SUBSCRIBE_LIMIT, 3600)
def topic_subscribe_post(slug: str) -> tuple[str, int]:
    """Record a pending topic subscription and queue the confirmation email (double opt-in)."""
    named = _topic(slug)
    form = request.form
    try:
        subscribers.subscribe_and_commit(
            db(),
            form.get("email", ""),
            [TOPIC_KEY + named.topic.slug],
            form.get("timezone"),
            _choices(form),
            now(),
        )
    except InvalidRecord as exc:
        db().rollback()
        return _topic_page(named, 422, exc.errors, form)
    return _check_inbox()


@bp.get("/subscribe")
def subscribe_any_form() -> tuple[str, int]:
    """Show the subscribe form with every public series to choose from (?series= ticks one)."""
    return _subscribe_page(None)


@bp.post("/series/<slug>/subscribe")
@rate_limit("subscribe", SUBSCRIBE_LIMIT, 3600)
def subscribe_post(slug: str) -> tuple[str, int]:
    """Record a pending subscription and queue the confirmation email (double opt-in)."""
    return _subscribe(_series(slug), [slug])


@bp.post("/subscribe")
@rate_limit("subscribe", SUBSCRIBE_LIMIT, 3600)
def subscribe_any_post() -> tuple[str, int]:
    """Record pending subscriptions of the ticked series (double opt-in)."""
    return _subscribe(None, request.form.getlist("series"))


def _subscribe(series: Series | None, slugs: list[str]) -> tuple[str, int]:
    form = request.form
    try:
        choices = _choices(form)
        subscribers.subscribe_and_commit(
            db(), form.get("email", ""), slugs, form.get("timezone"), choices, now()
        )
    except InvalidRecord as exc:
        db().rollback()
        return _subscribe_page(series, 422, exc.errors, form)
    return _check_inbox()


def _check_inbox() -> tuple[str, int]:
    return _page(
        "subscriptions/message.html",
        title=_("Check your inbox"),
        message=_(
            "We sent a confirmation link to that address. Nothing else is sent until you follow it."
        ),
    )


@bp.get("/subscriptions/confirm/<signed>")
def confirm_form(signed: str) -> tuple[str, int]:
    """Show a button that confirms (a GET alone changes nothing, so link scanners cannot)."""
    return _page("subscriptions/confirm.html", signed=signed)


@bp.post("/subscriptions/confirm/<signed>")
def confirm_post(signed: str) -> tuple[str, int]:
    """Confirm the subscription and show the management page."""
    try:
        subscriber = subscribers.confirm(db(), signed, now())
    except subscribers.BadConfirmation as exc:
        db().rollback()
        return _page("subscriptions/message.html", 400, title=_("Link expired"), message=known(exc))
    db().commit()
    return _manage_page(subscriber, notice=_("Subscription confirmed."))


def _subscriber(token: str) -> Subscriber:
    found = subscribers.by_token(db(), token)
    if found is None:
        abort(404, _("Unknown or rotated link."))
    return found


FREQUENCIES = (
    ("announcement", _l("An email for each new talk")),
    ("daily", _l("A daily digest of new and changed talks")),
    ("weekly", _l("A weekly digest of new and changed talks (Mondays)")),
    ("none", _l("No news of talks (reminders and cancellations only)")),
)
REMINDERS = ((0, _l("No reminder")), (1, _l("1 hour before")), (24, _l("1 day before")))
# The subscribe forms' choices (series, topic, several series): stored on each subscription
# asked for; 'none' is offered on the manage page only.
SUBSCRIBE_FREQUENCIES = (
    ("announcement", _l("Every announcement: an email for each new talk")),
    ("daily", _l("Daily digest of new and changed talks")),
    ("weekly", _l("Weekly digest of new and changed talks (Mondays)")),
)
SUBSCRIBE_REMINDERS = (
    (0, _l("No reminder")),
    (1, _l("1 hour before")),
    (24, _l("1 day before")),
)


def reminder_choices(current: int) -> list[tuple[int, str]]:
    """Return the reminder options, with a former custom value kept as one of them."""
    found = [(hours, str(label)) for hours, label in REMINDERS]
    if current not in dict(found):
        found.append((current, ngettext("%(num)d hour before", "%(num)d hours before", current)))
    return found


def _manage_page(subscriber: Subscriber, notice: str = "", status: int = 200) -> tuple[str, int]:
    links = _links()
    ics = links.personal_feed(subscriber.token, "ics")
    all_series = db().scalars(select(Series).order_by(Series.name)).all()
    # A series someone asked for with this address stays unticked until it is confirmed, so
    # saving this page does not confirm it either.
    confirmed = subscriber.confirmed_at is not None
    followed = {
        s.series_id for s in subscriber.subscriptions if s.confirmed_at is not None or not confirmed
    }
    pending = {s.series_id for s in subscriber.subscriptions} - followed
    followed_items = sorted(
        (
            {"key": s.key, "name": s.name, "subscription": s}
            for s in subscriber.subscriptions
            if s.confirmed_at is not None or not confirmed
        ),
        key=lambda item: str(item["name"]),
    )
    return _page(
        "subscriptions/manage.html",
        status,
        subscriber=subscriber,
        followed_items=followed_items,
        other_series=[s for s in all_series if s.id not in followed],
        frequencies=FREQUENCIES,
        reminder_choices=reminder_choices,
        followed=followed,
        pending=pending,
        notice=notice,
        feed_ics=ics,
        feed_webcal=webcal(ics),
        feed_google=google_calendar_subscribe(ics),
        feed_rss=links.personal_feed(subscriber.token, "rss"),
    )


@bp.get("/manage/<token>")
def manage(token: str) -> tuple[str, int]:
    """Show the subscriber's series and choices, personal feeds and buttons."""
    return _manage_page(_subscriber(token))


def _prefs(form: Any) -> dict[str, subscribers.Prefs]:
    """Read each shown subscription's choices from the management form."""
    prefs = {}
    for key in form.getlist("shown"):
        prefs[key] = subscribers.check_prefs(
            key,
            form.get(f"frequency-{key}", "announcement"),
            form.get(f"reminder-{key}") or 0,
            form.get(f"cancellations-{key}") is not None,
        )
    return prefs


@bp.post("/manage/<token>")
def manage_post(token: str) -> tuple[str, int]:
    """Save choices, pause or resume, leave one series or all, or rotate the token."""
    subscriber = _subscriber(token)
    action = request.form.get("action", "save")
    moment = now()
    try:
        notice = _manage_action(subscriber, action, moment)
    except InvalidRecord as exc:
        db().rollback()
        detail = "; ".join(
            _("%(label)s: %(error)s", label=field_label(field), error=known(message))
            for field, message in exc.errors
        )
        return _manage_page(_subscriber(token), notice=detail, status=422)
    db().commit()
    return _manage_page(subscriber, notice=notice)


def _manage_action(subscriber: Subscriber, action: str, moment: datetime) -> str:
    """Apply one button of the management page; return the notice to show."""
    form = request.form
    if action == "rotate":
        subscribers.rotate_token(subscriber, moment)
        return str(_("New private links made; the old ones no longer work."))
    if action == "unsubscribe":
        subscribers.unsubscribe(db(), subscriber, moment)
        return str(_("You are unsubscribed; no more emails will be sent."))
    if action == "pause":
        subscribers.pause(db(), subscriber, moment)
        return str(_("All emails are paused until you resume them."))
    if action == "resume":
        subscribers.resume(subscriber, moment)
        return str(_("Emails resumed."))
    if action == "leave":
        name = subscribers.leave(db(), subscriber, form.get("leave", ""), moment)
        return str(_("You no longer follow %(name)s.", name=name))
    # The former subscriber-wide fields (older pages): they set every series not shown.
    legacy = _choices(form) if "reminder_hours" in form else None
    subscribers.update_choices(
        db(),
        subscriber,
        form.getlist("series"),
        form.get("timezone", subscriber.timezone),
        legacy,
        moment,
        _prefs(form),
    )
    subscriber.recording_notes = form.get("recording_notes") is not None
    if "language" in form:
        subscribers.set_language(subscriber, form.get("language"), moment)
    return str(_("Saved."))


@bp.get("/unsubscribe/<token>")
def unsubscribe_form(token: str) -> tuple[str, int]:
    """Show a one-button unsubscribe page (the GET itself changes nothing)."""
    return _page("subscriptions/unsubscribe.html", subscriber=_subscriber(token))


@bp.post("/unsubscribe/<token>")
@csrf_exempt
def unsubscribe_post(token: str) -> tuple[str, int]:
    """Unsubscribe: RFC 8058 one-click POST from mail clients, or the page's button."""
    subscriber = _subscriber(token)
    subscribers.unsubscribe(db(), subscriber, now())
    db().commit()
    return _page(
        "subscriptions/message.html",
        title=_("Unsubscribed"),
        message=_("%(email)s will receive no more emails.", email=subscriber.email),
    )


def personal_events(
    series_ids: list[int], moment: datetime, topic_ids: tuple[int, ...] = ()
) -> list[Event]:
    """Return the talks of the subscriber's series and topics (public series' talks on them,
    each talk once) in the rolling feed window (capped)."""
    also = topics.followed(topic_ids) if topic_ids else None
    return queries.window_feed(db(), series_ids, now=moment, settings=settings(), also=also)


PERSONAL_TITLE = _l("My seminars")
PERSONAL_DESCRIPTION = _l("Talks of the seminar series you follow, with details for subscribers.")


def _personal_texts(token: str) -> tuple[str, str]:
    """Return the personal feed's title and description in the subscriber's language (a
    change of language changes their `updated_at`, hence the stored feed's version)."""
    language = db().scalar(select(Subscriber.language).where(Subscriber.token == token))
    with force_locale(language or "en"):
        return str(PERSONAL_TITLE), str(PERSONAL_DESCRIPTION)


def _personal(token: str, fmt: str, build: Callable[[list[Event], datetime], bytes]) -> Response:
    """Serve a personal feed kept per version: 304 from the followed series' stamps, else
    the stored body, else `build(talks)` once (VEVENTs from stored subscriber pieces).

    Its key is the subscriber's id; the version holds a hash of the token (it is in the
    body's links), so a rotated token never serves the old one's body, and the talks whose
    `revealed` meeting details have reached subscribers, so a body made before a reveal is
    never served after it.
    """
    found = topics.personal_stamps(db(), token)
    if found is None:
        abort(404, _("Unknown or rotated link."))
    subscriber_id, stamps = found
    moment = now()
    version = personal_version(db(), settings(), token, stamps, moment, fmt)
    series_ids = list(stamps.series_ids)
    response = stored_document(
        f"personal/{subscriber_id}/{fmt}",
        version,
        stamps,
        FORMATS[fmt].content_type,
        lambda: build(personal_events(series_ids, moment, stamps.topic_ids), moment),
        private=True,
    )
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/s/<token>.ics")
def personal_ics(token: str) -> Response:
    """The subscriber's personal calendar, with subscriber-only meeting details."""

    def build(events: list[Event], moment: datetime) -> bytes:
        title, description = _personal_texts(token)
        info = ical.CalendarInfo(name=title, description=description, url=_links().manage(token))
        return calendar(events, info, AUDIENCE, moment)

    return _personal(token, "ics", build)


@bp.get("/s/<token>.rss")
def personal_rss(token: str) -> Response:
    """The subscriber's personal RSS feed, with subscriber-only meeting details."""

    def build(events: list[Event], moment: datetime) -> bytes:
        links = _links()
        title, description = _personal_texts(token)
        info = syndication.FeedInfo(
            title=title,
            description=description,
            page_url=links.manage(token),
            self_url=links.personal_feed(token, "rss"),
        )
        return syndication.render_rss(
            events,
            info=info,
            links=links,
            domain=settings().domain,
            audience=AUDIENCE,
            now=moment,
        )

    return _personal(token, "rss", build)
