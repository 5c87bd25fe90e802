"""Build RFC 5322 messages with the standard library's SMTP policy."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

# Control characters (CR, LF, TAB, NUL …) in a display name or subject would let a
# reader inject headers such as "\r\nBcc: …"; they become plain spaces instead.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class RenderedEmail:
    """A finished e-mail body: subject, HTML and plain text."""

    subject: str
    html: str
    text: str


def clean_header_text(value: str, limit: int = 200) -> str:
    """Return `value` on one line without control characters, at most `limit` long."""
    return _CONTROL.sub(" ", value).strip()[:limit]


def domain_of(address: str) -> str:
    """Return the domain part of an address."""
    return address.rpartition("@")[2] or "localhost"


def ascii_address(email: str) -> str:
    """Return the address with an internationalised domain in its ASCII (IDNA) form."""
    local, _, domain = email.rpartition("@")
    if domain.isascii():
        return email
    return f"{local}@{domain.encode('idna').decode('ascii')}"


def format_address(email: str, name: str = "") -> str:
    """Return `"Name" <email>` safely quoted, with the domain in ASCII."""
    local, _, domain = ascii_address(email).rpartition("@")
    return str(
        Address(display_name=clean_header_text(name), username=local, domain=domain)
    )


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    sender_name: str = "",
    to_name: str = "",
    headers: dict[str, str] | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """Return a multipart/alternative message for one recipient.

    Long HTML lines are safe: the SMTP policy picks quoted-printable or base64 for
    non-ASCII or long lines, so no line of the result exceeds 998 octets.
    """
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = format_address(sender, sender_name)
    message["To"] = format_address(to, to_name)
    message["Subject"] = clean_header_text(subject, 250)
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=domain_of(sender))
    for name, value in (headers or {}).items():
        message[name] = clean_header_text(value, 2000)
    message.set_content(text, cte=_cte_for(text))
    if html is not None:
        message.add_alternative(html, subtype="html", cte=_cte_for(html))
    return message


def _cte_for(body: str) -> str:
    # quoted-printable keeps text readable in the .eml and wraps long lines at 76.
    if body.isascii() and not _has_long_line(body):
        return "7bit"
    return "quoted-printable"


def _has_long_line(body: str) -> bool:
    return any(len(line) > 900 for line in body.splitlines())
