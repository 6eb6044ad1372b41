"""EventFeed: the Flask application factory and the `eventfeed` command line."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy.exc import OperationalError, ProgrammingError

from events import exporter, importer
from events import subscriptions as _subscriptions  # noqa: F401  (registers the tables)
from events.config import Settings
from events.db import make_engine, make_sessionmaker, migrate
from events.errors import EventFeedError
from web.context import EXTENSION, AppState, close_db

SAMPLE_DATA = "sample_data/seminars.yaml"


def create_app(config: Mapping[str, Any] | Settings | None = None) -> Flask:
    """Create the application; `config` overrides EVENTFEED_* environment settings."""
    if isinstance(config, Settings):
        settings = config.completed()
    else:
        settings = Settings.from_env(**dict(config or {}))
    app = Flask(__name__, instance_path=str(Path(settings.instance_path).resolve()))
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=5 * 1024 * 1024)
    engine = make_engine(settings.database_url, pool_pre_ping=True)
    app.extensions[EXTENSION] = AppState(settings, engine, make_sessionmaker(engine))
    app.teardown_appcontext(close_db)
    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from web import health

    app.register_blueprint(health.bp)


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


def _state(ctx: click.Context) -> AppState:
    """Return the state of the CLI's application, created once and closed with the command."""
    obj = ctx.ensure_object(dict)
    if "app" not in obj:
        obj["app"] = create_app()
        ctx.find_root().call_on_close(obj["app"].extensions[EXTENSION].engine.dispose)
    found: AppState = obj["app"].extensions[EXTENSION]
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
@click.pass_context
def import_command(
    ctx: click.Context, files: tuple[Path, ...], series_slug: str | None, fmt: str | None
) -> None:
    """Import series and talks from YAML, JSON, CSV or .ics files (all or nothing)."""
    state = _state(ctx)
    migrate(state.engine)
    report = importer.import_files(state.sessions, files, fmt=fmt, default_series=series_slug)
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


def _serve(ctx: click.Context, host: str, port: int, debug: bool) -> None:
    app: Flask = ctx.obj["app"]
    state = _state(ctx)
    migrate(state.engine)
    click.echo(f"EventFeed on http://{host}:{port}/ (base URL {state.settings.base_url})", err=True)
    app.run(host=host, port=port, debug=debug, use_reloader=False)


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
    """Load the sample seminar series, then serve them."""
    state = _state(ctx)
    migrate(state.engine)
    report = importer.import_files(state.sessions, [sample_data_path()])
    click.echo(f"sample data: {report.summary()}", err=True)
    if not no_serve:
        _serve(ctx, host, port, False)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `eventfeed` console script."""
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="eventfeed")


if __name__ == "__main__":
    main()
