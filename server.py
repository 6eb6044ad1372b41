"""EventFeed: the Flask application factory and the `eventfeed` command line."""

from __future__ import annotations

import faulthandler
import json
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

import mail  # noqa: F401  (connects the mail room to the records' signals)
from events import demo as demo_data
from events import exporter, history, importer, mirror, store, tokens, topics
from events.clock import SYSTEM_CLOCK, Clock
from events.config import Settings
from events.db import make_engine, make_sessionmaker, migrate
from events.errors import EventFeedError
from events.models import Series

if TYPE_CHECKING:
    from flask import Flask

    from web.context import AppState

# The web layer (Flask, the pages, the feeds' renderers) is imported by the commands that
# build the app, not by database-only ones: `eventfeed import` starts about 0.3 s sooner.

SAMPLE_DATA = "sample_data/seminars.yaml"


def create_app(
    config: Mapping[str, Any] | Settings | None = None, *, clock: Clock = SYSTEM_CLOCK
) -> Flask:
    """Create the application; `config` overrides EVENTFEED_* environment settings."""
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from web import warm
    from web.context import EXTENSION, AppState, close_db
    from web.fastpath import StoredFeeds

    if isinstance(config, Settings):
        settings = config.completed()
    else:
        settings = Settings.from_env(**dict(config or {}))
    app = Flask(__name__, instance_path=str(Path(settings.instance_path).resolve()))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        # The session cookie (it holds the CSRF secret): never sent by cross-site requests
        # but top-level links, never read by scripts, only over TLS when the site is https.
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
    )
    engine = make_engine(settings.database_url, pool_pre_ping=True, hide_parameters=True)
    app.extensions[EXTENSION] = AppState(settings, engine, make_sessionmaker(engine), clock)
    app.teardown_appcontext(close_db)
    _register_blueprints(app)
    # Stored feeds and their 304s are answered before the Flask stack (web.fastpath).
    app.wsgi_app = StoredFeeds(app.wsgi_app, app.extensions[EXTENSION])  # type: ignore[method-assign]
    # Each process's first request (fast or not) starts its refresher's polling (web.warm).
    warm.install(app)
    if settings.proxy_hops:
        # Behind N trusted proxies (deploy/nginx.conf: 1), the client's address and scheme
        # come from the last N X-Forwarded-For/-Proto entries; never trust more than that.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops
        )
    return app


def _register_blueprints(app: Flask) -> None:
    from web import (
        api,
        devmail,
        discovery,
        embed,
        errors,
        feeds,
        health,
        i18n,
        organise,
        pages,
        security,
        subscriptions,
        topics,
        warm,
    )

    i18n.init_app(app)
    security.init_app(app)
    errors.register(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(discovery.bp)
    app.register_blueprint(embed.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(subscriptions.bp)
    app.register_blueprint(organise.bp)
    app.register_blueprint(topics.bp)
    app.register_blueprint(devmail.bp)
    api.register(app)
    warm.init_app(app)


class _Cli(click.Group):
    """A click group that turns EventFeed errors into one line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; report known errors without a traceback."""
        try:
            return super().invoke(ctx)
        except EventFeedError as exc:
            raise click.ClickException(str(exc)) from None
        except (OperationalError, ProgrammingError) as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise click.ClickException(f"database error: {reason}") from None


def _state(ctx: click.Context, **config: Any) -> AppState:
    """Return the state of the CLI's application, created once and closed with the command.

    `config` overrides settings of the environment (the first call creates the app).
    """
    from web.context import EXTENSION

    obj = ctx.ensure_object(dict)
    if "app" not in obj:
        obj["app"] = create_app(config)
        ctx.find_root().call_on_close(obj["app"].extensions[EXTENSION].engine.dispose)
    found: AppState = obj["app"].extensions[EXTENSION]
    return found


def _database_state(ctx: click.Context) -> AppState:
    """Return the CLI's state without building the Flask app (for database-only commands)."""
    obj = ctx.ensure_object(dict)
    if "app" in obj:
        return _state(ctx)
    if "state" not in obj:
        from web.context import AppState

        settings = Settings.from_env()
        engine = make_engine(settings.database_url, pool_pre_ping=True, hide_parameters=True)
        obj["state"] = AppState(settings, engine, make_sessionmaker(engine), SYSTEM_CLOCK)
        ctx.find_root().call_on_close(engine.dispose)
    found: AppState = obj["state"]
    return found


@click.group(cls=_Cli)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """EventFeed: calendar, RSS/Atom/JSON and email feeds for seminar series."""
    ctx.ensure_object(dict)


@cli.command("init-db")
@click.pass_context
def init_db(ctx: click.Context) -> None:
    """Create or upgrade the database schema (idempotent)."""
    state = _state(ctx)
    migrate(state.engine)
    click.echo(f"database ready: {state.engine.url.render_as_string(hide_password=True)}")


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--series", "series_slug", help="Series for events that do not name one (CSV, .ics).")
@click.option(
    "--format", "fmt", type=click.Choice(importer.FORMATS), help="Override detection by extension."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show what would change (new, changed, unchanged, errors, missing); write nothing.",
)
@click.option(
    "--cancel-missing",
    is_flag=True,
    help="Cancel upcoming talks of the file's series that the file does not list.",
)
@click.pass_context
def import_command(
    ctx: click.Context,
    files: tuple[Path, ...],
    series_slug: str | None,
    fmt: str | None,
    dry_run: bool,
    cancel_missing: bool,
) -> None:
    """Import series and talks from YAML, JSON, CSV or .ics files (all or nothing)."""
    state = _database_state(ctx)
    migrate(state.engine)
    if dry_run:
        preview = importer.preview_files(
            state.sessions, files, fmt=fmt, default_series=series_slug, clock=state.clock
        )
        click.echo(preview.text(), nl=False)
        if not preview.ok:
            raise click.exceptions.Exit(1)
        return
    with history.acting(history.Actor("import via CLI", "import")):
        report = importer.import_files(
            state.sessions,
            files,
            fmt=fmt,
            default_series=series_slug,
            clock=state.clock,
            cancel_missing=cancel_missing,
        )
    click.echo(f"imported {len(files)} file(s): {report.summary()}")


@cli.command("export")
@click.argument("slugs", nargs=-1, required=True)
@click.option(
    "--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write to a file instead of stdout."
)
@click.pass_context
def export_command(
    ctx: click.Context, slugs: tuple[str, ...], fmt: str, output: Path | None
) -> None:
    """Export series and their talks in the import format."""
    state = _state(ctx)
    with state.sessions() as session:
        text = exporter.export_series(session, list(slugs), fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@cli.group("topics")
def topics_group() -> None:
    """Edit the site's topic taxonomy (nested one level: 'Mathematics › Analysis of PDEs')."""


@topics_group.command("add")
@click.argument("slug")
@click.argument("name")
@click.option("--parent", default=None, help="Slug of the top-level topic it belongs to.")
@click.option("--description", default="", help="A sentence shown on the topic's page.")
@click.pass_context
def topics_add(
    ctx: click.Context, slug: str, name: str, parent: str | None, description: str
) -> None:
    """Create a topic, or rename or move an existing one; series and talks are relinked."""
    state = _state(ctx)
    migrate(state.engine)
    with state.sessions() as session, session.begin():
        topic = topics.add_topic(session, slug, name, parent=parent, description=description)
        click.echo(f"topic {topic.slug}: {topics.get_topic(session, topic.slug).path}")


@topics_group.command("remove")
@click.argument("slug")
@click.pass_context
def topics_remove(ctx: click.Context, slug: str) -> None:
    """Delete a topic and its subtopics (records keep the names, now free keywords)."""
    state = _state(ctx)
    migrate(state.engine)
    with state.sessions() as session, session.begin():
        topics.remove_topic(session, slug)
        click.echo(f"removed topic {slug}")


@topics_group.command("list")
@click.pass_context
def topics_list(ctx: click.Context) -> None:
    """List the taxonomy: slug and full name, parents first."""
    state = _state(ctx)
    migrate(state.engine)
    with state.sessions() as session:
        found = topics.taxonomy(session)
        if not found:
            click.echo("no topics")
        for named in found:
            click.echo(f"{named.topic.slug}\t{named.path}")


@cli.group("token")
def token_group() -> None:
    """Manage API tokens of editors (stored only as SHA-256 hashes)."""


@token_group.command("create")
@click.option("--series", "series_slugs", multiple=True, help="A series the token may change.")
@click.option("--admin", is_flag=True, help="The token may change every series.")
@click.option("--label", default="", help="Who or what the token is for.")
@click.option("--read-only", is_flag=True, help="The token may read its series, never write.")
@click.pass_context
def token_create(
    ctx: click.Context, series_slugs: tuple[str, ...], admin: bool, label: str, read_only: bool
) -> None:
    """Create a token and print it once (it cannot be shown again)."""
    state = _state(ctx)
    migrate(state.engine)
    with state.sessions() as session, session.begin():
        for slug in series_slugs:
            if session.scalar(select(Series.id).where(Series.slug == slug)) is None:
                click.echo(
                    f"note: series {slug!r} does not exist yet; the token may create it", err=True
                )
        token, secret = tokens.create_token(
            session,
            state.clock.now(),
            series=list(series_slugs),
            admin=admin,
            label=label,
            read_only=read_only,
        )
        scope = "admin" if token.admin else "series " + ", ".join(token.series)
        scope += ", read-only" if token.read_only else ", read-write"
        click.echo(
            f"token {token.id} ({token.prefix}..., {scope}); shown once, keep it secret:", err=True
        )
    click.echo(secret)


@token_group.command("revoke")
@click.argument("ident")
@click.pass_context
def token_revoke(ctx: click.Context, ident: str) -> None:
    """Revoke a token by its id or prefix; it stops working at once."""
    state = _state(ctx)
    migrate(state.engine)
    with state.sessions() as session, session.begin():
        token = tokens.revoke_token(session, ident, state.clock.now())
        click.echo(f"revoked token {token.id} ({token.prefix}...)")


@token_group.command("list")
@click.pass_context
def token_list(ctx: click.Context) -> None:
    """List tokens: id, prefix, scope, label, created, last used, revoked."""
    state = _state(ctx)
    migrate(state.engine)
    with state.sessions() as session:
        found = tokens.list_tokens(session)
    if not found:
        click.echo("no tokens")
    for token in found:
        scope = "admin" if token.admin else ",".join(token.series)
        scope += " (read-only)" if token.read_only else ""
        used = token.last_used_at.strftime("%Y-%m-%d %H:%M") if token.last_used_at else "never"
        revoked = token.revoked_at.strftime("%Y-%m-%d %H:%M") if token.revoked_at else "-"
        click.echo(
            f"{token.id}\t{token.prefix}...\t{scope}\t{token.label or '-'}\t"
            f"created {token.created_at:%Y-%m-%d %H:%M}\tused {used}\trevoked {revoked}"
        )


def _serve(ctx: click.Context, host: str, port: int, debug: bool) -> None:
    app: Flask = ctx.obj["app"]
    state = _state(ctx)
    migrate(state.engine)
    click.echo(f"EventFeed on http://{host}:{port}/ (base URL {state.settings.base_url})", err=True)
    app.run(host=host, port=port, debug=debug, use_reloader=False)


@cli.command("mirror")
@click.argument("slug")
@click.argument("url", required=False)
@click.option("--refresh", is_flag=True, help="Fetch the calendar now and apply what changed.")
@click.option("--remove", is_flag=True, help="Stop mirroring (the talks stay as they are).")
@click.pass_context
def mirror_command(
    ctx: click.Context, slug: str, url: str | None, refresh: bool, remove: bool
) -> None:
    """Make series SLUG mirror the iCalendar URL, or show, refresh or stop its mirror."""
    state = _state(ctx)
    migrate(state.engine)
    if remove and (url or refresh):
        raise click.ClickException("give --remove alone")
    now = state.clock.now()
    with state.sessions() as session, session.begin():
        series = store.get_series(session, slug)
        if remove:
            done = mirror.remove_mirror(session, series)
            click.echo(f"series {slug!r} " + ("no longer mirrors" if done else "mirrored nothing"))
            return
        if url:
            made = mirror.set_mirror(session, series, url, now)
            click.echo(f"series {slug!r} mirrors {made.url}")
        elif mirror.get_mirror(session, series) is None:
            raise mirror.MirrorError(f"series {slug!r} mirrors no calendar; give a URL")
    if refresh:
        outcome = mirror.refresh(state.sessions, slug, state.settings, now)
        if outcome.result == "error":
            raise click.ClickException(outcome.message)
        click.echo(f"{outcome.result}: {outcome.message}")
    with state.sessions() as session:
        shown = mirror.get_mirror(session, store.get_series(session, slug))
        if shown is not None:
            click.echo(mirror.status_text(shown))


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--debug", is_flag=True, help="Flask debug mode (never in production).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, debug: bool) -> None:
    """Serve with the development server (use gunicorn in production, see README)."""
    _state(ctx)
    _serve(ctx, host, port, debug)


def sample_data_path() -> Path:
    """Return the path of the shipped sample data."""
    return Path(str(resources.files("events").joinpath(SAMPLE_DATA)))


@cli.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Load the sample data and stop.")
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, no_serve: bool) -> None:
    """Load the sample series re-dated around today, then serve them with a mail worker.

    Emails are caught, not sent (unless EVENTFEED_SMTP_URL is set): read them at /dev/mail.
    Links in emails point at this server unless EVENTFEED_BASE_URL says otherwise.
    """
    import os
    import threading

    from mail.worker import Worker

    overrides: dict[str, Any] = {"mode": "demo"}
    if not os.environ.get("EVENTFEED_BASE_URL"):
        overrides["base_url"] = f"http://{host}:{port}"
    state = _state(ctx, **overrides)
    migrate(state.engine)
    moment = state.clock.now()
    living = json.dumps(demo_data.document(sample_data_path(), moment)).encode()
    parsed = importer.parse_bytes("sample data", living, "json", now=moment)
    with state.sessions() as session, session.begin():
        report = importer.apply(session, parsed, moment, progress=False)
    click.echo(f"sample data: {report.summary()}", err=True)
    link = _demo_signin(state)
    click.echo(f"organise the sample series (demo organiser {DEMO_ORGANISER}), one click: {link}")
    if no_serve:
        return
    worker = Worker(
        state.sessions,
        state.settings,
        state.clock,
        idle=1.0,
        log=lambda line: click.echo(f"mail: {line}", err=True),
    )
    thread = threading.Thread(target=worker.run, name="mail-worker", daemon=True)
    thread.start()
    where = "caught, read them at /dev/mail" if state.settings.mail_catch else "sent over SMTP"
    click.echo(f"mail worker running: emails are {where}", err=True)
    try:
        _serve(ctx, host, port, False)
    finally:
        worker.stop()
        thread.join(timeout=30)


DEMO_ORGANISER = "demo@example.org"


def _demo_signin(state: AppState) -> str:
    """Make the demo organiser (owner of every series) and return a fresh sign-in link."""
    from events import accounts
    from events.db import transaction
    from events.models import SeriesRole

    with transaction(state.sessions) as session:
        now = state.clock.now()
        organiser = accounts.add_organiser(session, DEMO_ORGANISER, now, name="Demo organiser")
        for series in session.scalars(select(Series)):
            if session.get(SeriesRole, (series.id, organiser.id)) is None:
                accounts.set_role(session, series, DEMO_ORGANISER, accounts.OWNER, now)
        made = accounts.create_signin(
            session, DEMO_ORGANISER, now, browser_nonce=None, signup="open"
        )
        assert made is not None
    return f"{state.settings.base_url.rstrip('/')}/login/{made[1]}"


@cli.group("organiser")
def organiser_group() -> None:
    """Manage organiser accounts of the workspace (/organise)."""


@organiser_group.command("add")
@click.argument("email")
@click.option("--admin", is_flag=True, help="A site admin: reaches and manages every series.")
@click.option(
    "--series", "slugs", multiple=True, help="Make them owner of this series (repeatable)."
)
@click.pass_context
def organiser_add(ctx: click.Context, email: str, admin: bool, slugs: tuple[str, ...]) -> None:
    """Add an organiser (or make one admin); they sign in at /login with their address."""
    from events import accounts, store
    from events.db import transaction

    state = _state(ctx)
    migrate(state.engine)
    with transaction(state.sessions) as session:
        now = state.clock.now()
        found = accounts.add_organiser(session, email, now, admin=admin)
        for slug in slugs:
            accounts.set_role(session, store.get_series(session, slug), found.email, "owner", now)
        kind = "admin" if found.admin else "organiser"
        owns = f", owner of {', '.join(slugs)}" if slugs else ""
        click.echo(
            f"{kind} {found.email}{owns}: sign in at {state.settings.base_url.rstrip('/')}/login"
        )


@cli.group("subscribers")
def subscribers_group() -> None:
    """List subscribers, or add confirmed ones (moving an existing mailing list)."""


@subscribers_group.command("add")
@click.argument("email")
@click.option("--series", "slugs", multiple=True, required=True, help="Series slug (repeatable).")
@click.option("--timezone", "zone", help="IANA zone or label (default UTC).")
@click.option("--language", help="Language of their emails: en, pt-PT or zh-Hans (default en).")
@click.option(
    "--confirmed",
    is_flag=True,
    required=True,
    help="Required: you vouch that this person already agreed to receive these emails.",
)
@click.pass_context
def subscribers_add(
    ctx: click.Context,
    email: str,
    slugs: tuple[str, ...],
    zone: str | None,
    language: str | None,
    confirmed: bool,
) -> None:
    """Add (or update) a confirmed subscriber of one or more series."""
    from events.db import transaction
    from mail import subscribers

    state = _state(ctx)
    migrate(state.engine)
    with transaction(state.sessions) as session:
        found = subscribers.add_confirmed(
            session, email, list(slugs), zone, state.clock.now(), language
        )
        click.echo(f"subscribed {found.email} ({found.timezone}) to {', '.join(slugs)}")


@subscribers_group.command("list")
@click.option("--series", "slug", help="Only the subscribers of this series.")
@click.pass_context
def subscribers_list(ctx: click.Context, slug: str | None) -> None:
    """List subscribers: address, state (pending/confirmed/unsubscribed/bounced), series."""
    from mail import subscribers

    state = _state(ctx)
    migrate(state.engine)
    with state.sessions() as session:
        found = subscribers.listing(session, slug)
        if not found:
            click.echo("no subscribers")
        for subscriber in found:
            series = ",".join(sorted(s.key for s in subscriber.subscriptions))
            line = f"{subscriber.email}\t{subscriber.state}\t{subscriber.timezone}\t{series}"
            if subscriber.bounced_at is not None:
                line += f"\tbounced {subscriber.bounced_at:%Y-%m-%d %H:%M}Z: "
                line += (subscriber.bounce_reason or "")[:200]
            click.echo(line)


@subscribers_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.pass_context
def subscribers_import(ctx: click.Context, file: Path) -> None:
    """Add confirmed subscribers from CSV (columns email, series, timezone[, language]); all or
    nothing."""
    from events.db import transaction
    from mail import subscribers

    state = _state(ctx)
    migrate(state.engine)
    text = importer.read_text(str(file), file.read_bytes())
    with transaction(state.sessions) as session:
        count = subscribers.import_csv(session, str(file), text, state.clock.now())
    click.echo(f"imported {count} subscriber(s) from {file}")


@cli.command("announce")
@click.argument("event_id")
@click.option(
    "--preview",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write the emails as .eml files into this folder; queue and send nothing.",
)
@click.pass_context
def announce_command(ctx: click.Context, event_id: str, preview: Path | None) -> None:
    """Queue the announcement of a talk to its series' confirmed subscribers."""
    from events import store
    from events.db import transaction
    from mail import blocks, sender

    state = _state(ctx)
    migrate(state.engine)
    with transaction(state.sessions) as session:
        event = store.get_event(session, event_id)
        if preview is not None:
            preview.mkdir(parents=True, exist_ok=True)
            written = sender.preview(session, event, state.settings)
            for index, (recipient, data) in enumerate(written, start=1):
                safe = "".join(c if c.isalnum() or c in "@.-_" else "_" for c in recipient)
                (preview / f"{index:04d}-{safe}.eml").write_bytes(data)
            click.echo(f"wrote {len(written)} .eml file(s) to {preview}; nothing queued")
            return
        count = blocks.announce(session, event, state.clock.now())
    click.echo(f"queued {count} announcement(s) of {event_id}; `eventfeed send` delivers them")


@cli.command("send")
@click.option("--loop", is_flag=True, help="Keep running: the same as `eventfeed worker`.")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--interval", default=30, show_default=True, type=click.IntRange(1, 3600))
@click.pass_context
def send_command(ctx: click.Context, loop: bool, batch: int, interval: int) -> None:
    """Queue due reminders and digests, then deliver queued emails over EVENTFEED_SMTP_URL.

    One pass: every due message gets an outcome (sent, deferred with backoff, bounced). The
    exit status is 0 when everything was sent, else 1 with a one-line summary.
    """
    if loop:
        ctx.invoke(worker_command, batch=batch, idle=float(interval))
        return
    from mail.worker import Worker, queue_digests, queue_due_mail

    state = _state(ctx)
    migrate(state.engine)
    worker = Worker(state.sessions, state.settings, state.clock, batch=batch)
    queue_due_mail(state.sessions, state.clock.now())
    queue_digests(state.sessions, state.clock.now())
    try:
        total = worker.drain()
    finally:
        worker.mailer.close()
    for error in total.errors[:5]:
        click.echo(f"  {error}", err=True)
    if not total.ok:
        raise click.ClickException(total.summary())
    if total.processed:
        click.echo(total.summary(), err=True)


@cli.command("bounces")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False)
)
@click.pass_context
def bounces_command(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Mark addresses bounced from delivery status notifications (.eml files or mboxes)."""
    from events.db import transaction
    from mail import bounces

    state = _state(ctx)
    migrate(state.engine)
    messages = [msg for file in files for msg in bounces.read_messages(file)]
    with transaction(state.sessions) as session:
        report = bounces.apply(session, messages, state.clock.now())
    for address in report.bounced:
        click.echo(f"bounced {address}")
    click.echo(report.summary())


@cli.command("worker")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option(
    "--idle",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.05, 3600),
    help="Seconds to wait when nothing is due.",
)
@click.option(
    "--connections",
    default=1,
    show_default=True,
    type=click.IntRange(1, 16),
    help="SMTP connections used at once (a thread each).",
)
@click.pass_context
def worker_command(ctx: click.Context, batch: int, idle: float, connections: int) -> None:
    """Run the mail service: drain the outbox, queue reminders and digests on time.

    Run as many as you like (one or many machines): no message is sent twice. SIGTERM or
    Ctrl-C finishes the message in hand, hands the rest back and exits 0.
    """
    import signal

    from mail.worker import Worker

    state = _state(ctx)
    migrate(state.engine)
    worker = Worker(
        state.sessions,
        state.settings,
        state.clock,
        batch=batch,
        idle=idle,
        connections=connections,
        log=lambda line: click.echo(line, err=True),
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: worker.stop())
    click.echo(f"worker {worker.name}: sending over {_smtp_label(state)}", err=True)
    total = worker.run()
    click.echo(f"worker {worker.name} stopped: {total.summary()}", err=True)


def _smtp_label(state: AppState) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(state.settings.smtp_url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}".rstrip(":")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `eventfeed` console script (a crash prints its stack: faulthandler)."""
    faulthandler.enable()
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="eventfeed")


if __name__ == "__main__":
    main()
