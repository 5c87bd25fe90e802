"""Read the dev outbox: the .eml files the outbox transport wrote."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from flask_babel import gettext as _

from service.errors import NotFound

_NAME = re.compile(r"^[0-9T]+-[0-9a-f]{8}$")


@dataclass(frozen=True)
class OutboxEntry:
    """One stored message, as the outbox list shows it."""

    id: str
    sender: str
    recipient: str
    subject: str
    #: the Date header as written, for when it cannot be read as a moment
    date_header: str
    #: the Date header in UTC (aware); None when absent or unreadable
    sent_at: datetime | None


def _parse(path: Path, headers_only: bool) -> EmailMessage:
    with path.open("rb") as handle:
        parser = BytesParser(policy=policy.default)
        return parser.parse(handle, headersonly=headers_only)  # type: ignore[return-value]


def list_messages(directory: Path, limit: int = 200) -> list[OutboxEntry]:
    """Return the newest `limit` messages, newest first."""
    if not directory.is_dir():
        return []
    paths = sorted(directory.glob("*.eml"), reverse=True)[:limit]
    entries = []
    for path in paths:
        message = _parse(path, headers_only=True)
        entries.append(
            OutboxEntry(
                id=path.stem,
                sender=str(message["From"] or ""),
                recipient=str(message["X-Postbode-Envelope-To"] or message["To"] or ""),
                subject=str(message["Subject"] or ""),
                date_header=str(message["Date"] or ""),
                sent_at=date_of(message),
            )
        )
    return entries


def date_of(message: EmailMessage) -> datetime | None:
    """Return a message's Date header in UTC (aware), or None when unreadable."""
    header = message["Date"]
    moment = getattr(header, "datetime", None) if header is not None else None
    if moment is None:
        return None
    if moment.tzinfo is None:  # RFC 5322 "-0000": the time is UTC, the zone unknown
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def read_message(directory: Path, message_id: str) -> tuple[EmailMessage, bytes]:
    """Return one stored message, parsed and raw; NotFound for an unknown id."""
    path = directory / f"{message_id}.eml"
    if not _NAME.match(message_id) or not path.is_file():
        raise NotFound(_("Dit bericht staat niet (meer) in de outbox."))
    return _parse(path, headers_only=False), path.read_bytes()


def parts_of(message: EmailMessage) -> tuple[str, str]:
    """Return the plain-text and HTML bodies of a message ('' when absent)."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return (
        text.get_content() if text is not None else "",
        html.get_content() if html is not None else "",
    )
