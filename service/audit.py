"""The audit log: who did what to whose data, kept for accountability."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, utcnow
from service.extensions import db


class AuditLog(Base):
    """One recorded action by an account or a command."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "Name <email>" of the account, or "cli" for a command
    actor: Mapped[str] = mapped_column(String(320))
    #: what was done: export.subscribers, subscriber.erase, import.subscribers …
    action: Mapped[str] = mapped_column(String(60), index=True)
    #: what it was done to, in words (never an erased person's address)
    target: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def record(actor: str, action: str, target: str = "", **detail: Any) -> AuditLog:
    """Add an audit entry to the session (the caller commits)."""
    entry = AuditLog(actor=actor, action=action, target=target, detail=detail)
    db.session.add(entry)
    return entry
