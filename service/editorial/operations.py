"""The rules of the editorial work: plan, write, review, approve, schedule.

Operations change the session and flush; the caller (view, CLI) commits.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date, datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from service.editorial.models import (
    EDITABLE,
    Article,
    Issue,
    IssueStatus,
    Theme,
    User,
    YearPlan,
)
from service.emails import email_environment
from service.errors import Conflict, DomainError, NotFound
from service.extensions import db
from service.i18n import force_language
from service.mail.message import RenderedEmail
from service.markup import plain_text, render_markdown
from service.organisation import current_identity
from service.rendering import (
    ArticleContent,
    IssueContent,
    render_issue,
)
from service.urls import absolute_url


def slugify(text: str) -> str:
    """Return a lower-case ASCII slug: "Armoede & schulden" -> "armoede-schulden"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80] or "nummer"


def get_issue(issue_id: int) -> Issue:
    """Return the issue or raise NotFound."""
    issue = db.session.get(Issue, issue_id)
    if issue is None:
        raise NotFound(_("Dit nummer bestaat niet."))
    return issue


def year_plan(year: int) -> YearPlan:
    """Return the plan of a year, creating it with the default target when new."""
    plan = db.session.scalar(select(YearPlan).filter_by(year=year))
    if plan is None:
        plan = YearPlan(year=year, target_issues=current_app.config["ISSUES_PER_YEAR"])
        db.session.add(plan)
        db.session.flush()
    return plan


def issues_of(year: int) -> list[Issue]:
    """Return the issues of a year in number order."""
    query = select(Issue).filter_by(year=year).order_by(Issue.number)
    return list(db.session.scalars(query))


def plan_issue(
    *,
    year: int,
    theme: Theme | None,
    planned_date: date | None,
    contribution_deadline: date | None,
    title: str = "",
) -> Issue:
    """Add an issue to the year plan with the next free number."""
    if planned_date and contribution_deadline and contribution_deadline > planned_date:
        raise DomainError(
            _("De deadline voor bijdragen moet vóór de verschijningsdatum liggen."),
            field="contribution_deadline",
        )
    number = (
        db.session.scalar(select(func.max(Issue.number)).filter_by(year=year)) or 0
    ) + 1
    issue = Issue(
        year=year,
        number=number,
        theme=theme,
        title=title,
        slug=slugify(title) if title else "",
        planned_date=planned_date,
        contribution_deadline=contribution_deadline,
    )
    db.session.add(issue)
    db.session.flush()
    return issue


def check_version(issue: Issue, based_on: int) -> None:
    """Refuse a save that was based on an older version of the issue."""
    if based_on != issue.version:
        who = (
            issue.last_editor.display_name if issue.last_editor else _("iemand anders")
        )
        raise StaleVersion(
            _(
                "%(who)s heeft dit nummer intussen gewijzigd. Uw tekst staat nog "
                "hieronder; neem over wat u wilt houden en sla opnieuw op.",
                who=who,
            )
        )


class StaleVersion(Conflict):
    """Another editor saved a newer version in the meantime."""


def touch(issue: Issue, editor: User, now: datetime) -> list[str]:
    """Record a change of the text; withdraw an approval it invalidates.

    Returns the notices for the editor (e.g. that the approval was withdrawn).
    """
    if issue.status not in EDITABLE:
        raise Conflict(_("Dit nummer kan niet meer worden gewijzigd."))
    notices = []
    if issue.status == IssueStatus.PLANNED:
        issue.move_to(IssueStatus.DRAFT)
    if issue.status in (IssueStatus.APPROVED, IssueStatus.SCHEDULED):
        issue.move_to(IssueStatus.IN_REVIEW)
        issue.approved_by_id = None
        issue.approved_at = None
        issue.approved_hash = None
        issue.send_at = None
        notices.append(
            _(
                "De goedkeuring is ingetrokken omdat de inhoud veranderde. "
                "Een tweede redacteur moet opnieuw goedkeuren."
            )
        )
    issue.version += 1
    issue.last_editor_id = editor.id
    issue.updated_at = now
    return notices


def web_url(issue: Issue) -> str:
    """Return the public archive address of an issue."""
    return absolute_url(
        "archive.issue",
        year=issue.year,
        number=issue.number,
        slug=issue.slug or slugify(issue.title),
    )


def issue_content(issue: Issue) -> IssueContent:
    """Return the plain values the templates need, Markdown rendered and cleaned."""
    references: list[str] = []
    intro_text = plain_text(issue.intro, references)
    articles = []
    for article in issue.articles:
        articles.append(
            ArticleContent(
                title=article.title,
                html=render_markdown(article.body),
                text=plain_text(article.body, references),
                image_url=absolute_url("media.file", filename=article.image.filename)
                if article.image
                else "",
                image_alt=article.image_alt,
                link_url=article.link_url,
                button_text=article.button_text,
                author=article.author,
            )
        )
    return IssueContent(
        year=issue.year,
        number=issue.number,
        title=issue.title,
        preheader=issue.preheader,
        theme=issue.theme.name if issue.theme else "",
        intro_html=render_markdown(issue.intro),
        intro_text=intro_text,
        articles=tuple(articles),
        web_url=web_url(issue),
        references=tuple(references),
    )


def render(issue: Issue, locale: str | None = None) -> RenderedEmail:
    """Render an issue into its frozen e-mail (subject, HTML, text with slots)."""
    language = locale or current_app.config["DEFAULT_LOCALE"]
    with force_language(language):
        return render_issue(
            email_environment(), issue_content(issue), current_identity(), language
        )


def content_hash(email: RenderedEmail) -> str:
    """Return the sha256 of what readers would get: subject, HTML and text."""
    digest = hashlib.sha256()
    for part in (email.subject, email.html, email.text):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def add_article(issue: Issue, editor: User, now: datetime, **values: object) -> Article:
    """Append an article to an issue."""
    touch(issue, editor, now)
    article = Article(position=len(issue.articles), **values)
    issue.articles.append(article)
    db.session.flush()
    return article


def submit_for_review(issue: Issue, editor: User, now: datetime) -> None:
    """Offer a draft to the other editors for approval."""
    if not issue.title.strip():
        raise DomainError(_("Geef het nummer eerst een titel."), field="title")
    if not issue.articles:
        raise DomainError(_("Een nummer heeft ten minste één artikel nodig."))
    issue.move_to(IssueStatus.IN_REVIEW)
    issue.updated_at = now
    if issue.last_editor_id is None:
        issue.last_editor_id = editor.id


class FourEyes(DomainError):
    """The editor who last changed an issue cannot approve it."""

    status = 403


def approve(issue: Issue, approver: User, now: datetime) -> None:
    """Approve exactly the current content, as an editor who did not last change it."""
    if issue.status != IssueStatus.IN_REVIEW:
        raise Conflict(
            _("Alleen een nummer dat ter controle ligt kan worden goedgekeurd.")
        )
    if issue.last_editor_id == approver.id:
        raise FourEyes(
            _(
                "U heeft dit nummer als laatste gewijzigd. Een andere redacteur moet "
                "het goedkeuren (vier ogen)."
            )
        )
    issue.move_to(IssueStatus.APPROVED)
    issue.approved_by_id = approver.id
    issue.approved_at = now
    issue.approved_hash = content_hash(render(issue))


def approval_is_current(issue: Issue) -> bool:
    """Tell whether the approved hash still matches what the issue renders to now."""
    return bool(issue.approved_hash) and issue.approved_hash == content_hash(
        render(issue)
    )


def schedule(
    issue: Issue,
    *,
    send_at: datetime,
    lists: list,
    editor: User,
    now: datetime,
) -> None:
    """Plan an approved issue for `send_at` (UTC) to the members of `lists`."""
    from service.editorial.models import IssueAudience

    if issue.status not in (IssueStatus.APPROVED, IssueStatus.SCHEDULED):
        raise Conflict(_("Alleen een goedgekeurd nummer kan worden ingepland."))
    if not approval_is_current(issue):
        raise Conflict(
            _(
                "De inhoud is veranderd sinds de goedkeuring. "
                "Laat het opnieuw goedkeuren."
            )
        )
    if send_at <= now:
        raise DomainError(_("Kies een moment in de toekomst."), field="send_at")
    if not lists:
        raise DomainError(_("Kies ten minste één lijst."), field="lists")
    issue.move_to(IssueStatus.SCHEDULED)
    issue.send_at = send_at
    issue.audience = [IssueAudience(list_id=item.id) for item in lists]
    issue.updated_at = now
    if issue.last_editor_id is None:
        issue.last_editor_id = editor.id


def unschedule(issue: Issue) -> None:
    """Take a scheduled issue off the clock; it stays approved."""
    if issue.status != IssueStatus.SCHEDULED:
        raise Conflict(_("Dit nummer is niet ingepland."))
    issue.move_to(IssueStatus.APPROVED)
    issue.send_at = None


def cancel(issue: Issue) -> None:
    """Cancel an issue that has not started sending."""
    if issue.status in (IssueStatus.SENDING, IssueStatus.SENT):
        raise Conflict(_("Een nummer dat verstuurd wordt of is, kan niet vervallen."))
    issue.move_to(IssueStatus.CANCELLED)
    issue.send_at = None


def save_issue(
    issue: Issue,
    editor: User,
    now: datetime,
    *,
    based_on: int,
    title: str,
    preheader: str,
    intro: str,
    theme: Theme | None,
    planned_date: date | None,
    contribution_deadline: date | None,
) -> list[str]:
    """Save the issue's own text when it was based on the current version."""
    check_version(issue, based_on)
    if planned_date and contribution_deadline and contribution_deadline > planned_date:
        raise DomainError(
            _("De deadline voor bijdragen moet vóór de verschijningsdatum liggen."),
            field="contribution_deadline",
        )
    changed = (issue.title, issue.preheader, issue.intro, issue.theme_id) != (
        title,
        preheader,
        intro,
        theme.id if theme else None,
    )
    issue.planned_date = planned_date
    issue.contribution_deadline = contribution_deadline
    if not changed:
        return []
    notices = touch(issue, editor, now)
    issue.title = title.strip()
    issue.slug = slugify(issue.title) if issue.title else ""
    issue.preheader = preheader.strip()
    issue.intro = intro
    issue.theme = theme
    db.session.flush()
    return notices


def save_article(
    article: Article,
    editor: User,
    now: datetime,
    *,
    based_on: int,
    **values: object,
) -> list[str]:
    """Save one article when the editor started from the issue's current version."""
    issue = article.issue
    check_version(issue, based_on)
    notices = touch(issue, editor, now)
    for name, value in values.items():
        setattr(article, name, value)
    db.session.flush()
    return notices


def _renumber(issue: Issue) -> None:
    for position, article in enumerate(issue.articles):
        article.position = position


def move_article(article: Article, step: int, editor: User, now: datetime) -> list[str]:
    """Move an article up (-1) or down (+1) in its issue."""
    issue = article.issue
    articles = list(issue.articles)
    index = articles.index(article)
    target = max(0, min(len(articles) - 1, index + step))
    if target == index:
        return []
    notices = touch(issue, editor, now)
    articles.insert(target, articles.pop(index))
    for position, item in enumerate(articles):
        item.position = position
    db.session.flush()
    db.session.refresh(issue, ["articles"])
    return notices


def duplicate_article(article: Article, editor: User, now: datetime) -> Article:
    """Place a copy of an article right after it."""
    issue = article.issue
    touch(issue, editor, now)
    copy = Article(
        title=_("%(title)s (kopie)", title=article.title)[:200],
        body=article.body,
        image_id=article.image_id,
        image_alt=article.image_alt,
        link_url=article.link_url,
        button_text=article.button_text,
        author=article.author,
    )
    issue.articles.insert(issue.articles.index(article) + 1, copy)
    _renumber(issue)
    db.session.flush()
    return copy


def remove_article(article: Article, editor: User, now: datetime) -> list[str]:
    """Take an article out of its issue."""
    issue = article.issue
    notices = touch(issue, editor, now)
    issue.articles.remove(article)
    _renumber(issue)
    db.session.flush()
    return notices


def save_theme(theme: Theme | None, *, name: str, description: str) -> Theme:
    """Create or change a theme; its slug follows the name until first saved."""
    if theme is None:
        slug = slugify(name)
        if db.session.scalar(select(Theme.id).filter_by(slug=slug)) is not None:
            raise Conflict(_("Er bestaat al een thema met deze naam."), field="name")
        theme = Theme(slug=slug)
        db.session.add(theme)
    theme.name = name.strip()
    theme.description = description
    db.session.flush()
    return theme


def themes() -> list[Theme]:
    """Return all themes by name."""
    return list(db.session.scalars(select(Theme).order_by(Theme.name)))
