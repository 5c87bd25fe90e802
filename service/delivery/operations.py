"""Starting, following and controlling sends; the clock's tick.

Operations change the session and flush; the caller (clock, view, CLI) commits,
except `start_due_issues` and `finish_sends`, which own one transaction per send so
that two clocks never start or finish one send twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, exists, func, insert, literal, select, update

from service.delivery.models import (
    Delivery,
    DeliveryStatus,
    Send,
    SendStatus,
)
from service.editorial import operations as editorial
from service.editorial.models import Issue, IssueStatus
from service.errors import Conflict, NotFound
from service.extensions import db
from service.organisation import current_identity
from service.subscribers.models import (
    MailingList,
    Membership,
    MembershipStatus,
    Subscriber,
    SubscriberStatus,
)
from service.tracking.operations import track_send

log = logging.getLogger(__name__)

#: statuses in which a delivery still needs work
OPEN = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)


def list_id_header(mailing_list: MailingList) -> str:
    """Return the List-Id value (RFC 2919): the list's name and a stable id."""
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"
    return f"{mailing_list.name} <{mailing_list.slug}.{host}>"


def start_send(
    *,
    issue: Issue | None,
    lists: list[MailingList],
    subject: str,
    html: str,
    text: str,
    now: datetime,
) -> Send:
    """Freeze a message and queue one delivery per active reader of the lists.

    The deliveries are made with one INSERT … SELECT: a reader on two of the lists
    gets one row, readers who are not active (pending, unsubscribed, bounced,
    complained; erased readers are gone) get none.
    """
    if not lists:
        raise Conflict(_("Een verzending heeft ten minste één lijst nodig."))
    config = current_app.config
    send = Send(
        kind="issue" if issue else "letter",
        issue_id=issue.id if issue else None,
        list_id=lists[0].id,
        audience=[item.id for item in lists],
        subject=subject,
        html=html,
        text=text,
        from_address=config["MAIL_NEWSLETTER_SENDER"],
        from_name=current_identity().name,
        list_header=list_id_header(lists[0]),
        created_at=now,
    )
    db.session.add(send)
    db.session.flush()
    # Tracking (issue 5): store the send's links and freeze the HTML with click URLs
    # and an open pixel as TRACKING_MODE says (off: unchanged). Needs send.id.
    send.html = track_send(send)
    on_a_list = exists().where(
        and_(
            Membership.subscriber_id == Subscriber.id,
            Membership.list_id.in_(send.audience),
            Membership.status == MembershipStatus.ACTIVE,
        )
    )
    readers = select(
        literal(send.id),
        Subscriber.id,
        literal(DeliveryStatus.QUEUED.value),
        literal(0),
        literal(0),
        literal(now),
        literal(False),
        literal(""),
        literal(now),
    ).where(Subscriber.status == SubscriberStatus.ACTIVE, on_a_list)
    db.session.execute(
        insert(Delivery).from_select(
            [
                "send_id",
                "subscriber_id",
                "status",
                "attempts",
                "reclaims",
                "next_attempt_at",
                "is_uncertain",
                "smtp_reply",
                "updated_at",
            ],
            readers,
        )
    )
    # Counted, not taken from rowcount: psycopg reports -1 for INSERT … SELECT.
    send.total = db.session.scalar(
        select(func.count()).where(Delivery.send_id == send.id)
    )
    db.session.flush()
    return send


@dataclass(frozen=True)
class Started:
    """What one tick of the clock did with one due issue."""

    issue_id: int
    send_id: int | None
    message: str


def start_due_issues(now: datetime) -> list[Started]:
    """Start every scheduled issue whose moment has come, each exactly once.

    The status moves from scheduled to sending with a conditional UPDATE in the
    same transaction that creates the send: a second clock's UPDATE finds nothing
    to change (PostgreSQL waits on the row lock, SQLite on the write lock).
    """
    due = db.session.scalars(
        select(Issue.id).where(
            Issue.status == IssueStatus.SCHEDULED, Issue.send_at <= now
        )
    ).all()
    db.session.rollback()
    started = []
    for issue_id in due:
        started.append(_start_issue(issue_id, now))
    return started


def _start_issue(issue_id: int, now: datetime) -> Started:
    claimed = db.session.execute(
        update(Issue)
        .where(Issue.id == issue_id, Issue.status == IssueStatus.SCHEDULED)
        .values(status=IssueStatus.SENDING)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        return Started(issue_id, None, "started by another clock")
    issue = db.session.get(Issue, issue_id, populate_existing=True)
    assert issue is not None
    rendered = editorial.render(issue)
    if editorial.content_hash(rendered) != issue.approved_hash:
        # Changed after approval (the page withdraws approvals; this is the last
        # line of defence): back to review, nothing is sent.
        issue.status = IssueStatus.IN_REVIEW
        issue.approved_hash = None
        issue.send_at = None
        db.session.commit()
        log.warning("issue %s changed after approval; not sent", issue_id)
        return Started(issue_id, None, "content changed after approval")
    lists = list(
        db.session.scalars(
            select(MailingList).where(
                MailingList.id.in_([a.list_id for a in issue.audience])
            )
        )
    )
    send = start_send(
        issue=issue,
        lists=lists,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        now=now,
    )
    db.session.commit()
    log.info("issue %s: send %s started for %s readers", issue_id, send.id, send.total)
    return Started(issue_id, send.id, f"{send.total} recipients")


@dataclass(frozen=True)
class Progress:
    """How far a send is, for the progress view and the report."""

    total: int
    counts: dict[str, int]
    sent_last_minute: int

    @property
    def remaining(self) -> int:
        return sum(self.counts.get(str(s), 0) for s in OPEN)

    @property
    def done(self) -> int:
        return self.total - self.remaining

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 100.0

    @property
    def rate_per_minute(self) -> int:
        return self.sent_last_minute

    def eta(self, now: datetime) -> datetime | None:
        """Return when the send will end at the current rate, if it is moving."""
        if not self.remaining or not self.sent_last_minute:
            return None
        return now + timedelta(minutes=self.remaining / self.sent_last_minute)


def progress(send: Send, now: datetime) -> Progress:
    """Count a send's deliveries by status (one grouped query on an index)."""
    counts = dict(
        db.session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.send_id == send.id)
            .group_by(Delivery.status)
        ).all()
    )
    recent = db.session.scalar(
        select(func.count()).where(
            Delivery.send_id == send.id,
            Delivery.status == DeliveryStatus.SENT,
            Delivery.sent_at >= now - timedelta(minutes=1),
        )
    )
    return Progress(
        total=sum(counts.values()),
        counts={str(k): v for k, v in counts.items()},
        sent_last_minute=recent or 0,
    )


def finish_sends(now: datetime) -> list[Send]:
    """Close every sending send with nothing left to do; its issue becomes sent."""
    finished = []
    candidates = db.session.scalars(
        select(Send.id).where(Send.status == SendStatus.SENDING)
    ).all()
    for send_id in candidates:
        open_rows = db.session.scalar(
            select(func.count()).where(
                Delivery.send_id == send_id, Delivery.status.in_(OPEN)
            )
        )
        if open_rows:
            continue
        closed = db.session.execute(
            update(Send)
            .where(Send.id == send_id, Send.status == SendStatus.SENDING)
            .values(status=SendStatus.DONE, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        if closed.rowcount != 1:
            db.session.rollback()
            continue
        send = db.session.get(Send, send_id, populate_existing=True)
        assert send is not None
        if send.issue_id is not None:
            db.session.execute(
                update(Issue)
                .where(Issue.id == send.issue_id, Issue.status == IssueStatus.SENDING)
                .values(status=IssueStatus.SENT, sent_at=now)
                .execution_options(synchronize_session=False)
            )
        db.session.commit()
        finished.append(send)
    return finished


def get_send(send_id: int) -> Send:
    """Return the send or raise NotFound."""
    send = db.session.get(Send, send_id)
    if send is None:
        raise NotFound(_("Deze verzending bestaat niet."))
    return send


def pause(send: Send, reason: str = "") -> None:
    """Stop handing out this send's deliveries; those in a batch finish."""
    if send.status != SendStatus.SENDING:
        raise Conflict(_("Alleen een lopende verzending kan worden gepauzeerd."))
    send.move_to(SendStatus.PAUSED)
    send.pause_reason = reason


def resume(send: Send) -> None:
    """Let the senders take this send's deliveries again."""
    if send.status != SendStatus.PAUSED:
        raise Conflict(_("Deze verzending is niet gepauzeerd."))
    send.move_to(SendStatus.SENDING)
    send.pause_reason = ""
    send.failure_streak = 0


def cancel(send: Send, now: datetime) -> int:
    """Cancel what has not been sent; return how many deliveries were cancelled."""
    if send.status in (SendStatus.DONE, SendStatus.CANCELLED):
        raise Conflict(_("Deze verzending is al afgelopen."))
    send.move_to(SendStatus.CANCELLED)
    send.finished_at = now
    result = db.session.execute(
        update(Delivery)
        .where(
            Delivery.send_id == send.id,
            Delivery.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED]),
        )
        .values(status=DeliveryStatus.CANCELLED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if send.issue_id is not None:
        issue = db.session.get(Issue, send.issue_id)
        if issue is not None and issue.status == IssueStatus.SENDING:
            # What went out went out: the issue counts as sent to those readers.
            issue.status = IssueStatus.SENT
            issue.sent_at = now
    return result.rowcount or 0


def retry_failed(send: Send, now: datetime) -> int:
    """Queue the failed and set-aside deliveries of a send again ("send again")."""
    again = (
        db.session.execute(
            update(Delivery)
            .where(
                Delivery.send_id == send.id,
                Delivery.status.in_(
                    [DeliveryStatus.FAILED, DeliveryStatus.QUARANTINED]
                ),
            )
            .values(
                status=DeliveryStatus.QUEUED,
                attempts=0,
                reclaims=0,
                next_attempt_at=now,
                # A new round: a temporary refusal gets the whole period again.
                retrying_since=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
    if again and send.status == SendStatus.DONE:
        send.move_to(SendStatus.SENDING)
        send.finished_at = None
        send.reported_at = None
    return again
