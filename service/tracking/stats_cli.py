"""`flask stats SEND_ID [--csv]`: a send's numbers in the terminal or as CSV."""

from __future__ import annotations

import click
from flask import current_app

from service.db import utcnow
from service.delivery.operations import get_send
from service.errors import DomainError
from service.tracking import stats


@click.command("stats")
@click.argument("send_id", type=int)
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, as the admin's file.")
def stats_command(send_id: int, as_csv: bool) -> None:
    """Print a send's numbers, clicks, mail programs, origins (no personal data)."""
    try:
        send = get_send(send_id)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    config = current_app.config
    numbers = stats.send_stats(
        send,
        mode=config["TRACKING_MODE"],
        now=utcnow(),
        event_days=config["TRACKING_EVENT_DAYS"],
    )
    sources = stats.send_sources(send.id)
    if as_csv:
        click.echo(stats.csv_text(numbers, sources), nl=False)
        return
    click.echo(f"Send {send.id}: {send.subject}")
    for metric, value, machine, position, text, url in stats.csv_rows(numbers, sources):
        if metric == "link_clicks":
            extra = f" (+{machine} machine)" if machine != "0" else ""
            click.echo(f"  link {position}: {value}{extra}  {text}  <{url}>")
            continue
        if metric in ("mail_program", "click_origin"):
            # Stored cleaned: one printable line, so safe to print as it is.
            count = value or f"{machine} machine"
            name = metric.replace("_", " ")
            click.echo(f"  {name}: {count}  {text or url or '(none sent)'}")
            continue
        shown = value if value != "" else "-"
        extra = f" (+{machine} machine)" if machine else ""
        click.echo(f"  {metric}: {shown}{extra}")
