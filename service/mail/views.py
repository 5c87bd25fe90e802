"""The dev outbox in the admin: every message the outbox transport stored."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, render_template

from service.mail.outbox import date_of, list_messages, parts_of, read_message
from service.security import STAFF, roles

bp = Blueprint("outbox", __name__, url_prefix="/admin/outbox")


def _directory() -> Path:
    return Path(current_app.config["MAIL_OUTBOX_DIR"])


@bp.get("/")
@roles(*STAFF)
def index() -> str:
    """List the stored messages, newest first."""
    return render_template(
        "admin/outbox/index.html",
        messages=list_messages(_directory()),
        smtp=bool(current_app.config["MAIL_SERVER"]),
    )


@bp.get("/<message_id>")
@roles(*STAFF)
def show(message_id: str) -> str:
    """Show one message: headers, plain text and the HTML in a sandboxed frame."""
    message, raw = read_message(_directory(), message_id)
    text, _html = parts_of(message)
    return render_template(
        "admin/outbox/show.html",
        message_id=message_id,
        headers=list(message.items()),
        sent_at=date_of(message),
        text=text,
        raw_size=len(raw),
    )


@bp.get("/<message_id>/html")
@roles(*STAFF)
def html(message_id: str) -> Response:
    """Serve the HTML part for the sandboxed preview frame, scripts forbidden."""
    message, _raw = read_message(_directory(), message_id)
    _text, body = parts_of(message)
    response = Response(body, mimetype="text/html")
    # The mail is shown as the reader would see it, but may run nothing.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; sandbox"
    )
    return response


@bp.get("/<message_id>/raw")
@roles(*STAFF)
def raw(message_id: str) -> Response:
    """Download the message as an .eml file."""
    _message, body = read_message(_directory(), message_id)
    return Response(
        body,
        mimetype="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="{message_id}.eml"'},
    )
