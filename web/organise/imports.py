"""Import with preview: upload a file into a series, see what would change, then apply it.

The uploaded bytes stay on the server, in `<instance>/imports/`, under a random name bound to
the organiser who uploaded them, for `KEEP` at most; the preview and "Apply" re-read and
re-parse those bytes (a client never sends a copy back). The same limits as the API import
apply (request size, file size, record count, text checks); "Apply" writes everything or
nothing, in one transaction, through `events.importer.apply`. A file with more talks than
`import_background_talks` is handed to `eventfeed worker` instead (`events.import_jobs`): the
organiser follows its progress on the job's page.

Who may import: every series a file names must be one you organise; a file that changes a
series' own settings needs its owner; a file cannot create a series (create it in the
workspace first).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from events import accounts, import_jobs, importer
from events.errors import EventFeedError, ImportFailed
from events.models import ImportJob, Series
from web.context import db, now, settings, state
from web.organise import bp
from web.organise.forms import ImportApplyForm, ImportUploadForm
from web.organise.history import label
from web.organise.routes import _series, me, page
from web.organise.signin import signed_in
from web.security import check_rate

KEEP = timedelta(hours=1)
TOKEN = re.compile(r"[0-9a-f]{32}")


@dataclass
class Upload:
    """An uploaded file kept for its preview: its bytes and where they came from."""

    token: str
    series: str
    name: str
    fmt: str
    raw: bytes


def _folder() -> Path:
    return Path(current_app.instance_path) / "imports"


def _paths(organiser_id: int, token: str) -> tuple[Path, Path]:
    base = _folder() / f"{organiser_id}-{token}"
    return base.with_suffix(".bin"), base.with_suffix(".json")


def _purge(moment: datetime) -> None:
    """Delete kept uploads older than KEEP (anyone's)."""
    folder = _folder()
    if not folder.is_dir():
        return
    for meta in folder.glob("*.json"):
        try:
            created = datetime.fromisoformat(json.loads(meta.read_text())["created"])
        except (OSError, ValueError, KeyError):
            created = moment - 2 * KEEP
        if moment - created > KEEP:
            meta.with_suffix(".bin").unlink(missing_ok=True)
            meta.unlink(missing_ok=True)


def _keep(organiser_id: int, slug: str, name: str, fmt: str, raw: bytes) -> str:
    moment = now()
    _purge(moment)
    _folder().mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    data, meta = _paths(organiser_id, token)
    data.write_bytes(raw)
    info = {"series": slug, "name": name, "format": fmt, "created": moment.isoformat()}
    meta.write_text(json.dumps(info))
    return token


def _load(organiser_id: int, slug: str, token: str) -> Upload:
    """Return a kept upload of this organiser for this series, or 404 (unknown or expired)."""
    if not TOKEN.fullmatch(token):
        abort(404, _("No such upload."))
    data, meta = _paths(organiser_id, token)
    try:
        info = json.loads(meta.read_text())
        raw = data.read_bytes()
    except (OSError, ValueError):
        abort(404, _("This upload is gone (uploads are kept for an hour). Upload the file again."))
    if info.get("series") != slug or now() - datetime.fromisoformat(info["created"]) > KEEP:
        abort(404, _("This upload is gone (uploads are kept for an hour). Upload the file again."))
    return Upload(token, slug, str(info["name"]), str(info["format"]), raw)


def _forget(organiser_id: int, token: str) -> None:
    for path in _paths(organiser_id, token):
        path.unlink(missing_ok=True)


def _parse(upload: Upload) -> importer.Parsed:
    """Parse kept bytes and check what the file may touch; raise ImportFailed with the reason."""
    parsed = importer.parse_bytes(upload.name, upload.raw, upload.fmt, upload.series, now())
    for where, data in parsed.series:
        _check_text(data, where)
    for item in parsed.events:
        _check_text(item.data, item.where)
    owned = {d.get("slug") for _, d in parsed.series}
    slugs = owned | {e.series for e in parsed.events}
    for slug in sorted(s for s in slugs if isinstance(s, str)):
        found = db().scalar(select(Series).where(Series.slug == slug))
        if found is None:
            raise ImportFailed(
                _(
                    "%(file)s: series '%(slug)s' does not exist; create it in the workspace first",
                    file=upload.name,
                    slug=slug,
                )
            )
        try:
            accounts.require(db(), me(), found, owner=slug in owned)
        except accounts.AccessDenied:
            text = (
                _(
                    "%(file)s: you are not an owner of series '%(slug)s'; remove it from the file",
                    file=upload.name,
                    slug=slug,
                )
                if accounts.role_in(db(), me(), found)
                else _(
                    "%(file)s: you are not an organiser of series '%(slug)s'; "
                    "remove it from the file",
                    file=upload.name,
                    slug=slug,
                )
            )
            raise ImportFailed(text) from None
    return parsed


def _check_text(value: Any, where: str) -> None:
    """Refuse NUL characters and lone surrogates, as the API import does."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ImportFailed(_("%(where)s: text must not contain NUL characters", where=where))
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ImportFailed(_("%(where)s: must be valid Unicode text", where=where)) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)
            _check_text(item, where)
    elif isinstance(value, list):
        for item in value:
            _check_text(item, where)


@bp.route("/organise/series/<slug>/import", methods=["GET", "POST"])
@signed_in
def import_upload(slug: str) -> Any:
    """Upload a file for a preview; nothing is written."""
    series, role = _series(slug)
    form = ImportUploadForm()
    if form.validate_on_submit():
        upload = request.files.get(form.file.name)
        raw = upload.read() if upload is not None else b""
        name = (upload.filename if upload is not None else "") or ""
        if not name or not raw:
            form.file.errors = [_("Choose a file to upload.")]
        else:
            check_rate(
                "workspace-import", f"organiser-{me().id}", settings().api_imports_per_hour, 3600
            )
            try:
                fmt = importer.detect_format(Path(name))
                importer.read_text(name, raw)
            except ImportFailed as exc:
                form.file.errors = [str(exc)]
            else:
                token = _keep(me().id, slug, Path(name).name, fmt, raw)
                return redirect(url_for("organise.import_preview", slug=slug, token=token))
    status = 422 if request.method == "POST" else 200
    return page("organise/import.html", status, form=form, series=series, role=role)


@bp.get("/organise/series/<slug>/import/<token>")
@signed_in
def import_preview(slug: str, token: str) -> tuple[str, int]:
    """The preview of a kept upload: per talk new / changed / unchanged / error, and missing."""
    series, role = _series(slug)
    upload = _load(me().id, slug, token)
    return _preview_page(series, role, upload, ImportApplyForm())


def _preview_page(
    series: Series, role: str, upload: Upload, form: ImportApplyForm, status: int = 200
) -> tuple[str, int]:
    try:
        parsed = _parse(upload)
    except ImportFailed as exc:
        preview = importer.Preview(failed=str(exc))
    else:
        preview = importer.preview_parsed(state().sessions, parsed, now())
    return page(
        "organise/import_preview.html",
        status,
        series=series,
        role=role,
        upload=upload,
        preview=preview,
        form=form,
        field_label=label,
    )


@bp.post("/organise/series/<slug>/import/<token>")
@signed_in
def import_apply(slug: str, token: str) -> Any:
    """Apply a kept upload: everything in one transaction, or nothing."""
    series, role = _series(slug)
    upload = _load(me().id, slug, token)
    form = ImportApplyForm()
    if not form.validate_on_submit():
        return _preview_page(series, role, upload, form, 400)
    check_rate("api-write", f"organiser-{me().id}", settings().api_writes_per_minute, 60)
    try:
        parsed = _parse(upload)
        if len(parsed.events) > settings().import_background_talks:
            return _queue(slug, upload, parsed, bool(form.cancel_missing.data))
        with state().sessions() as session, session.begin():
            report = importer.apply(
                session,
                parsed,
                now(),
                progress=False,
                cancel_missing=bool(form.cancel_missing.data),
            )
    except EventFeedError as exc:
        flash(_("Nothing was imported: %(error)s", error=exc))
        return _preview_page(series, role, upload, form, 422)
    _forget(me().id, token)
    counts = report.events
    summary = _(
        "Imported %(file)s: %(new)d new, %(changed)d changed, %(unchanged)d unchanged.",
        file=upload.name,
        new=counts["created"],
        changed=counts["updated"],
        unchanged=counts["unchanged"],
    )
    if report.cancelled:
        summary += " " + ngettext(
            "%(num)d missing talk cancelled.",
            "%(num)d missing talks cancelled.",
            len(report.cancelled),
        )
    flash(summary)
    db().expire_all()
    return redirect(url_for("organise.series", slug=slug))


def _queue(slug: str, upload: Upload, parsed: importer.Parsed, cancel: bool) -> Any:
    """Hand a checked upload to the worker and send the organiser to its progress page."""
    with state().sessions() as session, session.begin():
        job = import_jobs.queue(
            session,
            series=slug,
            organiser_id=me().id,
            who=me().email,
            name=upload.name,
            fmt=upload.fmt,
            raw=upload.raw,
            cancel_missing=cancel,
            total=len(parsed.events),
            now=now(),
        )
        job_id = job.id
    _forget(me().id, upload.token)
    return redirect(url_for("organise.import_job", slug=slug, job_id=job_id))


def _job(slug: str, job_id: int) -> tuple[Series, str, ImportJob]:
    """Return a job of this series for one of its organisers (or an admin), or 404."""
    series, role = _series(slug)
    db().expire_all()
    job = db().get(ImportJob, job_id)
    if job is None or job.series_slug != slug:
        abort(404, _("No such import."))
    return series, role, job


@bp.get("/organise/series/<slug>/import/jobs/<int:job_id>")
@signed_in
def import_job(slug: str, job_id: int) -> tuple[str, int]:
    """The progress of an import applied in the background, then its summary or error."""
    series, role, job = _job(slug, job_id)
    return page("organise/import_job.html", series=series, role=role, job=job)


@bp.get("/organise/series/<slug>/import/jobs/<int:job_id>.json")
@signed_in
def import_job_status(slug: str, job_id: int) -> Any:
    """The job's status, counts, summary and error as JSON (polled by the job's page)."""
    _, _unused, job = _job(slug, job_id)
    response = jsonify(import_jobs.status(job))
    response.headers["Cache-Control"] = "no-store"
    return response
