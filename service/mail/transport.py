"""Hand one built message to the configured session, or raise MailError.

For one-off mail (confirmations, tests, reports). It uses the same sessions as the
bulk sender (service/mail/sessions.py), opened for one message and closed again.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from service.mail.sessions import Phase, open_session


class MailError(Exception):
    """The message could not be handed over."""


def deliver_one(
    config: dict[str, Any], message: EmailMessage, envelope_from: str, recipient: str
) -> None:
    """Send one message for one recipient over a fresh session, or raise MailError."""
    session = open_session(config)
    try:
        reply = session.deliver(envelope_from, recipient, message.as_bytes())
    finally:
        session.close()
    if reply.accepted:
        return
    where = (
        f"{config['MAIL_SERVER']}:{config['MAIL_PORT']}"
        if config["MAIL_SERVER"]
        else "the outbox"
    )
    if reply.phase == Phase.CONNECT:
        raise MailError(f"cannot connect to {where}: {reply.text}")
    raise MailError(f"{where} refused the message: {reply.code} {reply.text}")
