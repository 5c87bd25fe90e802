"""A real SMTP server for tests: aiosmtpd on a free loopback port, collecting mail."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class ReceivedMail:
    """One message as the server received it: envelope, raw bytes and parsed form."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""


@dataclass
class _Collector:
    messages: list[ReceivedMail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        with self.lock:
            self.messages.append(
                ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), raw, parsed)
            )
        return "250 OK"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SMTPSink:
    """Start with `start()`, read `.messages`, stop with `stop()`."""

    def __init__(self) -> None:
        self.collector = _Collector()
        self.port = free_port()
        self.controller = Controller(
            self.collector, hostname="127.0.0.1", port=self.port
        )

    @property
    def messages(self) -> list[ReceivedMail]:
        with self.collector.lock:
            return list(self.collector.messages)

    def start(self) -> SMTPSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
