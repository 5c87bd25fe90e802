"""Connections that carry many messages: SMTP (kept open and reused) or the outbox.

A session reports how each message went as a `Reply`: the SMTP code and text, and
in which phase it ended, because a dropped connection means something different
before the final dot (not delivered) than after it (perhaps delivered).
"""

from __future__ import annotations

import re
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol


class Phase(StrEnum):
    """Where an SMTP transaction ended."""

    CONNECT = "connect"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"  #: before the final dot was sent
    AFTER_DOT = "after-dot"  #: the whole message was sent; the reply did not come
    DONE = "done"


@dataclass(frozen=True)
class Reply:
    """What the server (or the connection) said about one message."""

    code: int  #: SMTP code, or 0 when the connection failed
    text: str
    phase: Phase

    @property
    def accepted(self) -> bool:
        return self.phase == Phase.DONE and 200 <= self.code < 300


class Session(Protocol):
    """Something that takes one message for one envelope at a time."""

    def deliver(self, envelope_from: str, recipient: str, message: bytes) -> Reply:
        """Hand over one message and say how it went (never raises)."""

    def close(self) -> None:
        """Release the connection."""


#: a line that starts with a dot (RFC 5321 §4.5.2)
_LINE_DOT = re.compile(rb"\n\.")


class _SMTP(smtplib.SMTP):
    """smtplib's client, noting whether the final dot was sent before a failure."""

    dot_sent = False

    @property
    def pipelining(self) -> bool:
        """Tell whether the server said in its EHLO that it takes PIPELINING."""
        return bool(self.does_esmtp and self.has_extn("pipelining"))

    def envelope(self, sender: str, recipient: str) -> list[tuple[int, bytes]]:
        """Send MAIL, RCPT and DATA in one write and read their replies in order.

        RFC 2920 §3.1 lets a client group these three when the server offers
        PIPELINING: one round trip instead of three. Reading stops after a 421,
        after which the server closes the connection.
        """
        self.dot_sent = False
        self.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n")
        replies = []
        for _command in range(3):
            replies.append(self.getreply())
            if replies[-1][0] == 421:
                break
        return replies

    def data(self, msg: bytes) -> tuple[int, bytes]:  # type: ignore[override]
        # As smtplib.SMTP.data, plus the note of the dot (see content).
        self.dot_sent = False
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        return self.content(msg)

    def content(self, msg: bytes) -> tuple[int, bytes]:
        """Send the message after a 354 and the final dot; return the final reply."""
        # RFC 5321 §4.5.2: double a dot that starts a line. Most messages have no
        # such line; the regex finds out in half the time `b"\n." in msg` takes on
        # 40 KB, and a bytes replace doubles them when there are.
        body = msg.replace(b"\n.", b"\n..") if _LINE_DOT.search(msg) else msg
        if body.startswith(b"."):
            body = b"." + body
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.send(body + b".\r\n")
        self.dot_sent = True
        return self.getreply()


class _SMTPSSL(_SMTP, smtplib.SMTP_SSL):
    """The same over implicit TLS."""


@dataclass
class SMTPSession:
    """One reused connection to the relay; reconnects after an error."""

    host: str
    port: int
    use_tls: bool = False
    use_ssl: bool = False
    username: str = ""
    password: str = ""
    timeout: float = 60.0
    _smtp: _SMTP | None = None

    def _connect(self) -> _SMTP:
        context = ssl.create_default_context()
        smtp: _SMTP
        if self.use_ssl:
            smtp = _SMTPSSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = _SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.use_tls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def deliver(self, envelope_from: str, recipient: str, message: bytes) -> Reply:
        """Send one message over the open connection (opening it when needed)."""
        phase = Phase.CONNECT
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            smtp = self._smtp
            phase = Phase.MAIL
            if smtp.pipelining and envelope_from.isascii() and recipient.isascii():
                # One round trip for the envelope, one for the content.
                refused = self._first_refusal(
                    smtp, smtp.envelope(envelope_from, recipient)
                )
                if refused is not None:
                    return refused
                phase = Phase.DATA
                code, text = smtp.content(message)
                return Reply(code, text.decode("utf-8", "replace"), Phase.DONE)
            code, text = smtp.mail(envelope_from)
            if code != 250:
                return self._refused(code, text, phase)
            phase = Phase.RCPT
            code, text = smtp.rcpt(recipient)
            if code not in (250, 251):
                return self._refused(code, text, phase)
            phase = Phase.DATA
            code, text = smtp.data(message)
            return Reply(code, text.decode("utf-8", "replace"), Phase.DONE)
        except smtplib.SMTPDataError as error:
            return self._refused(error.smtp_code, error.smtp_error, Phase.DATA)
        except (smtplib.SMTPException, OSError) as error:
            if phase == Phase.DATA and self._smtp is not None and self._smtp.dot_sent:
                phase = Phase.AFTER_DOT
            self.close()
            code = getattr(error, "smtp_code", 0) or 0
            return Reply(code if code >= 400 else 0, str(error)[:400], phase)

    def _first_refusal(
        self, smtp: _SMTP, replies: list[tuple[int, bytes]]
    ) -> Reply | None:
        """Return the refusal among pipelined MAIL, RCPT and DATA replies, if any."""
        expected = (
            (Phase.MAIL, (250,)),
            (Phase.RCPT, (250, 251)),
            (Phase.DATA, (354,)),
        )
        for (phase, good), (code, text) in zip(expected, replies, strict=False):
            if code not in good:
                if len(replies) == 3 and replies[2][0] == 354:
                    # The server took DATA after a refused MAIL or RCPT (RFC 2920
                    # §3.1 says it must not): end the empty message at once.
                    smtp.send(b".\r\n")
                    smtp.getreply()
                return self._refused(code, text, phase)
        return None

    def _refused(self, code: int, text: bytes | str, phase: Phase) -> Reply:
        message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        try:
            # Reset the transaction so the connection can carry the next message.
            if self._smtp is not None:
                self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()
        if code == 421:  # the server is closing the connection (RFC 5321 §3.8)
            self.close()
        return Reply(code, message[:400], phase)

    def close(self) -> None:
        """Say goodbye politely, or just drop the connection."""
        if self._smtp is None:
            return
        smtp, self._smtp = self._smtp, None
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


@dataclass
class OutboxSession:
    """The dev outbox: every message becomes an .eml file; nothing leaves."""

    directory: Path

    def deliver(self, envelope_from: str, recipient: str, message: bytes) -> Reply:
        """Write the message with its envelope to the outbox folder."""
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"{stamp}-{secrets.token_hex(4)}.eml"
        envelope = (
            f"X-Postbode-Envelope-From: {envelope_from}\r\n"
            f"X-Postbode-Envelope-To: {recipient}\r\n"
        ).encode()
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(envelope + message)
        temporary.rename(path)
        return Reply(250, "stored in the outbox", Phase.DONE)

    def close(self) -> None:
        """Nothing to release."""


def open_session(config: dict) -> Session:
    """Return a session for the configured relay, or the outbox without one."""
    if not config["MAIL_SERVER"]:
        return OutboxSession(Path(config["MAIL_OUTBOX_DIR"]))
    return SMTPSession(
        host=config["MAIL_SERVER"],
        port=config["MAIL_PORT"],
        use_tls=config["MAIL_USE_TLS"],
        use_ssl=config["MAIL_USE_SSL"],
        username=config["MAIL_USERNAME"],
        password=config["MAIL_PASSWORD"],
    )
