"""Bounces and complaints about our mail, per reader, with their score."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, utcnow


class BounceEvent(Base):
    """One bounce or complaint, attributed to a delivery through its signed tag."""

    __tablename__ = "bounce_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: erased with the reader (it names them)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    #: "hard", "soft" or "complaint"
    kind: Mapped[str] = mapped_column(String(12))
    #: what this event adds to the reader's bounce score (hard 1, soft less)
    score: Mapped[float] = mapped_column(default=0.0)
    #: where it came from: "smtp" (reply during sending), "dsn", "webhook", "ses"
    source: Mapped[str] = mapped_column(String(20))
    #: the enhanced status code, e.g. "5.1.1"
    status_code: Mapped[str] = mapped_column(String(20), default="")
    #: the server's words, shortened; shown escaped in the admin
    diagnostic: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
