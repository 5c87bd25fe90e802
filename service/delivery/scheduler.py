"""The clock: one interval job that does what is due. The database is the schedule.

Every tick starts the issues whose moment has come, closes the sends that have
nothing left and reports them, and reminds correspondents of deadlines. Each of
these is safe when two clocks tick at once (conditional UPDATEs), so running a
second clock for availability never sends anything twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app

from service.db import utcnow
from service.delivery import operations
from service.delivery.reports import report_finished
from service.extensions import db
from service.tracking.operations import expire_events

log = logging.getLogger(__name__)

#: seconds between ticks
INTERVAL = 5


@dataclass
class Tick:
    """What one tick did."""

    started: list[operations.Started] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    reminded: int = 0


def tick(now: datetime) -> Tick:
    """Do everything that is due at `now` (the body of `flask send due`)."""
    from service.editorial.contributions import remind_correspondents

    done = Tick()
    done.started = operations.start_due_issues(now)
    for send in operations.finish_sends(now):
        report_finished(send, now)
        db.session.commit()
        done.finished.append(send.id)
    done.reminded = len(remind_correspondents(now))
    expire_events(now, current_app.config["TRACKING_EVENT_DAYS"])
    db.session.commit()
    return done


def _job(app: Flask) -> None:
    with app.app_context():
        try:
            tick(utcnow())
        except Exception:  # noqa: BLE001 - the clock must keep ticking; log and go on
            db.session.rollback()
            log.exception("clock tick failed")
        finally:
            db.session.remove()


def clock(app: Flask, *, blocking: bool) -> BaseScheduler:
    """Return a scheduler with the one interval job (not started)."""
    # APScheduler logs every run at INFO: twelve lines a minute that say nothing.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    scheduler: BaseScheduler = (
        BlockingScheduler(timezone="UTC")
        if blocking
        else BackgroundScheduler(timezone="UTC", daemon=True)
    )
    scheduler.add_job(
        _job,
        "interval",
        seconds=INTERVAL,
        args=[app],
        id="postbode-tick",
        max_instances=1,
        coalesce=True,
        next_run_time=utcnow(),
    )
    return scheduler
