"""Hand one built message to the dev outbox or to an SMTP server, or raise MailError.

For one-off mail (confirmations, tests, reports). It uses the same sessions as the
bulk sender, opened for one message and closed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from service.mail.sessions import OutboxSession, Phase, Session, SMTPSession


class MailError(Exception):
    """The message could not be handed over."""


class Transport(Protocol):
    """Something that takes a message for one envelope."""

    def deliver(
        self, message: EmailMessage, envelope_from: str, recipient: str
    ) -> None:
        """Hand the message over or raise MailError."""


@dataclass
class _OneMessage:
    """Deliver through a fresh session and turn a refusal into MailError."""

    def session(self) -> Session:
        raise NotImplementedError

    def deliver(
        self, message: EmailMessage, envelope_from: str, recipient: str
    ) -> None:
        """Hand the message over or raise MailError."""
        session = self.session()
        try:
            reply = session.deliver(envelope_from, recipient, message.as_bytes())
        finally:
            session.close()
        if reply.accepted:
            return
        if reply.phase == Phase.CONNECT:
            raise MailError(f"cannot connect to {self.where}: {reply.text}")
        raise MailError(f"{self.where} refused the message: {reply.code} {reply.text}")

    @property
    def where(self) -> str:
        return "the outbox"


@dataclass
class OutboxTransport(_OneMessage):
    """Store every message as an .eml file; nothing leaves the machine."""

    directory: Path

    def session(self) -> Session:
        return OutboxSession(self.directory)


@dataclass
class SMTPTransport(_OneMessage):
    """Send over SMTP with implicit TLS (MAIL_USE_SSL) or STARTTLS (MAIL_USE_TLS)."""

    host: str
    port: int
    use_tls: bool = False
    use_ssl: bool = False
    username: str = ""
    password: str = ""
    timeout: float = 30.0

    def session(self) -> Session:
        return SMTPSession(
            host=self.host,
            port=self.port,
            use_tls=self.use_tls,
            use_ssl=self.use_ssl,
            username=self.username,
            password=self.password,
            timeout=self.timeout,
        )

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"
