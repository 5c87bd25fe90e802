"""The sending commands: `send due`, `worker`, `scheduler` and `serve`."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from service.db import utcnow

send = AppGroup("send", help="Sending what is due.")


@send.command("due")
def due_command() -> None:
    """Do one tick of the clock: start due issues, close finished sends."""
    from service.delivery.scheduler import tick

    done = tick(utcnow())
    for started in done.started:
        click.echo(f"issue {started.issue_id}: {started.message}")
    for send_id in done.finished:
        click.echo(f"send {send_id}: finished and reported")
    if done.reminded:
        click.echo(f"{done.reminded} deadline reminder(s) sent")
    if not (done.started or done.finished or done.reminded):
        click.echo("Nothing is due.")


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@click.command("worker")
@click.option(
    "--concurrency", type=int, default=0, help="SMTP connections (SEND_CONCURRENCY)."
)
@click.option("--until-idle", is_flag=True, help="Stop when nothing is due.")
def worker_command(concurrency: int, until_idle: bool) -> None:
    """Run a sender: claim batches of deliveries and send them until stopped."""
    from service.delivery.engine import Sender

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    sender = Sender(app, concurrency=concurrency)
    stop = threading.Event()
    _stop_on_signals(stop)
    click.echo(f"sender {sender.owner}: {sender.concurrency} connection(s)", err=True)
    sent = sender.run(stop, until_idle=until_idle)
    click.echo(f"sender {sender.owner}: {sent} deliveries handled", err=True)


@click.command("scheduler")
def scheduler_command() -> None:
    """Run the clock alone (for production: next to gunicorn and workers)."""
    from service.delivery.scheduler import clock

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo("clock: ticking every few seconds; Ctrl+C stops", err=True)
    try:
        clock(app, blocking=True).start()
    except (KeyboardInterrupt, SystemExit):
        pass


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve_command(host: str, port: int) -> None:
    """Serve the site with the clock and a sender in this one process (make run)."""
    from werkzeug.serving import run_simple

    from service.delivery.engine import Sender
    from service.delivery.scheduler import clock

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = threading.Event()
    ticker = clock(app, blocking=False)
    ticker.start()
    sender = Sender(app)
    thread = threading.Thread(
        target=sender.run, args=(stop,), name="sender", daemon=True
    )
    thread.start()
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        stop.set()
        ticker.shutdown(wait=False)
        thread.join(timeout=10)
