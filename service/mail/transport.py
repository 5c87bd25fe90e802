"""Hand a built message to the dev outbox or to an SMTP server."""

from __future__ import annotations

import logging
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class MailError(Exception):
    """The message could not be handed over."""


class Transport(Protocol):
    """Something that takes a message for one envelope."""

    def deliver(
        self, message: EmailMessage, envelope_from: str, recipient: str
    ) -> None:
        """Hand the message over or raise MailError."""


@dataclass
class OutboxTransport:
    """Store every message as an .eml file; nothing leaves the machine."""

    directory: Path

    def deliver(
        self, message: EmailMessage, envelope_from: str, recipient: str
    ) -> None:
        """Write the message, with its envelope, to the outbox folder."""
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"{stamp}-{secrets.token_hex(4)}.eml"
        envelope = f"X-Postbode-Envelope-From: {envelope_from}\r\n"
        envelope += f"X-Postbode-Envelope-To: {recipient}\r\n"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(envelope.encode() + message.as_bytes())
        tmp.rename(path)


@dataclass
class SMTPTransport:
    """Send over SMTP with implicit TLS (MAIL_USE_SSL) or STARTTLS (MAIL_USE_TLS)."""

    host: str
    port: int
    use_tls: bool = False
    use_ssl: bool = False
    username: str = ""
    password: str = ""
    timeout: float = 30.0

    def connect(self) -> smtplib.SMTP:
        """Open an authenticated connection."""
        context = ssl.create_default_context()
        smtp: smtplib.SMTP | None = None
        try:
            if self.use_ssl:
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.use_tls:
                    smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password)
        except (OSError, smtplib.SMTPException) as error:
            if smtp is not None:
                smtp.close()
            raise MailError(
                f"cannot connect to {self.host}:{self.port}: {error}"
            ) from error
        return smtp

    def deliver(
        self, message: EmailMessage, envelope_from: str, recipient: str
    ) -> None:
        """Send the message to one recipient over a fresh connection."""
        smtp = self.connect()
        try:
            smtp.send_message(message, from_addr=envelope_from, to_addrs=[recipient])
        except (OSError, smtplib.SMTPException) as error:
            raise MailError(f"{self.host} refused the message: {error}") from error
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
