"""The `flask issues` commands of the editorial work."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from service.db import utcnow
from service.extensions import db

issues = AppGroup("issues", help="The year plan's issues and their deadlines.")


@issues.command("remind")
def remind_command() -> None:
    """Mail correspondents about contribution deadlines that are near (once each)."""
    from service.editorial.contributions import remind_correspondents

    sent = remind_correspondents(utcnow())
    db.session.commit()
    if not sent:
        click.echo("No reminders due.")
    for reminder in sent:
        click.echo(
            f"{reminder.issue.label}: reminded {len(reminder.recipients)} "
            f"correspondent(s)."
        )
        for address in reminder.failed:
            click.echo(f"  not delivered to {address}", err=True)
