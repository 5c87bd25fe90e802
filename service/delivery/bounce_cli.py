"""`flask bounces`: receive bounces by SMTP or LMTP, poll a mailbox, read a message."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import click
from flask import current_app
from flask.cli import AppGroup

from service.db import utcnow
from service.delivery import bounce_receiver
from service.delivery import bounces as bounce_rules

bounces = AppGroup("bounces", help="Receive bounces and complaints about our mail.")


@bounces.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2525, show_default=True, type=int)
@click.option("--lmtp", is_flag=True, help="Speak LMTP (behind Postfix or Exim).")
def serve_command(host: str, port: int, lmtp: bool) -> None:
    """Receive mail for the BOUNCE_ADDRESS domain and process each message."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        server = bounce_receiver.BounceServer(app, host, port, lmtp=lmtp)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    stop = threading.Event()

    def on_signal(_number: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    domain = bounce_receiver.bounce_domain(app.config)
    protocol = "LMTP" if lmtp else "SMTP"
    click.echo(f"Receiving bounces for @{domain} on {host}:{port} ({protocol}).")
    try:
        stop.wait()
    finally:
        server.stop()
        click.echo(f"Stopped. {server.tally.summary() or 'No messages.'}")


@bounces.command("poll")
def poll_command() -> None:
    """Process new messages in BOUNCE_MAILBOX_URL (IMAP: marked read; POP3: deleted)."""
    url = current_app.config.get("BOUNCE_MAILBOX_URL", "")
    if not url:
        raise click.ClickException("BOUNCE_MAILBOX_URL is not set.")
    mailbox = bounce_receiver.Mailbox.from_url(url)
    try:
        tally = bounce_receiver.poll(mailbox, utcnow())
    except Exception as error:  # noqa: BLE001 - OSError, imaplib and poplib errors
        raise click.ClickException(f"Mailbox {mailbox.host}: {error}") from None
    click.echo(tally.summary() or "No new messages.")


@bounces.command("process")
@click.argument("message", type=click.File("rb"), default="-")
@click.option(
    "--recipient",
    "recipients",
    multiple=True,
    help="The envelope recipient (Postfix pipe: ${recipient}).",
)
def process_command(message: click.utils.LazyFile, recipients: tuple[str, ...]) -> None:
    """Process one message from a file or standard input (for a pipe transport)."""
    raw = message.read(bounce_rules.MAX_MESSAGE_BYTES + 1)
    # Drain the rest so the piping MTA does not see a broken pipe.
    while message.read(64 * 1024):
        pass
    outcome = bounce_receiver.process(raw, list(recipients), utcnow())
    click.echo(outcome)
    if outcome == bounce_receiver.FAILED:
        sys.exit(75)  # EX_TEMPFAIL: the MTA keeps the message and tries again
