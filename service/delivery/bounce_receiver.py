"""Receiving bounces: an SMTP/LMTP server for the BOUNCE_ADDRESS domain, and polling a
mailbox over IMAP or POP3. Both hand each message to `process`, which never raises.

Whatever a message is, the sending server gets "250": a bounce is never answered with
a bounce, and a message we cannot read is logged and counted, not retried.
"""

from __future__ import annotations

import imaplib
import logging
import poplib
import ssl
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from flask import Flask, current_app

from service.db import utcnow
from service.delivery import bounces
from service.extensions import db

log = logging.getLogger(__name__)

#: what `process` says happened to one message (also the Tally's keys)
RECORDED = "recorded"
UNTAGGED = "untagged"
NOT_A_BOUNCE = "not a bounce"
GONE = "delivery gone"
FAILED = "failed"  #: the database refused; the message is kept to try again
TOO_LARGE = "too large"

#: network waits for polling, in seconds
TIMEOUT = 60


@dataclass
class Tally:
    """How many messages ended which way; thread-safe, for the receiver's log."""

    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: str) -> None:
        """Count one message."""
        with self.lock:
            self.counts[outcome] += 1

    def summary(self) -> str:
        """Return the counts in one line."""
        with self.lock:
            return ", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items()))


def process(
    raw: bytes,
    envelope_recipients: Sequence[str],
    now: datetime,
    tally: Tally | None = None,
) -> str:
    """Read, attribute and record one received message; return what happened.

    Runs inside an app context and commits. Never raises: a message that cannot be
    read is logged and counted (see bounces.read_message for the caps).
    """
    outcome = _process(raw, envelope_recipients, now)
    if tally is not None:
        tally.add(outcome)
    return outcome


def _process(raw: bytes, envelope_recipients: Sequence[str], now: datetime) -> str:
    try:
        message = bounces.read_message(raw)
        report = bounces.parse_report(message, envelope_recipients)
    except bounces.Rejected as rejected:
        log.warning("bounce rejected (%s, %d bytes)", rejected.reason, len(raw))
        return f"rejected: {rejected.reason}"
    except Exception:  # noqa: BLE001 - a hostile message must not stop the receiver
        log.exception("bounce could not be read (%d bytes)", len(raw))
        return "rejected: malformed"
    if not report.kind:
        log.info("message to the bounce address is not a bounce; ignored")
        return NOT_A_BOUNCE
    delivery_id = bounces.attribute(report, bounces.verp_secrets(current_app.config))
    if delivery_id is None:
        # Only logged: acting on an address from the text would let anyone
        # unsubscribe anyone by sending a made-up bounce.
        log.info(
            "%s %s without a valid tag, for %s; only logged",
            report.format,
            report.kind,
            ", ".join(report.recipients) or "nobody named",
        )
        return UNTAGGED
    try:
        event = bounces.record_report(report, delivery_id, now)
        db.session.commit()
    except Exception:  # noqa: BLE001 - keep receiving; the message is kept to retry
        db.session.rollback()
        log.exception("bounce for delivery %s could not be recorded", delivery_id)
        return FAILED
    return RECORDED if event is not None else GONE


# The SMTP and LMTP server ------------------------------------------------------------


def bounce_domain(config: dict[str, Any]) -> str:
    """Return the domain of BOUNCE_ADDRESS, lower case ("" when unset)."""
    return str(config.get("BOUNCE_ADDRESS") or "").rpartition("@")[2].lower()


class _Handler:
    """aiosmtpd handler: accept mail for the bounce domain and process each message."""

    def __init__(self, app: Flask, lmtp: bool, tally: Tally) -> None:
        self.app = app
        self.lmtp = lmtp
        self.tally = tally
        self.domain = bounce_domain(app.config)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        _server: Any,
        _session: Any,
        envelope: Any,
        address: str,
        _options: list[str],
    ) -> str:
        if address.rpartition("@")[2].lower() != self.domain:
            return "550 5.1.1 Not a bounce address of this server"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, _server: Any, _session: Any, envelope: Any
    ) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        # Processed right here, one message at a time: bounces arrive slowly, and a
        # single writer suits SQLite. The app context is this message's own.
        with self.app.app_context():
            process(raw, list(envelope.rcpt_tos), utcnow(), self.tally)
        if self.lmtp:
            # LMTP answers once per recipient after DATA (RFC 2033 §4.2).
            return "\r\n".join("250 2.0.0 OK" for _ in envelope.rcpt_tos)
        return "250 2.0.0 OK"


def _counting(server_class: type[SMTP], tally: Tally) -> type[SMTP]:
    """Return a server class that counts messages refused for their size."""

    class Counting(server_class):  # type: ignore[misc, valid-type]
        async def push(self, status: Any) -> None:
            # aiosmtpd refuses an oversized message itself (it stops storing at
            # data_size_limit); this is the one place that learns of it.
            text = status.decode() if isinstance(status, bytes) else str(status)
            if text.startswith("552"):
                log.warning(
                    "bounce refused: larger than %d bytes", bounces.MAX_MESSAGE_BYTES
                )
                tally.add(f"rejected: {TOO_LARGE}")
            await super().push(status)

    return Counting


class _Controller(Controller):
    def __init__(self, handler: _Handler, **kwargs: Any) -> None:
        self.server_class = _counting(LMTP if handler.lmtp else SMTP, handler.tally)
        super().__init__(handler, **kwargs)

    def factory(self) -> SMTP:
        return self.server_class(self.handler, **self.SMTP_kwargs)


class BounceServer:
    """The receiver: `start()`, then mail to any address at the bounce domain."""

    def __init__(self, app: Flask, host: str, port: int, *, lmtp: bool = False) -> None:
        if not bounce_domain(app.config):
            raise ValueError("BOUNCE_ADDRESS is not set")
        self.tally = Tally()
        self.controller = _Controller(
            _Handler(app, lmtp, self.tally),
            hostname=host,
            port=port,
            data_size_limit=bounces.MAX_MESSAGE_BYTES,
        )

    def start(self) -> BounceServer:
        """Listen in a thread of its own."""
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening and close every connection."""
        self.controller.stop()


# Polling a mailbox -------------------------------------------------------------------


class MailboxError(Exception):
    """The mailbox server refused a step; the message says which and why, on a line."""


@dataclass(frozen=True)
class Mailbox:
    """Where to poll, read from BOUNCE_MAILBOX_URL."""

    protocol: str  #: "imap" or "pop3"
    is_tls: bool
    host: str
    port: int
    user: str
    password: str
    folder: str

    @classmethod
    def from_url(cls, url: str) -> Mailbox:
        """Read imaps://user:pass@host[:port]/FOLDER or pop3s://user:pass@host[:port]."""
        parts = urlsplit(url)
        protocol = parts.scheme.removesuffix("s")
        is_tls = parts.scheme.endswith("s")
        if protocol not in ("imap", "pop3") or not parts.hostname:
            raise ValueError("BOUNCE_MAILBOX_URL must be imap(s):// or pop3(s)://")
        default_port = {
            ("imap", True): 993,
            ("imap", False): 143,
            ("pop3", True): 995,
            ("pop3", False): 110,
        }[(protocol, is_tls)]
        return cls(
            protocol=protocol,
            is_tls=is_tls,
            host=parts.hostname,
            port=parts.port or default_port,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
        )


def poll(mailbox: Mailbox, now: datetime, tally: Tally | None = None) -> Tally:
    """Process each new message in the mailbox; POP3 deletes them, IMAP marks them read.

    A message whose bounce could not be recorded (the database refused) is left as
    it was, to be tried at the next poll.
    """
    tally = tally or Tally()
    if mailbox.protocol == "pop3":
        _poll_pop3(mailbox, now, tally)
    else:
        _poll_imap(mailbox, now, tally)
    return tally


def _tls() -> ssl.SSLContext:
    # poplib and imaplib alone would take any certificate, and so hand the password
    # to whoever answers: check it as a browser does, against the system's trust.
    return ssl.create_default_context()


def _said(error: Exception) -> str:
    """Return what the server said, as one line of text (the libraries give bytes)."""
    said = error.args[0] if error.args else error
    if isinstance(said, list):
        said = b" ".join(part for part in said if isinstance(part, bytes))
    if isinstance(said, bytes):
        said = said.decode("utf-8", "replace")
    return " ".join(str(said).split())


def _poll_pop3(mailbox: Mailbox, now: datetime, tally: Tally) -> None:
    if mailbox.is_tls:
        client: poplib.POP3 = poplib.POP3_SSL(
            mailbox.host, mailbox.port, timeout=TIMEOUT, context=_tls()
        )
    else:
        client = poplib.POP3(mailbox.host, mailbox.port, timeout=TIMEOUT)
    try:
        try:
            client.user(mailbox.user)
            client.pass_(mailbox.password)
        except poplib.error_proto as error:
            raise MailboxError(
                f"login as {mailbox.user} refused: {_said(error)}"
            ) from None
        _response, listing, _octets = client.list()
        for line in listing:
            number, size = line.decode().split()[:2]
            if int(size) > bounces.MAX_MESSAGE_BYTES:
                log.warning("bounce refused: %s bytes in the mailbox", size)
                tally.add(f"rejected: {TOO_LARGE}")
                client.dele(number)
                continue
            _response, lines, _octets = client.retr(number)
            if process(b"\r\n".join(lines) + b"\r\n", [], now, tally) != FAILED:
                client.dele(number)
        client.quit()  # deletions take effect only at QUIT (RFC 1939 §6)
    finally:
        client.close()


def _poll_imap(mailbox: Mailbox, now: datetime, tally: Tally) -> None:
    if mailbox.is_tls:
        client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            mailbox.host, mailbox.port, ssl_context=_tls(), timeout=TIMEOUT
        )
    else:
        client = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=TIMEOUT)
    try:
        try:
            client.login(mailbox.user, mailbox.password)
        except imaplib.IMAP4.error as error:
            raise MailboxError(
                f"login as {mailbox.user} refused: {_said(error)}"
            ) from None
        # A NO here (no such folder) is a reply, not an exception: without this
        # check the SEARCH below fails with a message about protocol states.
        status, said = client.select(_imap_quote(mailbox.folder))
        if status != "OK":
            raise MailboxError(
                f'folder "{mailbox.folder}" cannot be opened: {_said(Exception(said))}'
            )
        _status, found = client.uid("SEARCH", "UNSEEN")
        for uid in (found[0] or b"").split():
            _status, sized = client.uid("FETCH", uid, "(RFC822.SIZE)")
            size = _imap_size(sized)
            if size > bounces.MAX_MESSAGE_BYTES:
                log.warning("bounce refused: %s bytes in the mailbox", size)
                tally.add(f"rejected: {TOO_LARGE}")
            else:
                # BODY.PEEK leaves the message unread until it was processed.
                _status, fetched = client.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next(
                    (item[1] for item in fetched if isinstance(item, tuple)), b""
                )
                if process(raw, [], now, tally) == FAILED:
                    continue
            client.uid("STORE", uid, "+FLAGS", "(\\Seen)")
        client.logout()
    finally:
        if client.state != "LOGOUT":
            client.shutdown()


def _imap_quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_size(fetched: list[Any]) -> int:
    for item in fetched:
        text = item.decode() if isinstance(item, bytes) else ""
        marker = text.upper().find("RFC822.SIZE ")
        if marker >= 0:
            digits = text[marker + 12 :].split(")")[0].split()[0]
            return int(digits) if digits.isdigit() else 0
    return 0
