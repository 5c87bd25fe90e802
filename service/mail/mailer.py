"""The mailer: one place that hands messages to the configured transport."""

from __future__ import annotations

from email.message import EmailMessage

from flask import Flask, current_app

from service.mail.message import RenderedEmail, ascii_address, build_message
from service.mail.transport import deliver_one


class Mailer:
    """Send single messages (confirmations, welcomes, tests) through the transport."""

    def init_app(self, app: Flask) -> None:
        """Bind the mailer to an app; nothing connects until a message is sent."""
        app.extensions["postbode_mailer"] = self

    def send(
        self, message: EmailMessage, recipient: str, envelope_from: str = ""
    ) -> None:
        """Hand one message for one recipient to the transport (raises MailError)."""
        config = current_app.config
        envelope = (
            envelope_from or config["BOUNCE_ADDRESS"] or config["MAIL_DEFAULT_SENDER"]
        )
        deliver_one(config, message, ascii_address(envelope), ascii_address(recipient))

    def send_transactional(
        self,
        email: RenderedEmail,
        *,
        to: str,
        to_name: str = "",
        sender_name: str = "",
        headers: dict[str, str] | None = None,
    ) -> EmailMessage:
        """Send a one-off mail to one person, marked as automatically generated."""
        message = build_message(
            sender=current_app.config["MAIL_DEFAULT_SENDER"],
            sender_name=sender_name,
            to=to,
            to_name=to_name,
            subject=email.subject,
            text=email.text,
            html=email.html,
            headers={"Auto-Submitted": "auto-generated", **(headers or {})},
        )
        self.send(message, to)
        return message


mailer = Mailer()
