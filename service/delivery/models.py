"""Sends and the delivery ledger."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, utcnow
from service.errors import Conflict

PAUSED_BY_EDITOR = "editor"
PAUSED_BY_FAILURES = "failures"


class SendStatus(StrEnum):
    """Where a send stands."""

    SENDING = "sending"  #: senders take its deliveries
    PAUSED = "paused"  #: by an editor, or by too many failures in a row
    CANCELLED = "cancelled"  #: what was not sent will not be
    DONE = "done"  #: nothing left to do; totals are final


#: The one table of allowed send transitions.
SEND_TRANSITIONS: dict[SendStatus, set[SendStatus]] = {
    SendStatus.SENDING: {SendStatus.PAUSED, SendStatus.CANCELLED, SendStatus.DONE},
    SendStatus.PAUSED: {SendStatus.SENDING, SendStatus.CANCELLED},
    SendStatus.CANCELLED: set(),
    SendStatus.DONE: {SendStatus.SENDING},  # "send again to those who failed"
}


class DeliveryStatus(StrEnum):
    """Where one recipient's message stands."""

    QUEUED = "queued"  #: waiting to be claimed
    SENDING = "sending"  #: claimed by a sender under a lease
    SENT = "sent"  #: the server accepted it
    DEFERRED = "deferred"  #: a temporary failure; tried again at next_attempt_at
    FAILED = "failed"  #: refused for good (5xx), or retried past the give-up period
    SKIPPED = "skipped"  #: the reader left, bounced or was erased before it was sent
    CANCELLED = "cancelled"  #: the send was cancelled first
    QUARANTINED = "quarantined"  #: taken back after crashes three times; set aside


#: statuses after which nothing more happens to a delivery
FINAL = {
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
    DeliveryStatus.SKIPPED,
    DeliveryStatus.CANCELLED,
    DeliveryStatus.QUARANTINED,
}


class Send(Base):
    """One dispatch of one frozen message to one audience."""

    __tablename__ = "sends"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what is sent: "issue" now; letters and transactional batches later
    kind: Mapped[str] = mapped_column(String(20), default="issue")
    issue_id: Mapped[int | None] = mapped_column(
        ForeignKey("issues.id", ondelete="SET NULL"), index=True
    )
    #: the list whose List-Id the messages carry and whose unsubscribe they offer
    list_id: Mapped[int | None] = mapped_column(
        ForeignKey("lists.id", ondelete="SET NULL")
    )
    #: ids of every list in the audience; a reader must still be on one when sent to
    audience: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[SendStatus] = mapped_column(String(20), default=SendStatus.SENDING)
    #: the frozen message, rendered once, with the per-reader slots left in
    subject: Mapped[str] = mapped_column(String(300))
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    from_address: Mapped[str] = mapped_column(String(320))
    from_name: Mapped[str] = mapped_column(String(200), default="")
    #: List-Id value, e.g. "Nieuwsbrief <nieuwsbrief.postbode.example.nl>"
    list_header: Mapped[str] = mapped_column(String(300), default="")
    #: why the send is paused: PAUSED_BY_EDITOR or PAUSED_BY_FAILURES (words in the
    #: editor's language are chosen when shown)
    pause_reason: Mapped[str] = mapped_column(String(500), default="")
    #: failures in a row without a success in between; pauses the send at a limit
    failure_streak: Mapped[int] = mapped_column(default=0)
    #: the number of recipients when the send started
    total: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    #: when the editors' report went out
    reported_at: Mapped[datetime | None]

    def move_to(self, status: SendStatus) -> None:
        """Change the status along the transition table, or raise Conflict."""
        if status == self.status:
            return
        if status not in SEND_TRANSITIONS[SendStatus(self.status)]:
            raise Conflict(f"send cannot go from {self.status} to {status}")
        self.status = status


class Delivery(Base):
    """One recipient of one send: the ledger row that makes sending exactly-once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("send_id", "subscriber_id"),
        # Due rows by status and time, and by send and status in id order (the
        # claim; the id in the index keeps PostgreSQL from sorting, see 0008).
        Index("ix_deliveries_claim", "status", "next_attempt_at"),
        Index("ix_deliveries_send_status", "send_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id", ondelete="CASCADE"))
    #: erasing a reader deletes their deliveries (they name the reader)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[DeliveryStatus] = mapped_column(
        String(20), default=DeliveryStatus.QUEUED
    )
    #: attempts made (a deferral counts, a crash does not)
    attempts: Mapped[int] = mapped_column(default=0)
    #: times the row was taken back after its sender's lease ran out
    reclaims: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the first temporary refusal of this round of tries: the give-up period
    #: (SEND_GIVE_UP_HOURS) counts from here; cleared by "send again"
    retrying_since: Mapped[datetime | None]
    #: the sender process holding the row, and until when
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_expires_at: Mapped[datetime | None]
    #: the connection dropped after the final dot: the server may have it already;
    #: sent once more and flagged, never a third time
    is_uncertain: Mapped[bool] = mapped_column(default=False)
    message_id: Mapped[str | None] = mapped_column(String(200))
    #: the server's last reply, e.g. "550 5.1.1 user unknown"
    smtp_reply: Mapped[str] = mapped_column(String(500), default="")
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    send: Mapped[Send] = relationship()


class RateLimit(Base):
    """A shared pace for all senders: the next free moment to send at.

    Every sender reserves time for its batch here with one UPDATE, so the rate holds
    across processes, machines and restarts.
    """

    __tablename__ = "rate_limits"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: seconds since the epoch of the next free slot
    available_at: Mapped[float] = mapped_column(default=0.0)
