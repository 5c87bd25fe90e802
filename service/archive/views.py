"""Public pages of sent issues: the archive, an issue, a theme, and the Atom feed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import groupby
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import to_user_timezone
from werkzeug.wrappers import Response

from service.archive import operations
from service.db import utcnow
from service.editorial.models import Issue
from service.editorial.operations import issue_content, slugify, web_url
from service.markup import render_markdown
from service.organisation import current_identity
from service.security import public
from service.urls import absolute_url

bp = Blueprint("archive", __name__)

#: how many issues the feed carries; readers' feed clients keep older ones themselves
FEED_SIZE = 20


def sent_on(issue: Issue) -> date | None:
    """Return the calendar day (Europe/Amsterdam) an issue went out."""
    if issue.sent_at is not None:
        return to_user_timezone(issue.sent_at).date()
    return issue.planned_date


def canonical_slug(issue: Issue) -> str:
    """Return the slug the issue's address uses (the same one mails link to)."""
    return issue.slug or slugify(issue.title)


@bp.app_context_processor
def archive_helpers() -> dict[str, Any]:
    """Give templates the publication day and address of an issue."""
    return {"sent_on": sent_on, "canonical_slug": canonical_slug}


@bp.get("/archive")
@public
def index() -> str:
    """List the sent issues by year, newest first, optionally of one theme."""
    chosen = None
    if theme_slug := request.args.get("thema"):
        chosen = operations.find_theme(theme_slug)
        if chosen is None:
            abort(404)
    issues = operations.sent_issues(theme=chosen)
    years = [(year, list(group)) for year, group in groupby(issues, lambda i: i.year)]
    return render_template(
        "archive/index.html",
        years=years,
        themes=operations.themes_with_sent_issues(),
        chosen=chosen,
    )


@bp.get("/archive/<int:year>/<int:number>", defaults={"slug": ""})
@bp.get("/archive/<int:year>/<int:number>-<slug>")
@public
def issue(year: int, number: int, slug: str) -> str | Response:
    """Show a sent issue as a web page (same content as the mail, web layout)."""
    found = operations.find_sent_issue(year, number)
    if found is None:
        abort(404)
    # Mails already sent link to the slug of their day; a later title change (or a
    # typo in a shared link) must still land on the issue, at one address.
    if slug != canonical_slug(found):
        return redirect(
            url_for(
                "archive.issue", year=year, number=number, slug=canonical_slug(found)
            ),
            301,
        )
    return render_template(
        "archive/issue.html",
        issue=issue_content(found),
        row=found,
        neighbours=operations.neighbours(found),
    )


@bp.get("/themes/<slug>")
@public
def theme(slug: str) -> str:
    """Show a theme's description and its sent issues."""
    found = operations.find_theme(slug)
    if found is None:
        abort(404)
    return render_template(
        "archive/theme.html",
        theme=found,
        description_html=render_markdown(found.description),
        issues=operations.sent_issues(theme=found),
    )


def rfc3339(moment: datetime) -> str:
    """Return a stored UTC moment as RFC 3339 (the form Atom requires)."""
    return moment.replace(tzinfo=UTC, microsecond=0).isoformat().replace("+00:00", "Z")


def entry_id(issue: Issue) -> str:
    """Return the permanent Atom id of an issue: a tag URI (RFC 4151).

    Not the address, because the slug in the address follows the title; the year and
    number never change, so feed readers never show an issue twice.
    """
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"
    return f"tag:{host},{issue.year}:archive/{issue.year}/{issue.number}"


@bp.get("/feed.atom")
@public
def feed() -> Response:
    """Serve the latest sent issues as an Atom 1.0 feed with their full content."""
    issues = operations.sent_issues(limit=FEED_SIZE)
    entries = []
    for row in issues:
        content = issue_content(row)
        moment = row.sent_at or row.updated_at
        entries.append(
            {
                "id": entry_id(row),
                "title": row.title or row.label,
                "url": web_url(row),
                "published": rfc3339(moment),
                "updated": rfc3339(moment),
                "summary": row.preheader,
                "theme": row.theme,
                # Autoescaped by the XML template: <content type="html"> carries
                # escaped HTML, so nothing in it can break the feed's markup.
                "html": render_template("archive/_content.html", issue=content),
            }
        )
    updated = max((e["updated"] for e in entries), default=rfc3339(utcnow()))
    body = render_template(
        "archive/feed.xml",
        title=_("%(org)s — nieuwsbrief", org=current_identity().name),
        feed_id=absolute_url("archive.feed"),
        self_url=absolute_url("archive.feed"),
        archive_url=absolute_url("archive.index"),
        updated=updated,
        entries=entries,
    )
    return Response(body, mimetype="application/atom+xml")
