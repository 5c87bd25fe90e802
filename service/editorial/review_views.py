"""Preview, checklist, test send, review, approval and scheduling of an issue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from service import audit
from service.db import utcnow
from service.delivery.models import Send
from service.editorial import calendar, checks, operations
from service.editorial.models import Issue, IssueStatus, User
from service.editorial.review_forms import ScheduleForm, TestSendForm
from service.errors import DomainError
from service.extensions import db
from service.mail.mailer import mailer
from service.mail.message import RenderedEmail
from service.mail.transport import MailError
from service.rendering import SLOT_PREFERENCES_URL, SLOT_UNSUBSCRIBE_URL, personalise
from service.security import STAFF, roles
from service.subscribers.models import ListKind, MailingList
from service.urls import absolute_url

bp = Blueprint("review", __name__, url_prefix="/admin/issues")

#: The preview may show the mail's own styles and images, and run nothing at all.
PREVIEW_CSP = "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; sandbox"
#: A token no reader has: the reader's pages answer it with "this link is invalid".
PREVIEW_TOKEN = "voorbeeld"
#: The moment an editor usually starts from when nothing is chosen yet.
DEFAULT_SEND_TIME = time(9, 30)
#: From these statuses an issue can still be called off.
CANCELLABLE = {
    IssueStatus.PLANNED,
    IssueStatus.DRAFT,
    IssueStatus.IN_REVIEW,
    IssueStatus.APPROVED,
    IssueStatus.SCHEDULED,
}

#: The words for an issue's status, as the review pages say them.
#: The verdicts of the checklist in words, so nobody depends on the colour.
VERDICT_WORDS = {
    checks.Verdict.OK: _l("in orde"),
    checks.Verdict.WARNING: _l("let op"),
    checks.Verdict.PROBLEM: _l("probleem"),
}


@bp.context_processor
def words() -> dict[str, object]:
    """Give the review templates the words for the checklist's verdicts."""
    return {
        "verdict_word": lambda verdict: str(VERDICT_WORDS[verdict]),
    }


def _actor() -> str:
    """Return the current account as "Name <email>", as the audit log records it."""
    return f"{current_user.display_name} <{current_user.email}>"


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def local_moment(moment_utc: datetime) -> datetime:
    """Return a stored UTC moment in the organisation's time zone."""
    return moment_utc.replace(tzinfo=UTC).astimezone(_zone())


def spoken_moment(moment: datetime) -> str:
    """Return "vrijdag 6 maart 2026 om 09:30" for a zone-aware local moment."""
    day = format_datetime(moment, "EEEE d MMMM y", locale=str(get_locale()))
    return _("%(day)s om %(time)s", day=day, time=moment.strftime("%H:%M"))


def preview_slots() -> dict[str, str]:
    """Return working but harmless addresses for the reader slots of a preview."""
    return {
        SLOT_UNSUBSCRIBE_URL: absolute_url(
            "subscribers.unsubscribe", token=PREVIEW_TOKEN
        ),
        SLOT_PREFERENCES_URL: absolute_url(
            "subscribers.preferences", token=PREVIEW_TOKEN
        ),
    }


@dataclass(frozen=True)
class Approval:
    """What the preview says about the approval of the issue."""

    #: "current", "stale" (content changed while still approved), "withdrawn", ""
    state: str
    by: str = ""
    at: str = ""


def approval_of(issue: Issue) -> Approval:
    """Tell who approved the issue when, and whether a later change withdrew it."""
    if issue.approved_hash and issue.approved_at:
        by = issue.approved_by.display_name if issue.approved_by else "?"
        at = spoken_moment(local_moment(issue.approved_at))
        state = "current" if operations.approval_is_current(issue) else "stale"
        return Approval(state, by, at)
    if issue.status in (IssueStatus.IN_REVIEW, IssueStatus.DRAFT):
        # operations.touch wipes the approval; the audit log still knows it was there.
        for entry in db.session.scalars(
            select(audit.AuditLog)
            .filter_by(action="issue.approve")
            .order_by(audit.AuditLog.id.desc())
        ):
            if entry.detail.get("issue_id") == issue.id:
                return Approval(
                    "withdrawn",
                    entry.actor.split(" <")[0],
                    spoken_moment(local_moment(entry.created_at)),
                )
    return Approval("")


def _editors() -> list[User]:
    """Return the active accounts that may receive a test: admins and editors."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.is_active.is_(True), User.role.in_([str(r) for r in STAFF]))
            .order_by(User.name, User.email)
        )
    )


def _newsletter_lists() -> list[MailingList]:
    return list(
        db.session.scalars(
            select(MailingList)
            .filter_by(kind=ListKind.NEWSLETTER)
            .order_by(MailingList.position, MailingList.name)
        )
    )


def _test_form() -> TestSendForm:
    form = TestSendForm()
    form.recipients.choices = [
        (user.id, f"{user.display_name} ({user.email})") for user in _editors()
    ]
    if not form.is_submitted():
        form.recipients.data = [current_user.id]
    return form


def _preview_page(
    issue: Issue,
    *,
    test_form: TestSendForm | None = None,
    link_results: list[checks.LinkResult] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """Render the preview page: frames, plain text, checklist and the next steps."""
    locale = current_app.config["DEFAULT_LOCALE"]
    email = operations.render(issue, locale)
    content = operations.issue_content(issue)
    checklist = checks.run_checks(email, content, locale)
    if link_results is not None:
        checklist.append(checks.links_verdict(link_results))
    moment = local_moment(issue.send_at) if issue.send_at else None
    return render_template(
        "admin/review/preview.html",
        issue=issue,
        text=personalise(email, preview_slots()).text,
        checklist=checklist,
        link_results=link_results,
        web_url=content.web_url if issue.status == IssueStatus.SENT else "",
        approval=approval_of(issue),
        send_moment=spoken_moment(moment) if moment else "",
        audience=_audience_names(issue),
        test_form=test_form or _test_form(),
        can_cancel=issue.status in CANCELLABLE,
        send_id=db.session.scalar(
            select(Send.id).where(Send.issue_id == issue.id).order_by(Send.id.desc())
        ),
    ), status


def _audience_names(issue: Issue) -> list[str]:
    ids = [row.list_id for row in issue.audience]
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(MailingList.name)
            .where(MailingList.id.in_(ids))
            .order_by(MailingList.position)
        )
    )


def _back(issue: Issue) -> Response:
    return redirect(url_for("review.preview", issue_id=issue.id), 303)


@bp.get("/<int:issue_id>/preview")
@roles(*STAFF)
def preview(issue_id: int) -> tuple[str, int]:
    """Show the issue as readers will see it, with the checklist and the next steps."""
    return _preview_page(operations.get_issue(issue_id))


@bp.get("/<int:issue_id>/preview.html")
@roles(*STAFF)
def preview_html(issue_id: int) -> Response:
    """Serve the HTML of the issue for the sandboxed preview frames."""
    issue = operations.get_issue(issue_id)
    email = personalise(operations.render(issue), preview_slots())
    response = Response(email.html, mimetype="text/html")
    # The editor's own mail must not be able to run anything in the admin's origin.
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    return response


@bp.post("/<int:issue_id>/check-links")
@roles(*STAFF)
def check_links(issue_id: int) -> tuple[str, int]:
    """Ask every link in the issue whether it answers, and show the results."""
    issue = operations.get_issue(issue_id)
    email = operations.render(issue)
    web_url = operations.web_url(issue)
    # The web version only exists once the issue is sent; before that it is a 404
    # by design, not a broken link.
    skip = [] if issue.status == IssueStatus.SENT else [web_url]
    results = checks.check_links(checks.links_of(email, skip=skip))
    return _preview_page(issue, link_results=results)


@bp.post("/<int:issue_id>/test")
@roles(*STAFF)
def test_send(issue_id: int) -> Response | tuple[str, int]:
    """Send each chosen editor their own test copy, subject marked [TEST]."""
    issue = operations.get_issue(issue_id)
    form = _test_form()
    if not form.validate_on_submit():
        return _preview_page(issue, test_form=form, status=422)
    email = personalise(operations.render(issue), preview_slots())
    test = RenderedEmail(
        subject=f"[TEST] {email.subject}", html=email.html, text=email.text
    )
    chosen = [user for user in _editors() if user.id in form.recipients.data]
    sent, failed = [], []
    for user in chosen:
        try:
            mailer.send_transactional(test, to=user.email, to_name=user.display_name)
        except MailError as error:
            current_app.logger.warning("test of %s to %s: %s", issue.id, user.id, error)
            failed.append(user.display_name)
        else:
            sent.append(user.email)
    audit.record(_actor(), "issue.test", issue.label, issue_id=issue.id, sent=sent)
    db.session.commit()
    if sent:
        flash(
            ngettext(
                "De testversie is naar %(num)s redacteur verstuurd.",
                "De testversie is naar %(num)s redacteuren verstuurd.",
                len(sent),
            ),
            "success",
        )
    if failed:
        flash(
            _(
                "De mailserver nam de testversie niet aan voor: %(names)s. "
                "Probeer het later opnieuw of kijk de instellingen na.",
                names=", ".join(failed),
            ),
            "error",
        )
    return _back(issue)


@bp.post("/<int:issue_id>/review")
@roles(*STAFF)
def submit(issue_id: int) -> Response:
    """Offer the issue to the other editors for approval."""
    issue = operations.get_issue(issue_id)
    try:
        operations.submit_for_review(issue, current_user, utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _back(issue)
    audit.record(_actor(), "issue.review", issue.label, issue_id=issue.id)
    db.session.commit()
    flash(
        _("Het nummer ligt ter controle. Een andere redacteur kan het goedkeuren."),
        "success",
    )
    return _back(issue)


@bp.post("/<int:issue_id>/approve")
@roles(*STAFF)
def approve(issue_id: int) -> Response:
    """Approve exactly this content, as a second pair of eyes."""
    issue = operations.get_issue(issue_id)
    try:
        operations.approve(issue, current_user, utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _back(issue)
    audit.record(
        _actor(),
        "issue.approve",
        issue.label,
        issue_id=issue.id,
        content_hash=issue.approved_hash,
    )
    db.session.commit()
    flash(_("Goedgekeurd. Het nummer kan nu worden ingepland."), "success")
    return _back(issue)


def _moment_warnings(moment: datetime) -> list[str]:
    """Return why a local moment is an odd one to send at (holiday, night)."""
    warnings = []
    holiday = calendar.holiday_on(moment.date())
    if holiday:
        warnings.append(
            _(
                "Op %(day)s is het %(holiday)s, een feestdag: veel lezers kijken dan "
                "niet in hun mail.",
                day=format_datetime(moment, "EEEE d MMMM", locale=str(get_locale())),
                holiday=holiday,
            )
        )
    if calendar.is_night(moment):
        warnings.append(
            _(
                "%(time)s is 's nachts: de nieuwsbrief ligt 's ochtends onder "
                "andere mail.",
                time=moment.strftime("%H:%M"),
            )
        )
    return warnings


def _schedule_at(
    issue: Issue, form: ScheduleForm, moment: datetime, lists: list[MailingList]
) -> Response | None:
    """Schedule the issue; return where to go next, or None to show the form again."""
    chosen = [item for item in lists if item.id in form.lists.data]
    send_at = moment.astimezone(UTC).replace(tzinfo=None)
    try:
        operations.schedule(
            issue, send_at=send_at, lists=chosen, editor=current_user, now=utcnow()
        )
    except DomainError as error:
        db.session.rollback()
        target = {"send_at": form.day, "lists": form.lists}.get(error.field or "")
        if target is None:  # not approved (any more): the preview says why
            flash(error.message, "error")
            return _back(issue)
        target.errors = [*target.errors, error.message]
        return None
    audit.record(
        _actor(),
        "issue.schedule",
        issue.label,
        issue_id=issue.id,
        send_at=send_at.isoformat(),
        lists=[item.slug for item in chosen],
    )
    db.session.commit()
    flash(_("Ingepland voor %(moment)s.", moment=spoken_moment(moment)), "success")
    return _back(issue)


@bp.route("/<int:issue_id>/schedule", methods=["GET", "POST"])
@roles(*STAFF)
def schedule(issue_id: int) -> Response | tuple[str, int]:
    """Choose the moment (local time) and the lists; warn on holidays and nights."""
    issue = operations.get_issue(issue_id)
    form = ScheduleForm()
    lists = _newsletter_lists()
    form.lists.choices = [(item.id, item.name) for item in lists]
    if not form.is_submitted():
        if issue.send_at:
            current = local_moment(issue.send_at)
            form.day.data, form.clock.data = current.date(), current.time()
        else:
            form.day.data, form.clock.data = issue.planned_date, DEFAULT_SEND_TIME
        form.lists.data = [row.list_id for row in issue.audience]
    warnings: list[str] = []
    moment: datetime | None = None
    if form.day.data and form.clock.data:
        moment = datetime.combine(form.day.data, form.clock.data, tzinfo=_zone())
        # A past moment is refused anyway; warning about its hour would only distract.
        if moment > datetime.now(UTC):
            warnings = _moment_warnings(moment)
    valid = form.validate_on_submit()
    if form.is_submitted() and warnings and not form.anyway.data:
        form.anyway.errors = [
            _("Vink dit aan als u toch op dit moment wilt versturen.")
        ]
        valid = False
    if valid and moment is not None:
        done = _schedule_at(issue, form, moment, lists)
        if done is not None:
            return done
    status = 422 if form.errors else 200
    return render_template(
        "admin/review/schedule.html",
        issue=issue,
        form=form,
        moment=spoken_moment(moment) if moment else "",
        warnings=warnings,
        timezone=current_app.config["TIMEZONE"],
        approval=approval_of(issue),
    ), status


@bp.post("/<int:issue_id>/unschedule")
@roles(*STAFF)
def unschedule(issue_id: int) -> Response:
    """Take the issue off the clock; it stays approved."""
    issue = operations.get_issue(issue_id)
    try:
        operations.unschedule(issue)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _back(issue)
    audit.record(_actor(), "issue.unschedule", issue.label, issue_id=issue.id)
    db.session.commit()
    flash(_("Het nummer is niet meer ingepland. Het blijft goedgekeurd."), "success")
    return _back(issue)


@bp.post("/<int:issue_id>/cancel")
@roles(*STAFF)
def cancel(issue_id: int) -> Response:
    """Call the issue off; it will not be sent."""
    issue = operations.get_issue(issue_id)
    try:
        operations.cancel(issue)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _back(issue)
    audit.record(_actor(), "issue.cancel", issue.label, issue_id=issue.id)
    db.session.commit()
    flash(_("Het nummer vervalt en wordt niet verstuurd."), "success")
    return _back(issue)
