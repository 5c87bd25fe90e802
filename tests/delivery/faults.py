"""An SMTP server that misbehaves on request: aiosmtpd on a free loopback port.

It answers chosen codes on MAIL, RCPT or DATA (for one recipient, or by a rule over
the session, e.g. "every third session answers 421"), delays its final reply, drops
the connection right after the final dot without replying, goes down (stops
listening and drops open connections) and comes back, and records every message it
took in: envelope and bytes.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from tests.smtp import free_port


@dataclass(frozen=True)
class Moment:
    """What the server is about to answer: the phase, session and envelope so far."""

    phase: str  #: "mail", "rcpt" or "data"
    session: int  #: the number of the SMTP session (connection), from 1
    transaction: int  #: the number of the MAIL command the server is in, from 1
    mail_from: str
    recipient: str  #: the recipient, or "" at MAIL (not known yet)


#: a rule returns the reply to give ("550 5.1.1 …"), or None to go on as normal
Rule = Callable[[Moment], str | None]


@dataclass(frozen=True)
class Accepted:
    """One message the server took in: its envelope and the exact bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    dropped: bool  #: the connection was dropped after the dot (the client never knew)

    def parsed(self, strict: bool = False) -> EmailMessage:
        """Return the message parsed with the default (or the strict) policy."""
        chosen = policy.strict if strict else policy.default
        return BytesParser(policy=chosen).parsebytes(self.raw)  # type: ignore[return-value]


def every_nth_session(n: int, reply: str, phase: str = "mail") -> Rule:
    """Return a rule that answers `reply` on `phase` in sessions n, 2n, 3n, …."""

    def rule(moment: Moment) -> str | None:
        return reply if moment.phase == phase and moment.session % n == 0 else None

    return rule


def transactions_in(numbers: set[int], period: int, reply: str) -> Rule:
    """Return a rule answering `reply` to MAIL when transaction % period is in numbers.

    Sessions are reused for many messages, so a fault rate over transactions is
    what a sender sees; a 421 also ends its session, so as many sessions end in it.
    """

    def rule(moment: Moment) -> str | None:
        hit = moment.phase == "mail" and moment.transaction % period in numbers
        return reply if hit else None

    return rule


@dataclass
class _Handler:
    """The aiosmtpd hooks: consult the rules, then behave like a plain sink."""

    rules: list[Rule] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    drops: Counter[str] = field(default_factory=Counter)
    delay: float = 0.0
    waiting: int = 0
    most_waiting: int = 0
    sessions: int = 0
    transactions: int = 0
    live: set[SMTP] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: offer PIPELINING (RFC 2920) in the EHLO reply, as Postfix and Exim do;
    #: aiosmtpd answers grouped commands in order whether it offers it or not
    pipelining: bool = True
    #: how many MAIL commands came with their RCPT already behind them (pipelined)
    grouped: int = 0

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook name
        self,
        _server: SMTP,
        session: Any,
        _envelope: Any,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to the hook
        if self.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    def _number(self, server: SMTP) -> int:
        # Numbered at the first MAIL, so aiosmtpd's start-up probe does not count.
        number = getattr(server, "postbode_number", 0)
        if not number:
            with self.lock:
                self.sessions += 1
                number = self.sessions
                self.live.add(server)
            server.postbode_number = number  # type: ignore[attr-defined]
        return number

    @staticmethod
    def transactions_of(envelope: Any) -> int:
        return getattr(envelope, "postbode_transaction", 0)

    def _ruling(self, moment: Moment) -> str | None:
        with self.lock:
            rules = list(self.rules)
        for rule in rules:
            reply = rule(moment)
            if reply is not None:
                return reply
        return None

    def _answer(self, server: SMTP, reply: str) -> str:
        if reply.startswith("421"):
            # RFC 5321 §3.8: the server closes the channel after a 421; close once
            # the reply is written (push writes first, then yields to the loop).
            asyncio.get_running_loop().call_soon(_close, server)
        return reply

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, _session: Any, envelope: Any, address: str, options: list
    ) -> str:
        number = self._number(server)
        # A pipelining client's RCPT is already waiting in the stream's buffer
        # (asyncio's StreamReader keeps it in _buffer) when MAIL is answered.
        waiting = bytes(getattr(server._reader, "_buffer", b""))
        with self.lock:
            self.grouped += b"RCPT TO:" in waiting.upper()
            self.transactions += 1
            envelope.postbode_transaction = self.transactions
        moment = Moment("mail", number, self.transactions_of(envelope), address, "")
        reply = self._ruling(moment)
        if reply is not None:
            return self._answer(server, reply)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, _session: Any, envelope: Any, address: str, options: list
    ) -> str:
        moment = Moment(
            "rcpt",
            self._number(server),
            self.transactions_of(envelope),
            envelope.mail_from,
            address,
        )
        reply = self._ruling(moment)
        if reply is not None:
            return self._answer(server, reply)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, _session: Any, envelope: Any
    ) -> str:
        recipient = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        moment = Moment(
            "data",
            self._number(server),
            self.transactions_of(envelope),
            envelope.mail_from,
            recipient,
        )
        reply = self._ruling(moment)
        if reply is not None:
            return self._answer(server, reply)
        raw = envelope.original_content or envelope.content
        with self.lock:
            drop = self.drops[recipient] > 0 or self.drops["*"] > 0
            if drop:
                self.drops[recipient if self.drops[recipient] else "*"] -= 1
            self.accepted.append(
                Accepted(envelope.mail_from, tuple(envelope.rcpt_tos), raw, drop)
            )
        if drop:
            # The message is in, but the client never hears so. Checked with
            # aiosmtpd 1.4: after close() or abort() here the reply is never written
            # and smtplib sees "Connection unexpectedly closed" after the dot;
            # abort() also discards anything still buffered.
            server.transport.abort()  # type: ignore[union-attr]
            return "250 OK (never sent)"
        if self.delay:
            with self.lock:
                self.waiting += 1
                self.most_waiting = max(self.most_waiting, self.waiting)
            await asyncio.sleep(self.delay)
            with self.lock:
                self.waiting -= 1
        return "250 OK"


def _close(server: SMTP) -> None:
    if server.transport is not None:
        server.transport.close()


class _Controller(Controller):
    """aiosmtpd's controller, keeping track of open sessions so they can be cut."""

    def factory(self) -> SMTP:
        return _TrackedSMTP(self.handler, **self.SMTP_kwargs)


class _TrackedSMTP(SMTP):
    def connection_lost(self, error: Exception | None) -> None:
        handler: _Handler = self.event_handler
        with handler.lock:
            handler.live.discard(self)
        super().connection_lost(error)


class FaultySMTP:
    """Start with `start()`; set faults; read `accepted`; stop with `stop()`."""

    def __init__(
        self, *, pipelining: bool = True, tls: ssl.SSLContext | None = None
    ) -> None:
        self.port = free_port()
        self.handler = _Handler(pipelining=pipelining)
        # With a TLS context it offers STARTTLS and takes no mail without it.
        starttls = {"tls_context": tls, "require_starttls": True} if tls else {}
        self.controller = _Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **starttls
        )
        self.is_down = False

    def start(self) -> FaultySMTP:
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.is_down:
            self.come_back()
        self.controller.stop()

    # -- faults ---------------------------------------------------------------

    def answer(
        self, phase: str, reply: str, *, to: str | None = None, times: int | None = None
    ) -> None:
        """Answer `reply` on `phase` (for recipient `to`), `times` times or always."""
        left = [times]

        def rule(moment: Moment) -> str | None:
            if moment.phase != phase or (to is not None and moment.recipient != to):
                return None
            if left[0] is not None:
                if left[0] <= 0:
                    return None
                left[0] -= 1
            return reply

        self.add_rule(rule)

    def add_rule(self, rule: Rule) -> None:
        """Consult `rule` before every MAIL, RCPT and DATA reply."""
        with self.handler.lock:
            self.handler.rules.append(rule)

    def heal(self) -> None:
        """Forget every rule, drop and delay: answer as a healthy server again."""
        with self.handler.lock:
            self.handler.rules.clear()
            self.handler.drops.clear()
            self.handler.delay = 0.0

    def delay_final_reply(self, seconds: float) -> None:
        """Wait `seconds` after the final dot before saying 250."""
        self.handler.delay = seconds

    def drop_after_dot(self, to: str = "*", times: int = 1) -> None:
        """Take in the next `times` messages to `to`, then hang up without replying."""
        with self.handler.lock:
            self.handler.drops[to] += times

    def go_down(self) -> None:
        """Stop listening (connections are refused) and cut every open session."""
        loop = self.controller.loop

        async def down() -> None:
            assert self.controller.server is not None
            self.controller.server.close()
            await self.controller.server.wait_closed()
            with self.handler.lock:
                live = list(self.handler.live)
            for server in live:
                if server.transport is not None:
                    server.transport.abort()

        asyncio.run_coroutine_threadsafe(down(), loop).result(timeout=5)
        self.is_down = True

    def come_back(self) -> None:
        """Listen again on the same port."""
        loop = self.controller.loop

        async def up() -> Any:
            return await loop.create_server(
                self.controller._factory_invoker, host="127.0.0.1", port=self.port
            )

        # The controller closes whatever `server` holds when it stops.
        self.controller.server = asyncio.run_coroutine_threadsafe(up(), loop).result(
            timeout=5
        )
        self.is_down = False

    # -- what arrived ---------------------------------------------------------

    @property
    def accepted(self) -> list[Accepted]:
        """Every message taken in, in order (dropped ones too: the server has them)."""
        with self.handler.lock:
            return list(self.handler.accepted)

    @property
    def pipelined(self) -> int:
        """How many transactions came with MAIL, RCPT and DATA in one go."""
        with self.handler.lock:
            return self.handler.grouped

    @property
    def sessions(self) -> int:
        """How many SMTP sessions sent at least a MAIL command."""
        with self.handler.lock:
            return self.handler.sessions

    @property
    def most_waiting_at_once(self) -> int:
        """How many sessions waited for a delayed final reply at the same time."""
        with self.handler.lock:
            return self.handler.most_waiting

    def to(self, address: str) -> list[Accepted]:
        """Return the messages taken in for `address`."""
        return [m for m in self.accepted if address in m.rcpt_tos]

    def copies(self) -> Counter[str]:
        """Count the messages taken in per recipient."""
        return Counter(r for m in self.accepted for r in m.rcpt_tos)
