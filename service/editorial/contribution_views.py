"""Correspondents send in contributions; editors take them in or return them."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from service.db import utcnow
from service.editorial import contributions, operations
from service.editorial.contribution_forms import (
    AcceptForm,
    ContributionForm,
    ReturnForm,
)
from service.editorial.models import Contribution, User
from service.errors import DomainError
from service.extensions import db
from service.mail.transport import MailError
from service.markup import render_markdown
from service.security import STAFF, Role, roles

bp = Blueprint("contributions", __name__, url_prefix="/admin/contributions")

#: correspondents write; the editors and admins may look at the same pages
WRITERS = (Role.CORRESPONDENT, *STAFF)


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _is_staff() -> bool:
    return current_user.role in STAFF


def _visible(contribution_id: int) -> Contribution:
    """Return a contribution the account may see: staff all, others their own."""
    contribution = contributions.get_contribution(contribution_id)
    if not _is_staff() and contribution.author_id != current_user.id:
        abort(404)  # no hint that someone else's contribution exists
    return contribution


def _show_context(
    contribution: Contribution,
    accept_form: AcceptForm | None = None,
    return_form: ReturnForm | None = None,
) -> dict[str, object]:
    return {
        "contribution": contribution,
        "is_staff": _is_staff(),
        # render_markdown never lets raw HTML through and cleans the rest with nh3.
        "body_html": Markup(render_markdown(contribution.body)),  # noqa: S704
        "accept_form": accept_form or AcceptForm(prefix="accept"),
        "return_form": return_form or ReturnForm(prefix="return"),
    }


@bp.get("/")
@roles(*WRITERS)
def index() -> str:
    """Open issues with their deadlines, one's own contributions, and the new ones."""
    return render_template(
        "admin/contributions/index.html",
        open_issues=contributions.open_issues(utcnow()),
        mine=contributions.contributions_by(_user()),
        waiting=contributions.new_contributions() if _is_staff() else [],
        is_staff=_is_staff(),
    )


@bp.route("/issue/<int:issue_id>/new", methods=["GET", "POST"])
@roles(*WRITERS)
def submit(issue_id: int) -> str | tuple[str, int] | Response:
    """Send in a contribution for an issue whose deadline has not passed."""
    issue = operations.get_issue(issue_id)
    now = utcnow()
    form = ContributionForm()
    closed = ""
    try:
        contributions.check_open(issue, now)
    except contributions.DeadlinePassed as error:
        closed = error.message
    if not closed and form.validate_on_submit():
        upload = form.image.data
        has_file = bool(upload and getattr(upload, "filename", ""))
        try:
            contribution = contributions.submit(
                issue,
                _user(),
                now,
                title=form.title.data or "",
                body=form.body.data or "",
                image_data=upload.read() if has_file else None,
                image_name=upload.filename if has_file else "",
                image_alt=form.image_alt.data or "",
            )
        except contributions.DeadlinePassed as error:
            closed = error.message
        except DomainError as error:
            db.session.rollback()
            getattr(form, error.field or "body").errors.append(error.message)
        else:
            db.session.commit()
            flash(_("Dank u wel. De redactie heeft uw bijdrage ontvangen."), "success")
            return redirect(url_for(".show", contribution_id=contribution.id))
    if closed:
        # The text stays on the page, so nothing typed is lost.
        status = 409
    else:
        status = 422 if form.errors else 200
    return render_template(
        "admin/contributions/submit.html",
        issue=issue,
        form=form,
        closed=closed,
        days_left=contributions.days_left(issue, now),
    ), status


@bp.get("/<int:contribution_id>")
@roles(*WRITERS)
def show(contribution_id: int) -> str:
    """One contribution, its status and note; for editors, the decision."""
    contribution = _visible(contribution_id)
    return render_template(
        "admin/contributions/show.html",
        **_show_context(contribution),
    )


@bp.get("/issue/<int:issue_id>")
@roles(*STAFF)
def for_issue(issue_id: int) -> str:
    """Every contribution sent in for one issue."""
    issue = operations.get_issue(issue_id)
    return render_template(
        "admin/contributions/issue.html",
        issue=issue,
        contributions=contributions.contributions_for(issue),
        days_left=contributions.days_left(issue, utcnow()),
    )


def _tell_author(contribution: Contribution) -> None:
    """Mail the author about the decision; a failing mail server must not undo it."""
    try:
        contributions.send_decision(contribution)
    except MailError:
        flash(
            _(
                "Het besluit is opgeslagen, maar de mail aan de correspondent kon "
                "niet worden verstuurd."
            ),
            "warning",
        )


@bp.post("/<int:contribution_id>/accept")
@roles(*STAFF)
def accept(contribution_id: int) -> str | tuple[str, int] | Response:
    """Take a contribution into its issue as the last article."""
    contribution = contributions.get_contribution(contribution_id)
    form = AcceptForm(prefix="accept")
    if form.validate_on_submit():
        try:
            _article, notices = contributions.accept(
                contribution, _user(), utcnow(), form.note.data or ""
            )
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(
                _(
                    "De bijdrage staat nu als laatste artikel in %(issue)s.",
                    issue=contribution.issue.label,
                ),
                "success",
            )
            for notice in notices:
                flash(notice, "warning")
            _tell_author(contribution)
        return redirect(url_for(".show", contribution_id=contribution.id))
    return render_template(
        "admin/contributions/show.html",
        **_show_context(contribution, accept_form=form),
    ), 422


@bp.post("/<int:contribution_id>/return")
@roles(*STAFF)
def send_back(contribution_id: int) -> str | tuple[str, int] | Response:
    """Return a contribution to its author with a note."""
    contribution = contributions.get_contribution(contribution_id)
    form = ReturnForm(prefix="return")
    if form.validate_on_submit():
        try:
            contributions.send_back(
                contribution, _user(), utcnow(), form.note.data or ""
            )
        except DomainError as error:
            db.session.rollback()
            if error.field == "note":
                form.note.errors.append(error.message)
            else:
                flash(error.message, "error")
                return redirect(url_for(".show", contribution_id=contribution.id))
        else:
            db.session.commit()
            flash(_("De bijdrage is teruggestuurd met uw toelichting."), "success")
            _tell_author(contribution)
            return redirect(url_for(".show", contribution_id=contribution.id))
    return render_template(
        "admin/contributions/show.html",
        **_show_context(contribution, return_form=form),
    ), 422
