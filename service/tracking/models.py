"""Links of a send, raw tracking events, and the counts that outlive them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, utcnow


class Link(Base):
    """A link in a send's message; a click redirects only to a stored URL."""

    __tablename__ = "links"

    id: Mapped[int] = mapped_column(primary_key=True)
    send_id: Mapped[int] = mapped_column(
        ForeignKey("sends.id", ondelete="CASCADE"), index=True
    )
    #: the destination exactly as the editor wrote it
    url: Mapped[str] = mapped_column(Text)
    #: the link's text in the message, for the heat list
    text: Mapped[str] = mapped_column(String(200), default="")
    #: order of appearance in the message, from 0
    position: Mapped[int] = mapped_column(default=0)


class TrackingEvent(Base):
    """One open or click as it came in; expires (TRACKING_EVENT_DAYS), counts stay."""

    __tablename__ = "tracking_events"
    __table_args__ = (Index("ix_tracking_events_send_kind", "send_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id", ondelete="CASCADE"))
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("links.id", ondelete="CASCADE")
    )
    #: "open" or "click"
    kind: Mapped[str] = mapped_column(String(10))
    #: only in personal mode and only for a reader who agreed; erased with the reader
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    #: a link scanner or prefetcher, not a person: counted apart
    is_machine: Mapped[bool] = mapped_column(default=False)
    #: the user agent, shortened; shown escaped in the admin
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    #: a click's referrer as its origin only (scheme://host): a webmail page's path
    #: can name a mailbox; "" for opens, for none sent, and for anything not http(s)
    referrer: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class TrackingCount(Base):
    """Opens or clicks of one send (and link) in one hour; the numbers editors see."""

    __tablename__ = "tracking_counts"

    send_id: Mapped[int] = mapped_column(
        ForeignKey("sends.id", ondelete="CASCADE"), primary_key=True
    )
    #: 0 for opens, else the link's id (no NULL in a primary key)
    link_id: Mapped[int] = mapped_column(primary_key=True, default=0)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    is_machine: Mapped[bool] = mapped_column(primary_key=True, default=False)
    #: the start of the hour (UTC) the events fell in
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
