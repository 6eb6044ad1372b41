"""The mail viewer of development and demo mode: every email the outbox holds, readable.

`/dev/mail` lists the outbox, newest first (caught emails are marked sent, see
`Settings.mail_catch`); `/dev/mail/<id>` shows one message: its headers, the text part with
working links, and links to the HTML part, the .ics attachment and the raw .eml. Every
route answers 404 in production.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage

from flask import Blueprint, Response, abort
from markupsafe import Markup, escape
from sqlalchemy import select

from events.models import Outbox
from web import pages
from web.context import db, settings

bp = Blueprint("devmail", __name__)

LIMIT = 200
_URL = re.compile(r"https?://[^\s<>\"')]+")
# The HTML part is a page of its own, shown sandboxed: no script, no form, no plugin.
HTML_PART_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; sandbox"


@bp.before_request
def _only_in_development() -> None:
    if not settings().dev_tools:
        abort(404)


def _row(row_id: int) -> tuple[Outbox, EmailMessage]:
    row = db().get(Outbox, row_id)
    if row is None or row.message is None:
        abort(404, "No such email.")
    parsed = message_from_bytes(row.message, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return row, parsed


def _part(msg: EmailMessage, content_type: str) -> str | None:
    for part in msg.walk():
        if part.get_content_type() == content_type and isinstance(part, EmailMessage):
            content: str = part.get_content()
            return content
    return None


def linked(text: str) -> Markup:
    """Return text, HTML-escaped, with its URLs as links."""
    out: list[str] = []
    last = 0
    for found in _URL.finditer(text):
        out.append(str(escape(text[last : found.start()])))
        url = escape(found.group(0))
        out.append(f'<a href="{url}">{url}</a>')
        last = found.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


@bp.get("/dev/mail")
def mail_list() -> tuple[str, int]:
    """List the outbox, newest first."""
    rows = db().scalars(select(Outbox).order_by(Outbox.id.desc()).limit(LIMIT)).all()
    return pages.render_page(
        "dev/mail_list.html", rows=rows, catching=settings().mail_catch, no_times=True
    )


@bp.get("/dev/mail/<int:row_id>")
def mail_message(row_id: int) -> tuple[str, int]:
    """Show one email: headers, text part with links, links to its other parts."""
    row, msg = _row(row_id)
    return pages.render_page(
        "dev/mail_message.html",
        row=row,
        msg=msg,
        text=linked(_part(msg, "text/plain") or ""),
        has_html=_part(msg, "text/html") is not None,
        has_ics=_part(msg, "text/calendar") is not None,
        no_times=True,
    )


@bp.get("/dev/mail/<int:row_id>.html")
def mail_html(row_id: int) -> Response:
    """The HTML part, as the reader's mail program would show it (sandboxed)."""
    _, msg = _row(row_id)
    html = _part(msg, "text/html")
    if html is None:
        abort(404, "This email has no HTML part.")
    response = Response(html, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = HTML_PART_POLICY
    return response


@bp.get("/dev/mail/<int:row_id>.ics")
def mail_ics(row_id: int) -> Response:
    """The calendar attachment."""
    _, msg = _row(row_id)
    ics = _part(msg, "text/calendar")
    if ics is None:
        abort(404, "This email has no calendar attachment.")
    return Response(ics, content_type="text/calendar; charset=utf-8")


@bp.get("/dev/mail/<int:row_id>.eml")
def mail_eml(row_id: int) -> Response:
    """The message as sent."""
    row, _ = _row(row_id)
    assert row.message is not None
    return Response(row.message, content_type="message/rfc822")
