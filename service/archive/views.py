"""Public pages of sent issues."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from service.editorial.models import Issue, IssueStatus
from service.editorial.operations import issue_content
from service.extensions import db
from service.security import public

bp = Blueprint("archive", __name__)


@bp.get("/archive/<int:year>/<int:number>-<slug>")
@public
def issue(year: int, number: int, slug: str) -> str | Response:
    """Show a sent issue as a web page (same content as the mail, web layout)."""
    found = db.session.scalar(
        select(Issue).filter_by(year=year, number=number, status=IssueStatus.SENT)
    )
    if found is None:
        abort(404)
    if found.slug and slug != found.slug:
        return redirect(
            url_for("archive.issue", year=year, number=number, slug=found.slug), 301
        )
    return render_template("archive/issue.html", issue=issue_content(found), row=found)
