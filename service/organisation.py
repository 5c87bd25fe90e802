"""The organisation that sends: its name and postal address, shown in every mail."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base
from service.extensions import db


class Organisation(Base):
    """The one sending organisation (a single row)."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: postal address, required in every commercial or bulk mail; several lines
    postal_address: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str] = mapped_column(String(300), default="")


@dataclass(frozen=True)
class Identity:
    """The organisation as mails and pages show it."""

    name: str
    postal_address: str
    website: str


def current_identity() -> Identity:
    """Return the organisation; ORG_NAME and ORG_POSTAL_ADDRESS take precedence."""
    row = db.session.scalars(select(Organisation).limit(1)).first()
    config = current_app.config
    return Identity(
        name=config["ORG_NAME"] or (row.name if row else "Postbode"),
        postal_address=config["ORG_POSTAL_ADDRESS"]
        or (row.postal_address if row else ""),
        website=row.website if row else "",
    )
