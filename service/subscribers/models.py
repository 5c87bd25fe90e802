"""Subscribers, lists, memberships, the consent ledger, suppressions, import jobs."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, utcnow
from service.errors import Conflict


def new_uid() -> str:
    """Return a random public identifier for a subscriber (used in signed links)."""
    return secrets.token_urlsafe(12)


class SubscriberStatus(StrEnum):
    """Where a reader stands as a whole."""

    PENDING = "pending"  #: signed up, not yet confirmed
    ACTIVE = "active"  #: confirmed at least one list
    UNSUBSCRIBED = "unsubscribed"  #: left every list
    BOUNCED = "bounced"  #: mail cannot be delivered
    COMPLAINED = "complained"  #: marked our mail as spam


#: The one table of allowed subscriber transitions.
SUBSCRIBER_TRANSITIONS: dict[SubscriberStatus, set[SubscriberStatus]] = {
    SubscriberStatus.PENDING: {SubscriberStatus.ACTIVE, SubscriberStatus.UNSUBSCRIBED},
    SubscriberStatus.ACTIVE: {
        SubscriberStatus.UNSUBSCRIBED,
        SubscriberStatus.BOUNCED,
        SubscriberStatus.COMPLAINED,
    },
    SubscriberStatus.UNSUBSCRIBED: {SubscriberStatus.PENDING, SubscriberStatus.ACTIVE},
    SubscriberStatus.BOUNCED: {SubscriberStatus.ACTIVE, SubscriberStatus.UNSUBSCRIBED},
    SubscriberStatus.COMPLAINED: {SubscriberStatus.UNSUBSCRIBED},
}


class MembershipStatus(StrEnum):
    """Where a reader stands on one list."""

    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"


class ListKind(StrEnum):
    """What a list is for."""

    NEWSLETTER = "newsletter"  #: readers of the themed issues
    CONTACTS = "contacts"  #: institutional addresses for letters


class Subscriber(Base):
    """A person who reads (or read) our mail."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: random public id put in signed links, never reused after erasure
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    #: normalised address (see subscribers.addresses.normalise_email)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    #: how the reader wants to be addressed; may be empty
    name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[SubscriberStatus] = mapped_column(
        String(20), default=SubscriberStatus.PENDING, index=True
    )
    #: language of mails and pages for this reader
    locale: Mapped[str] = mapped_column(String(5), default="nl")
    #: free attributes such as {"province": "Utrecht"}, also used as merge fields
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: province, kept as a column because editors filter on it
    province: Mapped[str] = mapped_column(String(40), default="", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: when the last confirmation mail went out (at most one per hour)
    confirmation_sent_at: Mapped[datetime | None]
    #: agreed to personal open and click statistics (TRACKING_MODE=personal only)
    tracking_consent: Mapped[bool] = mapped_column(default=False)
    #: random value in the current confirmation link; cleared once used (single use)
    confirmation_nonce: Mapped[str | None] = mapped_column(String(32))

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan"
    )
    consent_records: Mapped[list[ConsentRecord]] = relationship(
        back_populates="subscriber",
        cascade="all, delete-orphan",
        order_by="ConsentRecord.id",
    )
    events: Mapped[list[SubscriberEvent]] = relationship(
        back_populates="subscriber",
        cascade="all, delete-orphan",
        order_by="SubscriberEvent.id",
    )

    def move_to(self, status: SubscriberStatus) -> None:
        """Change the status along the transition table, or raise Conflict."""
        if status == self.status:
            return
        if status not in SUBSCRIBER_TRANSITIONS[SubscriberStatus(self.status)]:
            raise Conflict(f"subscriber cannot go from {self.status} to {status}")
        self.status = status

    def membership_of(self, mailing_list: MailingList) -> Membership | None:
        """Return this reader's membership of a list, if any."""
        for membership in self.memberships:
            if membership.list_id == mailing_list.id:
                return membership
        return None


class MailingList(Base):
    """A list readers can be on: the newsletter, or a contact list for letters."""

    __tablename__ = "lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: used in URLs, CSV import (--list SLUG) and the List-Id header
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: one or two sentences shown next to the checkbox on the signup page
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[ListKind] = mapped_column(String(20), default=ListKind.NEWSLETTER)
    #: shown on the public signup page (double opt-in)
    is_public: Mapped[bool] = mapped_column(default=False)
    #: order on the signup page
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="mailing_list", cascade="all, delete-orphan"
    )


class Membership(Base):
    """One reader on one list."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("subscriber_id", "list_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE")
    )
    list_id: Mapped[int] = mapped_column(
        ForeignKey("lists.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[MembershipStatus] = mapped_column(
        String(20), default=MembershipStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]

    subscriber: Mapped[Subscriber] = relationship(back_populates="memberships")
    mailing_list: Mapped[MailingList] = relationship(back_populates="memberships")


class ConsentMethod(StrEnum):
    """How consent was given."""

    DOUBLE_OPT_IN = "double-opt-in"  #: signup page and confirmation link
    IMPORT = "import"  #: an importer stated the source of consent
    ADMIN = "admin"  #: an editor added the reader and attested the consent


class ConsentRecord(Base):
    """What a reader was shown and agreed to for one list; rows are never deleted.

    Only the moments `confirmed_at` and `withdrawn_at` may be filled in later, once;
    everything that says what was shown is fixed at insert (see the listener below).
    """

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    #: the list consented to; its name is kept too, for when the list is gone
    list_id: Mapped[int | None] = mapped_column(
        ForeignKey("lists.id", ondelete="SET NULL")
    )
    list_name: Mapped[str] = mapped_column(String(200))
    #: version of the consent sentence, and the sha256 of the exact text shown
    text_version: Mapped[str] = mapped_column(String(40))
    text_hash: Mapped[str] = mapped_column(String(64))
    #: the page (or file, or account) the consent came from
    source: Mapped[str] = mapped_column(String(500))
    method: Mapped[ConsentMethod] = mapped_column(String(20))
    #: who attested the consent (import or admin), as "Name <email>"
    attested_by: Mapped[str] = mapped_column(String(320), default="")
    #: the IP address of the request, only when CONSENT_RECORD_IP is on
    ip: Mapped[str | None] = mapped_column(String(45))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    #: how the confirmation happened: "link" (button after the link), "import", "admin"
    confirmation_method: Mapped[str | None] = mapped_column(String(20))
    withdrawn_at: Mapped[datetime | None]

    subscriber: Mapped[Subscriber] = relationship(back_populates="consent_records")


_CONSENT_LATER_FIELDS = {"confirmed_at", "confirmation_method", "withdrawn_at"}


@event.listens_for(ConsentRecord, "before_update")
def _consent_is_append_only(
    _mapper: object, _conn: object, record: ConsentRecord
) -> None:
    from sqlalchemy import inspect

    state = inspect(record)
    for attr in state.attrs:
        history = attr.history
        if not history.has_changes():
            continue
        if attr.key not in _CONSENT_LATER_FIELDS or history.deleted not in (
            [],
            [None],
            (),
        ):
            raise Conflict(f"consent record field {attr.key} cannot be changed")


class SuppressionReason(StrEnum):
    """Why an address may never be mailed or re-imported."""

    ERASED = "erased"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    MANUAL = "manual"


class Suppression(Base):
    """An address that must not come back, kept only as a hash."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: sha256 of the normalised address (see addresses.email_hash)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[SuppressionReason] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubscriberEvent(Base):
    """Something that happened to a reader: signup, confirmation, change, departure."""

    __tablename__ = "subscriber_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    #: subscribed, confirmed, preferences, unsubscribed, imported, added, exported …
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    subscriber: Mapped[Subscriber] = relationship(back_populates="events")


class ImportJobStatus(StrEnum):
    """Where an upload being imported in the background stands."""

    RUNNING = "running"  #: a thread of some web process is reading the file
    FINISHED = "finished"  #: every line read; the report is complete
    FAILED = "failed"  #: stopped by an error; what was committed before it stays


#: The one table of allowed import job transitions. "Interrupted" is not a status:
#: it is a running job whose heartbeat stopped (its process died), see import_jobs.
IMPORT_JOB_TRANSITIONS: dict[ImportJobStatus, set[ImportJobStatus]] = {
    ImportJobStatus.RUNNING: {ImportJobStatus.FINISHED, ImportJobStatus.FAILED},
    ImportJobStatus.FINISHED: set(),
    ImportJobStatus.FAILED: set(),
}


class ImportJob(Base):
    """One CSV file uploaded in the admin, imported by a thread of the process.

    The state lives here, not in the process, so any web process can show the progress
    and the report; counts are committed together with each batch they describe.
    """

    __tablename__ = "import_jobs"

    #: the job's number, shown in its URL
    id: Mapped[int] = mapped_column(primary_key=True)
    #: the list the readers are put on
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))
    #: the name of the uploaded file, as the editor's computer called it
    file_name: Mapped[str] = mapped_column(String(255))
    #: the size of the stored upload in bytes
    file_size: Mapped[int] = mapped_column(BigInteger, default=0)
    #: where the stated consent came from; None: everyone is asked by mail
    consent_source: Mapped[str | None] = mapped_column(String(500))
    #: "Name <email>" of the account that uploaded it (audit and consent records)
    started_by: Mapped[str] = mapped_column(String(320))
    #: the language the reasons of bad lines are written in (the uploader's)
    locale: Mapped[str] = mapped_column(String(5), default="nl")
    #: running, finished or failed (see IMPORT_JOB_TRANSITIONS)
    status: Mapped[ImportJobStatus] = mapped_column(
        String(20), default=ImportJobStatus.RUNNING
    )
    #: bytes of the file read so far (the reader runs a few kilobytes ahead)
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    #: the number of the last line read so far
    lines_read: Mapped[int] = mapped_column(default=0)
    #: new readers
    imported: Mapped[int] = mapped_column(default=0)
    #: known readers put on the list
    added: Mapped[int] = mapped_column(default=0)
    #: already on the list (or waiting to confirm it)
    already: Mapped[int] = mapped_column(default=0)
    #: lines not imported, each with a row in import_problems
    skipped: Mapped[int] = mapped_column(default=0)
    #: confirmation mails sent
    mailed: Mapped[int] = mapped_column(default=0)
    #: why a failed job stopped, in words for the editor
    error: Mapped[str | None] = mapped_column(Text)
    #: when the file was uploaded
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the heartbeat: set at every batch and every group of mails; a running job
    #: that has not been updated for a few minutes lost its process
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: when the job finished or failed
    finished_at: Mapped[datetime | None]

    mailing_list: Mapped[MailingList] = relationship()
    problems: Mapped[list[ImportProblem]] = relationship(
        back_populates="job",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ImportProblem.line",
    )

    def move_to(self, status: ImportJobStatus) -> None:
        """Change the status along the transition table, or raise Conflict."""
        if status == self.status:
            return
        if status not in IMPORT_JOB_TRANSITIONS[ImportJobStatus(self.status)]:
            raise Conflict(f"import job cannot go from {self.status} to {status}")
        self.status = status


class ImportProblem(Base):
    """One line of an uploaded file that was not imported, and why."""

    __tablename__ = "import_problems"

    #: the row's number, nothing more
    id: Mapped[int] = mapped_column(primary_key=True)
    #: the import the line belongs to
    job_id: Mapped[int] = mapped_column(
        ForeignKey("import_jobs.id", ondelete="CASCADE"), index=True
    )
    #: the line number in the file (the first line of a record spanning lines)
    line: Mapped[int]
    #: the reason, for people, in the job's language
    reason: Mapped[str] = mapped_column(Text)

    job: Mapped[ImportJob] = relationship(back_populates="problems")
