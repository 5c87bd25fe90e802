"""Following and steering sends: progress, pause, resume, cancel, send again."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import select

from service.db import utcnow
from service.delivery import operations
from service.delivery.models import PAUSED_BY_EDITOR, Delivery, DeliveryStatus, Send
from service.editorial.models import Issue
from service.errors import DomainError
from service.extensions import db
from service.security import STAFF, roles
from service.subscribers.models import Subscriber

bp = Blueprint("sends", __name__, url_prefix="/admin/sends")


@bp.get("/")
@roles(*STAFF)
def index() -> str:
    """List the sends, newest first."""
    sends = db.session.scalars(select(Send).order_by(Send.id.desc()).limit(100)).all()
    issues = {
        issue.id: issue
        for issue in db.session.scalars(
            select(Issue).where(Issue.id.in_({s.issue_id for s in sends if s.issue_id}))
        )
    }
    now = utcnow()
    return render_template(
        "admin/sends/index.html",
        sends=[(s, issues.get(s.issue_id), operations.progress(s, now)) for s in sends],
    )


def _progress_json(send: Send) -> dict[str, object]:
    now = utcnow()
    progress = operations.progress(send, now)
    eta = progress.eta(now)
    return {
        "status": str(send.status),
        "total": progress.total,
        "done": progress.done,
        "remaining": progress.remaining,
        "percent": round(progress.percent, 1),
        "per_minute": progress.rate_per_minute,
        "eta": format_datetime(eta, "HH:mm") if eta else None,
        "counts": progress.counts,
    }


@bp.get("/<int:send_id>")
@roles(*STAFF)
def show(send_id: int) -> str:
    """Show a send's progress with a bar, its numbers and its controls."""
    send = operations.get_send(send_id)
    issue = db.session.get(Issue, send.issue_id) if send.issue_id else None
    problems = db.session.execute(
        select(
            Subscriber.email, Delivery.status, Delivery.smtp_reply, Delivery.attempts
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(
            Delivery.send_id == send.id,
            Delivery.status.in_(
                [
                    DeliveryStatus.FAILED,
                    DeliveryStatus.DEFERRED,
                    DeliveryStatus.QUARANTINED,
                ]
            ),
        )
        .order_by(Delivery.id)
        .limit(200)
    ).all()
    uncertain = db.session.scalar(
        select(db.func.count()).where(
            Delivery.send_id == send.id, Delivery.is_uncertain.is_(True)
        )
    )
    return render_template(
        "admin/sends/show.html",
        send=send,
        issue=issue,
        numbers=_progress_json(send),
        problems=problems,
        uncertain=uncertain or 0,
    )


@bp.get("/<int:send_id>/progress.json")
@roles(*STAFF)
def progress(send_id: int) -> Response:
    """Answer the live numbers for the progress bar."""
    return jsonify(_progress_json(operations.get_send(send_id)))


def _control(send_id: int, action: str) -> Response:
    send = operations.get_send(send_id)
    now = utcnow()
    try:
        if action == "pause":
            operations.pause(send, PAUSED_BY_EDITOR)
            message = _(
                "De verzending is gepauzeerd. Wat al onderweg was, gaat nog uit."
            )
        elif action == "resume":
            operations.resume(send)
            message = _("De verzending gaat verder.")
        elif action == "cancel":
            count = operations.cancel(send, now)
            message = _(
                "De verzending is geannuleerd; %(n)s berichten gaan niet meer uit.",
                n=count,
            )
        else:
            count = operations.retry_failed(send, now)
            message = _("%(n)s geweigerde berichten gaan opnieuw uit.", n=count)
    except DomainError as error:
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("sends.show", send_id=send_id))


@bp.post("/<int:send_id>/pause")
@roles(*STAFF)
def pause(send_id: int) -> Response:
    """Pause a running send."""
    return _control(send_id, "pause")


@bp.post("/<int:send_id>/resume")
@roles(*STAFF)
def resume(send_id: int) -> Response:
    """Resume a paused send."""
    return _control(send_id, "resume")


@bp.post("/<int:send_id>/cancel")
@roles(*STAFF)
def cancel(send_id: int) -> Response:
    """Cancel what has not been sent."""
    return _control(send_id, "cancel")


@bp.post("/<int:send_id>/retry")
@roles(*STAFF)
def retry(send_id: int) -> Response:
    """Send again to those who failed."""
    return _control(send_id, "retry")
