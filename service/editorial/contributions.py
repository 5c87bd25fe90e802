"""Correspondents' contributions: submitting, deciding, and the deadline reminder.

Operations change the session and flush; the caller (view, CLI, clock) commits.
The mails to correspondents are sent by the `send_*` functions here, after the
caller committed the decision they report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import select, update

from service.editorial import operations
from service.editorial.images import store_image
from service.editorial.models import (
    Article,
    Contribution,
    ContributionStatus,
    Issue,
    IssueStatus,
    User,
)
from service.emails import render_mail
from service.errors import Conflict, DomainError, NotFound
from service.extensions import db
from service.i18n import force_language
from service.mail.mailer import mailer
from service.mail.transport import MailError
from service.organisation import current_identity
from service.security import Role
from service.urls import absolute_url

log = logging.getLogger(__name__)

#: issues a correspondent can still write for (before the deadline has passed)
OPEN_STATUSES = (IssueStatus.PLANNED, IssueStatus.DRAFT, IssueStatus.IN_REVIEW)


class DeadlinePassed(Conflict):
    """The issue no longer takes contributions."""


@dataclass(frozen=True)
class OpenIssue:
    """An issue that takes contributions, and how many days are left until the end."""

    issue: Issue
    #: 0 on the day of the deadline itself
    days_left: int


@dataclass
class SentReminder:
    """The reminder mails that went out for one issue."""

    issue: Issue
    recipients: list[str] = field(default_factory=list)
    #: addresses the mail server refused or could not be reached for
    failed: list[str] = field(default_factory=list)


# Time -------------------------------------------------------------------------------


def local_today(now: datetime) -> date:
    """Return the calendar date in the configured time zone at `now` (naive UTC)."""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    return now.replace(tzinfo=UTC).astimezone(zone).date()


def days_left(issue: Issue, now: datetime) -> int | None:
    """Return the days until the issue's deadline (0 on the day, negative after)."""
    if issue.contribution_deadline is None:
        return None
    return (issue.contribution_deadline - local_today(now)).days


def is_open(issue: Issue, now: datetime) -> bool:
    """Tell whether correspondents may still send in contributions for `issue`."""
    remaining = days_left(issue, now)
    return issue.status in OPEN_STATUSES and remaining is not None and remaining >= 0


# Reading ----------------------------------------------------------------------------


def open_issues(now: datetime) -> list[OpenIssue]:
    """Return the issues that take contributions, nearest deadline first."""
    query = (
        select(Issue)
        .where(
            Issue.status.in_([str(s) for s in OPEN_STATUSES]),
            Issue.contribution_deadline >= local_today(now),
        )
        .order_by(Issue.contribution_deadline, Issue.year, Issue.number)
    )
    return [
        OpenIssue(issue, days_left(issue, now) or 0)
        for issue in db.session.scalars(query)
    ]


def get_contribution(contribution_id: int) -> Contribution:
    """Return the contribution or raise NotFound."""
    contribution = db.session.get(Contribution, contribution_id)
    if contribution is None:
        raise NotFound(_("Deze bijdrage bestaat niet (meer)."))
    return contribution


def contributions_by(author: User) -> list[Contribution]:
    """Return a correspondent's own contributions, newest first."""
    query = (
        select(Contribution)
        .filter_by(author_id=author.id)
        .order_by(Contribution.created_at.desc(), Contribution.id.desc())
    )
    return list(db.session.scalars(query))


def contributions_for(issue: Issue) -> list[Contribution]:
    """Return the contributions sent in for an issue, oldest first."""
    query = (
        select(Contribution)
        .filter_by(issue_id=issue.id)
        .order_by(Contribution.created_at, Contribution.id)
    )
    return list(db.session.scalars(query))


def new_contributions() -> list[Contribution]:
    """Return every contribution that awaits a decision, oldest first."""
    query = (
        select(Contribution)
        .filter_by(status=ContributionStatus.SUBMITTED)
        .order_by(Contribution.created_at, Contribution.id)
    )
    return list(db.session.scalars(query))


# Writing ----------------------------------------------------------------------------


def check_open(issue: Issue, now: datetime) -> None:
    """Raise DeadlinePassed when `issue` no longer takes contributions."""
    if is_open(issue, now):
        return
    if issue.contribution_deadline is None or issue.status not in OPEN_STATUSES:
        raise DeadlinePassed(_("Voor dit nummer kunt u geen bijdrage meer insturen."))
    raise DeadlinePassed(
        _(
            "De deadline voor dit nummer is verstreken (%(date)s). Uw bijdrage is "
            "niet ingestuurd; neem contact op met de redactie als het nog mee moet.",
            date=format_date(issue.contribution_deadline, "long"),
        )
    )


def submit(
    issue: Issue,
    author: User,
    now: datetime,
    *,
    title: str,
    body: str,
    image_data: bytes | None = None,
    image_name: str = "",
    image_alt: str = "",
) -> Contribution:
    """Send in a contribution for an open issue, with an optional described image."""
    check_open(issue, now)
    if not title.strip():
        raise DomainError(_("Geef uw bijdrage een titel."), field="title")
    if not body.strip():
        raise DomainError(_("Schrijf de tekst van uw bijdrage."), field="body")
    image_alt = image_alt.strip()
    image = None
    if image_data:
        # Checked before storing, so a refused upload leaves no file behind.
        if not image_alt:
            raise DomainError(
                _(
                    "Beschrijf de afbeelding in een korte zin, voor lezers die haar "
                    "niet kunnen zien."
                ),
                field="image_alt",
            )
        image = store_image(image_data, image_name, author)
    contribution = Contribution(
        issue_id=issue.id,
        author_id=author.id,
        title=title.strip(),
        body=body,
        image_id=image.id if image else None,
        image_alt=image_alt if image else "",
        created_at=now,
    )
    db.session.add(contribution)
    db.session.flush()
    return contribution


def _check_undecided(contribution: Contribution) -> None:
    if contribution.status != ContributionStatus.SUBMITTED:
        raise Conflict(_("Over deze bijdrage is al besloten."))


def accept(
    contribution: Contribution, editor: User, now: datetime, note: str = ""
) -> tuple[Article, list[str]]:
    """Take a contribution into its issue as the last article, credited to its author.

    Returns the new article and the notices for the editor (a withdrawn approval).
    """
    _check_undecided(contribution)
    issue = contribution.issue
    author = contribution.author
    # add_article withdraws an approval the new text invalidates; tell the editor so.
    was_approved = issue.status in (IssueStatus.APPROVED, IssueStatus.SCHEDULED)
    article = operations.add_article(
        issue,
        editor,
        now,
        title=contribution.title,
        body=contribution.body,
        image_id=contribution.image_id,
        image_alt=contribution.image_alt,
        author=author.display_name if author else "",
        contribution_id=contribution.id,
    )
    contribution.status = ContributionStatus.ACCEPTED
    contribution.note = note.strip()
    contribution.decided_at = now
    contribution.decided_by_id = editor.id
    db.session.flush()
    notices = []
    if was_approved:
        notices.append(
            _(
                "De goedkeuring is ingetrokken omdat de inhoud veranderde. "
                "Een tweede redacteur moet opnieuw goedkeuren."
            )
        )
    return article, notices


def send_back(
    contribution: Contribution, editor: User, now: datetime, note: str
) -> None:
    """Return a contribution to its author with the editors' note."""
    _check_undecided(contribution)
    if not note.strip():
        raise DomainError(
            _("Schrijf erbij waarom, zodat de correspondent weet wat te doen."),
            field="note",
        )
    contribution.status = ContributionStatus.RETURNED
    contribution.note = note.strip()
    contribution.decided_at = now
    contribution.decided_by_id = editor.id
    db.session.flush()


# Mails ------------------------------------------------------------------------------


def _locale_of(user: User) -> str:
    return user.locale or current_app.config["DEFAULT_LOCALE"]


def _mail(user: User, template: str, **context: object) -> None:
    identity = current_identity()
    rendered = render_mail(
        template,
        _locale_of(user),
        {
            "organisation": identity,
            "name": user.name,
            "contributions_url": absolute_url("contributions.index"),
            **context,
        },
    )
    mailer.send_transactional(
        rendered, to=user.email, to_name=user.name, sender_name=identity.name
    )


def send_decision(contribution: Contribution) -> None:
    """Tell the author that their contribution was accepted or returned."""
    author = contribution.author
    if author is None or not author.is_active:
        return  # the account is gone; nobody to tell
    template = {
        ContributionStatus.ACCEPTED: "contribution_accepted",
        ContributionStatus.RETURNED: "contribution_returned",
    }[ContributionStatus(contribution.status)]
    _mail(
        author,
        template,
        contribution={"title": contribution.title, "note": contribution.note},
        issue={"label": contribution.issue.label},
    )


def reminders_due(now: datetime) -> list[Issue]:
    """Return the open issues whose deadline is near and whose reminder is unsent."""
    today = local_today(now)
    horizon = today + timedelta(days=current_app.config["CONTRIBUTION_REMINDER_DAYS"])
    query = (
        select(Issue)
        .where(
            Issue.status.in_([str(s) for s in OPEN_STATUSES]),
            Issue.contribution_deadline >= today,
            Issue.contribution_deadline <= horizon,
            Issue.reminder_sent_at.is_(None),
        )
        .order_by(Issue.contribution_deadline, Issue.id)
    )
    return list(db.session.scalars(query))


def _claim_reminder(issue: Issue, now: datetime) -> bool:
    # A conditional UPDATE: when two clocks run at once, only one sets the moment,
    # and the other (after the first commits) finds nothing to claim.
    result = db.session.execute(
        update(Issue)
        .where(Issue.id == issue.id, Issue.reminder_sent_at.is_(None))
        .values(reminder_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(issue, ["reminder_sent_at"])
    return result.rowcount == 1  # type: ignore[attr-defined]


def remind_correspondents(now: datetime) -> list[SentReminder]:
    """Mail every active correspondent once about each deadline that is near.

    The reminder counts as sent for the issue even when a single address fails,
    so the others never get it twice; the failures are returned to be reported.
    """
    correspondents = list(
        db.session.scalars(
            select(User)
            .filter_by(role=Role.CORRESPONDENT, is_active=True)
            .order_by(User.id)
        )
    )
    sent = []
    for issue in reminders_due(now):
        if not _claim_reminder(issue, now):
            continue
        outcome = SentReminder(issue)
        remaining = days_left(issue, now) or 0
        for person in correspondents:
            try:
                with force_language(_locale_of(person)):
                    deadline_text = format_date(issue.contribution_deadline, "full")
                _mail(
                    person,
                    "contribution_reminder",
                    issue={
                        "label": issue.label,
                        "theme": issue.theme.name if issue.theme else "",
                        "deadline_text": deadline_text,
                        "days_left": remaining,
                    },
                    submit_url=absolute_url("contributions.submit", issue_id=issue.id),
                )
            except MailError as error:
                log.warning(
                    "reminder for issue %s to %s: %s", issue.id, person.id, error
                )
                outcome.failed.append(person.email)
            else:
                outcome.recipients.append(person.email)
        sent.append(outcome)
    db.session.flush()
    return sent
