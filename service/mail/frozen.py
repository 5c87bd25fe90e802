"""A message built once per send, filled in per recipient by joining bytes.

Building an EmailMessage costs milliseconds; a send to tens of thousands would spend
most of its time there. So the MIME is built once: the common headers encoded once,
the body split at its slots and each piece quoted-printable encoded once. For each
recipient only the To, Message-ID and per-recipient headers are formatted and the
slot values encoded and joined in.

Slots never break across quoted-printable lines: every piece ends in a soft line
break ("=\\r\\n"), which decoders remove, so a value can be placed between any two.
"""

from __future__ import annotations

import binascii
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from service.mail.message import clean_header_text, domain_of, format_address

CRLF = b"\r\n"
SOFT_BREAK = b"=\r\n"


#: the longest quoted-printable line, without its line end (RFC 2045 §6.7)
QP_LINE = 76


def _qp(text: str) -> bytes:
    """Return `text` as quoted-printable UTF-8 with CRLF line ends, lines <= 76.

    No line starts with a dot: it is written =2E instead, so SMTP has no dot to
    double (RFC 5321 §4.5.2). Quoted-printable wraps a 40 KB issue into some 600
    lines, a few of which start with a sentence's dot; doubling them meant a pass
    over the whole message for every reader.
    """
    normalised = text.replace("\r\n", "\n").encode("utf-8")
    encoded = binascii.b2a_qp(normalised, quotetabs=False, istext=True, header=False)
    if encoded.startswith(b".") or b"\n." in encoded:
        encoded = b"\n".join(
            _without_leading_dot(line) for line in encoded.split(b"\n")
        )
    return encoded.replace(b"\n", CRLF)


def _without_leading_dot(line: bytes) -> bytes:
    """Return a quoted-printable line with a leading dot as =2E, rewrapped to 76."""
    if not line.startswith(b"."):
        return line
    line = b"=2E" + line[1:]
    if len(line) <= QP_LINE:
        return line
    # Break with a soft line break before the limit, never inside an =XX escape.
    cut = QP_LINE - 1
    while b"=" in line[cut - 2 : cut]:
        cut -= 1
    return line[:cut] + b"=\n" + _without_leading_dot(line[cut:])


def _header(name: str, value: str) -> bytes:
    """Return one header line; non-ASCII is encoded and long lines folded by policy."""
    if value.isascii() and len(value) < 900:
        return f"{name}: {value}\r\n".encode("ascii")
    header = policy.SMTP.header_factory(name, value)
    return header.fold(policy=policy.SMTP).encode("ascii")


@dataclass(frozen=True)
class _Body:
    """One body part: its encoded pieces, with slot names between them."""

    pieces: tuple[bytes, ...]
    slots: tuple[str, ...]

    @classmethod
    def split(cls, text: str, slot_names: tuple[str, ...]) -> _Body:
        pieces: list[bytes] = []
        slots: list[str] = []
        rest = text
        while True:
            found = [(rest.find(name), name) for name in slot_names if name in rest]
            if not found:
                pieces.append(_qp(rest))
                break
            index, name = min(found)
            pieces.append(_qp(rest[:index]) + SOFT_BREAK)
            slots.append(name)
            rest = rest[index + len(name) :]
        return cls(tuple(pieces), tuple(slots))

    def fill(self, values: dict[str, bytes]) -> bytes:
        out = [self.pieces[0]]
        for slot, piece in zip(self.slots, self.pieces[1:], strict=True):
            out.append(values[slot])
            out.append(piece)
        return b"".join(out)


@dataclass(frozen=True)
class FrozenMessage:
    """The parts of a message that are the same for every recipient, encoded."""

    common_headers: bytes
    boundary: str
    text: _Body
    html: _Body
    domain: str
    slot_names: tuple[str, ...]

    @classmethod
    def build(
        cls,
        *,
        sender: str,
        sender_name: str,
        subject: str,
        text: str,
        html: str,
        headers: dict[str, str],
        slot_names: tuple[str, ...],
        now: datetime | None = None,
    ) -> FrozenMessage:
        """Encode everything that does not depend on the recipient, once."""
        head = EmailMessage(policy=policy.SMTP)
        head["From"] = format_address(sender, sender_name)
        head["Subject"] = clean_header_text(subject, 250)
        head["Date"] = format_datetime(now or datetime.now(UTC))
        for name, value in headers.items():
            head[name] = clean_header_text(value, 2000)
        head["MIME-Version"] = "1.0"
        boundary = f"=_postbode_{secrets.token_hex(12)}"
        head["Content-Type"] = f'multipart/alternative; boundary="{boundary}"'
        # The policy folds and encodes the headers; only the header block is kept.
        common = head.as_bytes().split(CRLF + CRLF, 1)[0] + CRLF
        return cls(
            common_headers=common,
            boundary=boundary,
            text=_Body.split(text, slot_names),
            html=_Body.split(html, slot_names),
            domain=domain_of(sender),
            slot_names=slot_names,
        )

    def render(
        self,
        *,
        to: str,
        to_name: str,
        message_id: str,
        values: dict[str, str],
        headers: dict[str, str] | None = None,
    ) -> bytes:
        """Return the complete message for one recipient, ready for SMTP DATA."""
        encoded = {
            name: _qp(values.get(name, "")) + SOFT_BREAK for name in self.slot_names
        }
        own = _header("To", format_address(to, to_name))
        own += _header("Message-ID", message_id)
        for name, value in (headers or {}).items():
            own += _header(name, clean_header_text(value, 2000))
        boundary = self.boundary.encode()
        part_head = (
            b'Content-Type: text/%s; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        )
        return b"".join(
            (
                self.common_headers,
                own,
                CRLF,
                b"--" + boundary + CRLF,
                part_head % b"plain",
                self.text.fill(encoded),
                CRLF + b"--" + boundary + CRLF,
                part_head % b"html",
                self.html.fill(encoded),
                CRLF + b"--" + boundary + b"--" + CRLF,
            )
        )

    def message_id(self, *parts: object) -> str:
        """Return a Message-ID on the sender's domain, unique to these parts."""
        local = ".".join(str(p) for p in parts)
        return f"<{local}.{secrets.token_hex(4)}@{self.domain}>"
