"""What the public may read: sent issues, their themes, and their order.

Only issues with status `sent` are ever returned here, so no public page can show
a draft by asking for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import selectinload

from service.editorial.models import Issue, IssueStatus, Theme
from service.extensions import db


def _sent() -> Select[tuple[Issue]]:
    return (
        select(Issue)
        .where(Issue.status == IssueStatus.SENT)
        .options(selectinload(Issue.theme))
    )


def sent_issues(theme: Theme | None = None, limit: int | None = None) -> list[Issue]:
    """Return the sent issues, newest first, optionally of one theme only."""
    query = _sent().order_by(Issue.year.desc(), Issue.number.desc())
    if theme is not None:
        query = query.where(Issue.theme_id == theme.id)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def latest_sent_issue() -> Issue | None:
    """Return the newest sent issue, for the home page teaser."""
    found = sent_issues(limit=1)
    return found[0] if found else None


def find_sent_issue(year: int, number: int) -> Issue | None:
    """Return the sent issue with this year and number, or None."""
    return db.session.scalar(_sent().filter_by(year=year, number=number))


@dataclass(frozen=True)
class Neighbours:
    """The sent issues just before and after one issue, in publication order."""

    previous: Issue | None
    next: Issue | None


def neighbours(issue: Issue) -> Neighbours:
    """Return the previous and next sent issue (by year and number)."""
    earlier = or_(
        Issue.year < issue.year,
        and_(Issue.year == issue.year, Issue.number < issue.number),
    )
    later = or_(
        Issue.year > issue.year,
        and_(Issue.year == issue.year, Issue.number > issue.number),
    )
    previous = db.session.scalar(
        _sent().where(earlier).order_by(Issue.year.desc(), Issue.number.desc()).limit(1)
    )
    following = db.session.scalar(
        _sent().where(later).order_by(Issue.year, Issue.number).limit(1)
    )
    return Neighbours(previous=previous, next=following)


def find_theme(slug: str) -> Theme | None:
    """Return the theme with this slug, or None."""
    return db.session.scalar(select(Theme).filter_by(slug=slug))


def themes_with_sent_issues() -> list[Theme]:
    """Return the themes that have at least one sent issue, by name."""
    has_sent = (
        select(Issue.id)
        .where(Issue.theme_id == Theme.id, Issue.status == IssueStatus.SENT)
        .exists()
    )
    return list(db.session.scalars(select(Theme).where(has_sent).order_by(Theme.name)))
