"""The `flask` command groups: users, subscribers, outbox, demo."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from service.db import utcnow
from service.errors import DomainError
from service.extensions import db
from service.security import Role

users = AppGroup("users", help="Accounts of editors, correspondents and admins.")
outbox = AppGroup("outbox", help="The dev outbox (when MAIL_SERVER is unset).")


@users.command("create")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.EDITOR.value,
    show_default=True,
)
@click.option("--name", default="", help="Full name shown in the admin.")
@click.option(
    "--password",
    default=None,
    help="Leave out to have one generated and printed once.",
)
def create_user_command(email: str, role: str, name: str, password: str | None) -> None:
    """Create an account; prints the generated password once."""
    from service.editorial import accounts

    generated = password is None
    secret = password or accounts.generate_password()
    try:
        user = accounts.create_user(email, Role(role), secret, name=name)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Account {user.email} ({user.role}) created.")
    if generated:
        click.echo(f"Password (shown once): {secret}")


@outbox.command("list")
@click.option("--limit", default=20, show_default=True)
def outbox_list(limit: int) -> None:
    """List the newest messages in the dev outbox."""
    from service.mail.outbox import list_messages

    messages = list_messages(Path(current_app.config["MAIL_OUTBOX_DIR"]), limit)
    if not messages:
        click.echo("The outbox is empty.")
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    for entry in messages:
        when = (
            entry.sent_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
            if entry.sent_at
            else entry.date_header
        )
        click.echo(f"{entry.id}  {when}  {entry.recipient}  {entry.subject}")


@outbox.command("show")
@click.argument("message_id")
@click.option("--html", "show_html", is_flag=True, help="Print the HTML part instead.")
def outbox_show(message_id: str, show_html: bool) -> None:
    """Print one message's headers and its plain text (or HTML)."""
    from service.mail.outbox import parts_of, read_message

    try:
        message, _raw = read_message(
            Path(current_app.config["MAIL_OUTBOX_DIR"]), message_id
        )
    except DomainError as error:
        raise click.ClickException(error.message) from None
    for name, value in message.items():
        click.echo(f"{name}: {value}")
    text, html = parts_of(message)
    click.echo("")
    click.echo(html if show_html else text)


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has data.")
def demo_command(if_empty: bool) -> None:
    """Seed the Sociale Alliantie demo and print the admin password once."""
    from service.demo import database_is_empty, seed_demo

    if not database_is_empty():
        if if_empty:
            return
        raise click.ClickException(
            "The database is not empty; the demo seeds only an empty one."
        )
    account = seed_demo(utcnow())
    db.session.commit()
    click.echo("")
    click.echo(
        "Postbode demo: the Sociale Alliantie, three lists, 200 readers, "
        "and a year plan of themed issues."
    )
    click.echo(f"  Admin login:  {account.email}")
    click.echo(
        f"  Password:     {account.password}   (shown once; change it in the admin)"
    )
    click.echo("")


@click.command("urls")
def urls_command() -> None:
    """Print the addresses of the signup page, the admin and the outbox."""
    base = current_app.config["BASE_URL"]
    click.echo(f"  Signup page:  {base}/subscribe")
    click.echo(f"  Admin:        {base}/admin/")
    click.echo(f"  Outbox:       {base}/admin/outbox/")


def register(app: Flask) -> None:
    """Attach the command groups to the app."""
    from service.delivery.bounce_cli import bounces
    from service.delivery.cli import (
        scheduler_command,
        send,
        serve_command,
        worker_command,
    )
    from service.editorial.cli import issues
    from service.subscribers.cli import subscribers
    from service.tracking.stats_cli import stats_command

    app.cli.add_command(users)
    app.cli.add_command(subscribers)
    app.cli.add_command(outbox)
    app.cli.add_command(issues)
    app.cli.add_command(demo_command)
    app.cli.add_command(urls_command)
    app.cli.add_command(send)
    app.cli.add_command(worker_command)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(serve_command)
    app.cli.add_command(bounces)
    app.cli.add_command(stats_command)
