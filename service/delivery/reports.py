"""Telling the editors: a send finished (with its numbers) or paused itself."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from service.delivery.models import Send
from service.editorial.models import Issue, User
from service.emails import render_mail
from service.extensions import db
from service.mail.mailer import mailer
from service.mail.transport import MailError
from service.organisation import current_identity
from service.security import STAFF
from service.urls import absolute_url

log = logging.getLogger(__name__)


def editors() -> list[User]:
    """Return the active admins and editors: the people who follow sends."""
    query = select(User).where(User.is_active.is_(True), User.role.in_(STAFF))
    return list(db.session.scalars(query))


def _mail_editors(template: str, send: Send, **context: object) -> int:
    issue = db.session.get(Issue, send.issue_id) if send.issue_id else None
    sent = 0
    for editor in editors():
        rendered = render_mail(
            template,
            editor.locale,
            {
                "organisation": current_identity(),
                "editor": {"name": editor.display_name},
                "send": send,
                "issue_label": issue.label if issue else send.subject,
                "send_url": absolute_url("sends.show", send_id=send.id),
                **context,
            },
        )
        try:
            mailer.send_transactional(rendered, to=editor.email, to_name=editor.name)
            sent += 1
        except MailError:
            log.exception("could not tell %s about send %s", editor.email, send.id)
    return sent


def notify_paused(send_id: int) -> None:
    """Mail the editors that a send paused itself, and why."""
    send = db.session.get(Send, send_id)
    if send is not None:
        _mail_editors("send_paused", send)


def report_finished(send: Send, now: datetime) -> None:
    """Mail the editors the final numbers of a send, once."""
    from service.delivery.operations import progress

    if send.reported_at is not None:
        return
    numbers = progress(send, now)
    _mail_editors("send_report", send, counts=numbers.counts, total=numbers.total)
    send.reported_at = now
    current_app.logger.info("send %s reported to the editors", send.id)
