"""Accounts, themes, the year plan, issues, articles and contributions."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from flask_babel import gettext
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, utcnow
from service.errors import Conflict
from service.security import Role


class User(Base):
    """A person who logs in to the admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: normalised login address
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(String(20))
    #: argon2 hash (see accounts.hash_password)
    password_hash: Mapped[str] = mapped_column(String(255))
    #: bumped on every password change; sessions carry it, so old sessions end
    session_version: Mapped[int] = mapped_column(default=1)
    is_active: Mapped[bool] = mapped_column(default=True)
    #: language of the admin for this person
    locale: Mapped[str] = mapped_column(String(5), default="nl")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    # Flask-Login's interface.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """Return the session id: the account and the version of its password."""
        return f"{self.id}:{self.session_version}"

    @property
    def display_name(self) -> str:
        return self.name or self.email


class IssueStatus(StrEnum):
    """Where an issue stands between the year plan and the archive."""

    PLANNED = "planned"  #: a place in the year plan, nothing written yet
    DRAFT = "draft"  #: being written
    IN_REVIEW = "in_review"  #: ready for a second editor
    APPROVED = "approved"  #: approved for exactly this content
    SCHEDULED = "scheduled"  #: approved, with a moment and an audience
    SENDING = "sending"  #: the delivery engine is sending it
    SENT = "sent"  #: done; shown in the public archive
    CANCELLED = "cancelled"  #: will not appear


#: The one table of allowed issue transitions.
ISSUE_TRANSITIONS: dict[IssueStatus, set[IssueStatus]] = {
    IssueStatus.PLANNED: {IssueStatus.DRAFT, IssueStatus.CANCELLED},
    IssueStatus.DRAFT: {IssueStatus.IN_REVIEW, IssueStatus.CANCELLED},
    IssueStatus.IN_REVIEW: {
        IssueStatus.APPROVED,
        IssueStatus.DRAFT,
        IssueStatus.CANCELLED,
    },
    IssueStatus.APPROVED: {
        IssueStatus.SCHEDULED,
        IssueStatus.IN_REVIEW,
        IssueStatus.DRAFT,
        IssueStatus.CANCELLED,
    },
    IssueStatus.SCHEDULED: {
        IssueStatus.SENDING,
        IssueStatus.APPROVED,
        IssueStatus.IN_REVIEW,
        IssueStatus.CANCELLED,
    },
    IssueStatus.SENDING: {IssueStatus.SENT},
    IssueStatus.SENT: set(),
    IssueStatus.CANCELLED: {IssueStatus.DRAFT},
}

#: statuses in which the text may still change
EDITABLE = {
    IssueStatus.PLANNED,
    IssueStatus.DRAFT,
    IssueStatus.IN_REVIEW,
    IssueStatus.APPROVED,
    IssueStatus.SCHEDULED,
}


class Theme(Base):
    """A recurring subject of the network (verarming, verschulding …) with a page."""

    __tablename__ = "themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: used in /themes/<slug>
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    #: shown on the theme page; Markdown, cleaned when rendered
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class YearPlan(Base):
    """The editorial calendar of one year: how many issues are intended."""

    __tablename__ = "year_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(unique=True)
    #: how many issues the board intends this year (the werkprogramma says 6 to 8)
    target_issues: Mapped[int] = mapped_column(default=7)
    #: a note for the board, e.g. the year's focus
    note: Mapped[str] = mapped_column(Text, default="")


class Image(Base):
    """An uploaded picture, checked and scaled for e-mail, served at /media/<name>."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: file name under instance/media: the content hash and extension (immutable)
    filename: Mapped[str] = mapped_column(String(100), unique=True)
    mime_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int]
    height: Mapped[int]
    #: size in bytes after scaling
    size: Mapped[int]
    #: the name the file had on the uploader's computer
    original_name: Mapped[str] = mapped_column(String(255), default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Issue(Base):
    """One themed newsletter issue, from its place in the year plan to the archive."""

    __tablename__ = "issues"
    __table_args__ = (UniqueConstraint("year", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(index=True)
    #: number within the year: 1, 2, …
    number: Mapped[int]
    theme_id: Mapped[int | None] = mapped_column(
        ForeignKey("themes.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(200), default="")
    #: used in /archive/<year>/<number>-<slug>
    slug: Mapped[str] = mapped_column(String(120), default="")
    #: the line mail clients show after the subject
    preheader: Mapped[str] = mapped_column(String(200), default="")
    #: the editorial introduction, Markdown
    intro: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[IssueStatus] = mapped_column(String(20), default=IssueStatus.PLANNED)
    #: the date the plan says it goes out (Europe/Amsterdam calendar date)
    planned_date: Mapped[date | None]
    #: correspondents' contributions are due at the end of this day
    contribution_deadline: Mapped[date | None]
    #: when the reminder to correspondents went out (once per issue)
    reminder_sent_at: Mapped[datetime | None]
    #: bumped on every change of the text; a save based on an older one is refused
    version: Mapped[int] = mapped_column(default=1)
    last_editor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the second editor who approved, when, and the hash of what they approved
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    approved_at: Mapped[datetime | None]
    approved_hash: Mapped[str | None] = mapped_column(String(64))
    #: the moment to send (UTC), set when scheduled
    send_at: Mapped[datetime | None] = mapped_column(index=True)
    #: when the send finished; the issue then appears in the archive
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    theme: Mapped[Theme | None] = relationship()
    last_editor: Mapped[User | None] = relationship(foreign_keys=[last_editor_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    articles: Mapped[list[Article]] = relationship(
        back_populates="issue",
        cascade="all, delete-orphan",
        order_by="Article.position",
    )
    audience: Mapped[list[IssueAudience]] = relationship(
        back_populates="issue", cascade="all, delete-orphan"
    )

    def move_to(self, status: IssueStatus) -> None:
        """Change the status along the transition table, or raise Conflict."""
        if status == self.status:
            return
        if status not in ISSUE_TRANSITIONS[IssueStatus(self.status)]:
            raise Conflict(f"issue cannot go from {self.status} to {status}")
        self.status = status

    @property
    def label(self) -> str:
        """Return "2026 · nr. 3 · title" (in the reader's language) for headings."""
        number = gettext(
            "%(year)s · nr. %(number)s", year=self.year, number=self.number
        )
        return number + (f" · {self.title}" if self.title else "")


class IssueAudience(Base):
    """A list an issue is sent to."""

    __tablename__ = "issue_audiences"
    __table_args__ = (UniqueConstraint("issue_id", "list_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))

    issue: Mapped[Issue] = relationship(back_populates="audience")


class Article(Base):
    """One piece of an issue: title, Markdown body, optional image, link and author."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(
        ForeignKey("issues.id", ondelete="CASCADE"), index=True
    )
    #: order within the issue, from 0
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(200), default="")
    #: Markdown as the editor typed it (raw HTML is not rendered)
    body: Mapped[str] = mapped_column(Text, default="")
    image_id: Mapped[int | None] = mapped_column(
        ForeignKey("images.id", ondelete="SET NULL")
    )
    #: the text that replaces the image for blind readers and blocked images
    image_alt: Mapped[str] = mapped_column(String(300), default="")
    #: an optional "read more" link and the text on its button
    link_url: Mapped[str] = mapped_column(String(500), default="")
    button_text: Mapped[str] = mapped_column(String(60), default="")
    author: Mapped[str] = mapped_column(String(200), default="")
    #: the contribution this article came from, for the credit and its status
    contribution_id: Mapped[int | None] = mapped_column(
        ForeignKey("contributions.id", ondelete="SET NULL")
    )

    issue: Mapped[Issue] = relationship(back_populates="articles")
    image: Mapped[Image | None] = relationship()


class ContributionStatus(StrEnum):
    """What happened to a correspondent's contribution."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    RETURNED = "returned"


class Contribution(Base):
    """A text a correspondent sends in for an upcoming issue."""

    __tablename__ = "contributions"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(
        ForeignKey("issues.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    #: Markdown
    body: Mapped[str] = mapped_column(Text)
    image_id: Mapped[int | None] = mapped_column(
        ForeignKey("images.id", ondelete="SET NULL")
    )
    image_alt: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[ContributionStatus] = mapped_column(
        String(20), default=ContributionStatus.SUBMITTED
    )
    #: the editors' note when returned (or accepted with remarks)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    issue: Mapped[Issue] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    image: Mapped[Image | None] = relationship()
