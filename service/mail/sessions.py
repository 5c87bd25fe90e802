"""Connections that carry many messages: SMTP (kept open and reused) or the outbox.

A session reports how each message went as a `Reply`: the SMTP code and text, and
in which phase it ended, because a dropped connection means something different
before the final dot (not delivered) than after it (perhaps delivered).

An SMTP session can be driven two ways. `deliver` sends one message and waits for
its outcome (one-off mail). The bulk sender instead keeps several sessions busy
from one thread: `start` hands a message over without waiting (a second one may
follow the first's content, see `can_take_next`), and the sender calls
`on_readable` / `on_writable` when the session's socket is ready; they return the
replies of the messages that are done, in the order the messages went. Either way
the same code speaks SMTP.
"""

from __future__ import annotations

import re
import secrets
import select
import smtplib
import socket
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any


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


#: a line that starts with a dot (RFC 5321 §4.5.2)
_LINE_DOT = re.compile(rb"\n\.")
#: what each awaited reply answers; SKIP replies (RSET, an empty message's dot) are
#: read and put aside
_MAIL, _RCPT, _DATA, _DOT, _SKIP = "mail", "rcpt", "data", "dot", "skip"
_GOOD = {_MAIL: (250,), _RCPT: (250, 251), _DATA: (354,)}
_PHASE = {_MAIL: Phase.MAIL, _RCPT: Phase.RCPT, _DATA: Phase.DATA}
#: a connection left idle this long (seconds) is opened afresh before the next
#: message: relays close idle connections (Postfix after 300 s, some after 60), and
#: a message sent into a closed one would be deferred for minutes
IDLE_LIMIT = 30.0


def dot_stuffed(message: bytes) -> bytes:
    """Return the message as DATA content: leading dots doubled, the final dot added.

    RFC 5321 §4.5.2. Most messages have no line that starts with a dot (frozen
    messages write it =2E); the regex finds out in half the time `b"\\n." in msg`
    takes on 40 KB, and a bytes replace doubles them when there are.
    """
    body = message.replace(b"\n.", b"\n..") if _LINE_DOT.search(message) else message
    if body.startswith(b"."):
        body = b"." + body
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


class _Broken(Exception):
    """The connection failed or the server said something that is not SMTP."""


@dataclass(eq=False)
class _Transaction:
    """One message on a connection: its envelope, its content and how it goes."""

    envelope: tuple[bytes, bytes]  #: the MAIL and RCPT commands
    content: bytes  #: what follows the 354: dot-stuffed, with the final dot
    phase: Phase = Phase.MAIL
    refused: Reply | None = None
    #: where the final dot ends in the connection's output (0: not queued yet)
    dot_end: int = 0


@dataclass
class SMTPSession:
    """One reused connection to the relay; reconnects after an error.

    With PIPELINING (RFC 2920) MAIL, RCPT and DATA go in one write and their
    replies are read in order; and once a message's content is out, the next
    message's MAIL, RCPT and DATA may follow it in the same write ("the actual
    transfer of message content is explicitly allowed to be the first command in
    a group", §3.1). So a message takes one round trip instead of four: the final
    reply of one and the envelope replies of the next come back together. At
    most two messages are under way on a connection; their replies come in order.
    """

    host: str
    port: int
    use_tls: bool = False
    use_ssl: bool = False
    username: str = ""
    password: str = ""
    timeout: float = 60.0
    _smtp: smtplib.SMTP | None = None
    _sock: socket.socket | None = None
    _pipelining: bool = False
    #: what is to be written, and how much of it the socket has taken
    _pending: bytes = b""
    _written: int = 0
    #: bytes queued and bytes written on this connection so far
    _queued_total: int = 0
    _written_total: int = 0
    #: bytes read but not yet a whole line
    _in: bytes = b""
    #: the lines of a multi-line reply so far
    _lines: list[bytes] = field(default_factory=list)
    #: the messages under way, oldest first
    _transactions: deque[_Transaction] = field(default_factory=deque)
    #: what each reply still to come answers, in order, and for which message
    _awaiting: deque[tuple[str, _Transaction]] = field(default_factory=deque)
    #: when the server has taken too long (time.monotonic()); 0 when idle
    deadline: float = 0.0
    #: when the last message ended (time.monotonic())
    _idle_since: float = 0.0

    # -- one message, waiting for it -------------------------------------------

    def deliver(self, envelope_from: str, recipient: str, message: bytes) -> Reply:
        """Send one message over the open connection (opening it when needed)."""
        replies = self.start(envelope_from, recipient, message)
        while not replies:
            wait = max(0.0, self.deadline - time.monotonic())
            sock = self._sock
            assert sock is not None  # a session without a socket has its reply
            writes = [sock] if self.wants_write else []
            readable, writable, _ = (
                ([sock], [], [])
                if self.has_buffered()
                else select.select([sock], writes, [], wait)
            )
            if writable:
                replies = self.on_writable()
            if not replies and readable:
                replies = self.on_readable()
            if not replies and not (readable or writable):
                replies = self.expire()
        [reply] = replies
        return reply

    # -- many sessions from one thread -------------------------------------------

    @property
    def busy(self) -> bool:
        """Tell whether a message is under way (its reply has not been given)."""
        return bool(self._transactions)

    @property
    def can_take_next(self) -> bool:
        """Tell whether the next message may follow the one under way at once.

        With PIPELINING, once the one message under way has its content queued.
        """
        return (
            len(self._transactions) == 1
            and self._pipelining
            and self._transactions[0].dot_end > 0
        )

    @property
    def wants_write(self) -> bool:
        """Tell whether bytes wait for the socket to take them."""
        return self._written < len(self._pending)

    def fileno(self) -> int:
        """Return the socket's file number (for select), or -1 when closed."""
        return self._sock.fileno() if self._sock is not None else -1

    def has_buffered(self) -> bool:
        """Tell whether TLS holds decrypted bytes that select cannot see."""
        sock = self._sock
        return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0

    def start(
        self,
        envelope_from: str,
        recipient: str,
        message: bytes,
        *,
        dot_free: bool = False,
    ) -> list[Reply]:
        """Send the envelope of one message; return its reply if it ends at once.

        On an idle connection (opened first if needed: EHLO, STARTTLS and AUTH
        wait), or behind the message under way when `can_take_next`. Nothing else
        waits. Returns [] while the server's replies are still to come. With
        `dot_free` the caller vouches that no line starts with a dot (a frozen
        message, see service/mail/frozen.py), so the content is not searched.
        """
        following = bool(self._transactions)
        if following and not self.can_take_next:
            raise RuntimeError("a message is under way on this connection")
        try:
            envelope = (
                f"MAIL FROM:<{envelope_from}>\r\n".encode("ascii"),
                f"RCPT TO:<{recipient}>\r\n".encode("ascii"),
            )
        except UnicodeEncodeError:
            # Addresses are checked to be ASCII when they come in (IDNA domains);
            # one that is not cannot go without SMTPUTF8, which we do not speak.
            return [Reply(553, "5.1.7 the address is not ASCII", Phase.MAIL)]
        if not following:
            try:
                if self._sock and time.monotonic() - self._idle_since > IDLE_LIMIT:
                    self.close()
                if self._sock is None:
                    self._connect()
            except (smtplib.SMTPException, OSError) as error:
                self.close()
                code = getattr(error, "smtp_code", 0) or 0
                return [
                    Reply(code if code >= 400 else 0, str(error)[:400], Phase.CONNECT)
                ]
        content = (
            message + b".\r\n"
            if dot_free and message.endswith(b"\r\n")
            else dot_stuffed(message)
        )
        transaction = _Transaction(envelope, content)
        self._transactions.append(transaction)
        if self._pipelining:
            self._send(
                b"".join((*envelope, b"DATA\r\n")),
                (_MAIL, transaction),
                (_RCPT, transaction),
                (_DATA, transaction),
            )
        else:
            self._send(envelope[0], (_MAIL, transaction))
        # Behind a message under way the envelope waits for the caller's next
        # write (see on_writable), so it can go in one write with the content.
        return [] if following else self._flush()

    def on_writable(self) -> list[Reply]:
        """Write what the socket takes now; the replies if the connection broke."""
        return self._flush()

    def on_readable(self) -> list[Reply]:
        """Read the server's replies; return those of messages that are done."""
        try:
            while True:
                try:
                    data = self._sock.recv(65536)  # type: ignore[union-attr]
                except (ssl.SSLWantReadError, BlockingIOError):
                    return []
                if not data:
                    raise _Broken("Connection unexpectedly closed")
                replies = self._take(data)
                if replies or not self.has_buffered():
                    return replies
        except (_Broken, OSError) as error:
            return self._broken(str(error))

    def expire(self) -> list[Reply]:
        """End the messages the server has not answered in time ([] if it has time)."""
        if not self.busy or time.monotonic() < self.deadline:
            return []
        return self._broken(f"timed out after {self.timeout:g} s")

    # -- the protocol ------------------------------------------------------------

    def _connect(self) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.use_ssl:
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
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
        self._pipelining = bool(smtp.does_esmtp and smtp.has_extn("pipelining"))
        self._smtp, self._sock = smtp, smtp.sock
        self._sock.setblocking(False)
        self._in, self._lines = b"", []
        self._pending, self._written = b"", 0
        self._queued_total = self._written_total = 0

    def _send(self, data: bytes, *awaiting: tuple[str, _Transaction]) -> None:
        self._queued_total += len(data)
        if self.wants_write:
            data = self._pending[self._written :] + data
        self._pending, self._written = data, 0
        self._awaiting.extend(awaiting)
        self.deadline = time.monotonic() + self.timeout

    def _flush(self) -> list[Reply]:
        """Write as much as the socket takes."""
        pending, sock = self._pending, self._sock
        try:
            while self._written < len(pending):
                try:
                    sent = sock.send(  # type: ignore[union-attr]
                        memoryview(pending)[self._written :]
                        if self._written
                        else pending
                    )
                except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                    return []
                self._written += sent
                self._written_total += sent
        except OSError as error:
            return self._broken(str(error))
        self._pending, self._written = b"", 0
        return []

    def _take(self, data: bytes) -> list[Reply]:
        """Split what came into reply lines; act on every complete reply."""
        self._in += data
        replies: list[Reply] = []
        while (end := self._in.find(b"\n")) >= 0:
            line, self._in = self._in[: end + 1], self._in[end + 1 :]
            if len(line) < 4 or not line[:3].isdigit() or line[3:4] not in b" -\r\n":
                raise _Broken(f"not an SMTP reply: {line[:80]!r}")
            self._lines.append(line[4:].strip())
            if line[3:4] == b"-":
                continue
            text = b"\n".join(self._lines).decode("utf-8", "replace")
            self._lines = []
            replies += self._answer(int(line[:3]), text)
            if self._sock is None:
                # Closed after a 421 or a failed reset: the rest is goodbye.
                self._in = b""
                break
        if self._awaiting:
            self.deadline = time.monotonic() + self.timeout
        return replies

    def _answer(self, code: int, text: str) -> list[Reply]:
        """Act on one reply; return the replies of messages it completes."""
        if not self._awaiting:
            raise _Broken(f"a reply nobody asked for: {code} {text[:80]}")
        step, transaction = self._awaiting.popleft()
        if code == 421 and step != _SKIP:
            # The server is closing the connection (RFC 5321 §3.8): this message
            # and any behind it end here.
            phase = Phase.DONE if step == _DOT else _PHASE[step]
            this = Reply(421, text[:400], phase)
            return self._end_all(lambda t: this if t is transaction else None, text)
        if step == _SKIP:
            if code != 250:
                self.close(polite=False)  # the connection cannot be trusted any more
            return self._finish(transaction, transaction.refused)  # type: ignore[arg-type]
        if step == _DOT:
            return self._finish(transaction, Reply(code, text[:400], Phase.DONE))
        refused = transaction.refused
        if code not in _GOOD[step] and refused is None:
            transaction.refused = refused = Reply(code, text[:400], _PHASE[step])
        last = not any(t is transaction for _step, t in self._awaiting)
        if refused is not None:
            if last:
                if step == _DATA and code == 354:
                    # The server took DATA after a refused MAIL or RCPT (RFC 2920
                    # §3.1 says it must not): end the empty message at once.
                    self._send(b".\r\n", (_SKIP, transaction))
                else:
                    # Reset the transaction so the connection carries the next.
                    self._send(b"RSET\r\n", (_SKIP, transaction))
        elif step == _MAIL and not self._pipelining:
            transaction.phase = Phase.RCPT
            self._send(transaction.envelope[1], (_RCPT, transaction))
        elif step == _RCPT and not self._pipelining:
            transaction.phase = Phase.DATA
            self._send(b"DATA\r\n", (_DATA, transaction))
        elif step == _DATA:
            transaction.phase = Phase.DATA
            self._send(transaction.content, (_DOT, transaction))
            transaction.dot_end = self._queued_total
            transaction.content = b""
        return []

    def _finish(self, transaction: _Transaction, reply: Reply) -> list[Reply]:
        """The oldest message is done (replies come in order)."""
        done = self._transactions.popleft()
        assert done is transaction
        if not self._transactions:
            self.deadline = 0.0
            self._idle_since = time.monotonic()
        return [reply]

    def _end_all(self, reply_for: Any, reason: str) -> list[Reply]:
        """Drop the connection; end every message under way, oldest first.

        A message whose final dot was written but not answered may have been
        delivered (AFTER_DOT); one refused already keeps its refusal.
        """
        ended = []
        for transaction in self._transactions:
            reply = reply_for(transaction)
            if reply is None:
                dot_out = 0 < transaction.dot_end <= self._written_total
                reply = transaction.refused or Reply(
                    0, reason[:400], Phase.AFTER_DOT if dot_out else transaction.phase
                )
            ended.append(reply)
        self._transactions.clear()
        self.close(polite=False)
        self.deadline = 0.0
        self._idle_since = time.monotonic()
        return ended

    def _broken(self, reason: str) -> list[Reply]:
        """The connection failed: drop it and say where each message stopped."""
        return self._end_all(lambda _transaction: None, reason)

    def close(self, *, polite: bool = True) -> None:
        """Say goodbye politely when nothing is under way, or just drop it."""
        smtp, self._smtp, self._sock = self._smtp, None, None
        polite = polite and not self._transactions
        self._awaiting.clear()
        self._pending, self._written = b"", 0
        if smtp is None:
            return
        try:
            if polite and smtp.sock is not None:
                smtp.sock.settimeout(5.0)
                smtp.quit()
                return
        except (smtplib.SMTPException, OSError):
            pass
        smtp.close()


@dataclass
class OutboxSession:
    """The dev outbox: every message becomes an .eml file; nothing leaves."""

    directory: Path
    #: what the bulk sender asks of a connection: a file is written at once, so the
    #: outbox is never busy and never waits
    busy: bool = False
    wants_write: bool = False
    can_take_next: bool = False
    deadline: float = 0.0

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

    def start(
        self,
        envelope_from: str,
        recipient: str,
        message: bytes,
        *,
        dot_free: bool = False,  # noqa: ARG002 - a file has no dots to double
    ) -> list[Reply]:
        """Write the message at once (there is nothing to wait for)."""
        return [self.deliver(envelope_from, recipient, message)]

    def close(self) -> None:
        """Nothing to release."""


def open_session(config: dict) -> SMTPSession | OutboxSession:
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
