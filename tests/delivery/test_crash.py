"""Worker processes that die mid-send, and several that share one send."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from config import ROOT
from service.db import utcnow
from service.delivery.engine import RESULT_GROUP, UNWRITTEN_GROUPS, Sender
from service.delivery.models import Delivery, DeliveryStatus, Send, SendStatus
from service.delivery.scheduler import tick
from service.extensions import db
from service.subscribers.models import Subscriber
from tests.delivery.conftest import (
    BASE_URL,
    Editors,
    make_audience,
    reader_address,
    send_batches,
    start_send,
)
from tests.delivery.faults import FaultySMTP

#: SMTP connections per worker process in these tests
CONCURRENCY = 4
#: messages a sender may have had accepted without their outcome written down:
#: the only ones that can arrive twice after it dies
IN_DOUBT = UNWRITTEN_GROUPS * RESULT_GROUP + CONCURRENCY


def worker_environment(app: Flask, faulty: FaultySMTP, **extra: str) -> dict[str, str]:
    """Return the environment a `flask worker` process reads its settings from."""
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV")
    return {
        **{name: os.environ[name] for name in keep if name in os.environ},
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "BASE_URL": BASE_URL,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(faulty.port),
        "MAIL_DEFAULT_SENDER": app.config["MAIL_DEFAULT_SENDER"],
        "MAIL_NEWSLETTER_SENDER": app.config["MAIL_NEWSLETTER_SENDER"],
        "SEND_RATE_PER_SECOND": "100000",
        "SEND_CONCURRENCY": str(CONCURRENCY),
        **extra,
    }


@contextmanager
def worker(
    environment: dict[str, str], log: Path, *options: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `flask --app wsgi worker` as its own process; kill it if still alive."""
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *options],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def wait_for_messages(
    faulty: FaultySMTP, count: int, process: subprocess.Popen[bytes], log: Path
) -> None:
    """Wait until the server has taken in `count` messages (the worker must live)."""
    deadline = time.monotonic() + 60
    while len(faulty.accepted) < count:
        if process.poll() is not None:
            pytest.fail(f"the worker stopped early:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"only {len(faulty.accepted)} of {count} messages arrived")
        time.sleep(0.002)


def accepted_but_unrecorded(faulty: FaultySMTP) -> int:
    """Count readers the server has a message for whose row still says "sending".

    These are the messages that will go again after a crash: the server took them,
    the worker died before writing that down.
    """
    db.session.expire_all()
    unrecorded = db.session.scalars(
        select(Subscriber.email)
        .join(Delivery, Delivery.subscriber_id == Subscriber.id)
        .where(Delivery.status == DeliveryStatus.SENDING)
    ).all()
    received = faulty.copies()
    return sum(1 for address in unrecorded if received[address])


def expire_leases() -> int:
    """Let the leases of a dead worker run out now instead of in LEASE (5 minutes).

    A killed worker cannot give its rows back; in production the next sender takes
    them once their lease has run out. Waiting five minutes in a test is what this
    saves: moving the expiry into the past is what the passing of time would do.
    """
    expired = db.session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.SENDING)
        .values(lease_expires_at=utcnow() - timedelta(seconds=1))
    ).rowcount
    db.session.commit()
    return expired


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_killed_at_several_points_skips_nobody_and_doubles_only_in_flight(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP, tmp_path: Path
) -> None:
    readers = 2_000
    send = start_send(editors, [make_audience(readers)], utcnow())
    environment = worker_environment(sending_app, faulty)
    log = tmp_path / "worker.log"
    kills = 0
    for reached in (150, 800, 1_400):
        with worker(environment, log) as process:
            wait_for_messages(faulty, reached, process, log)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            kills += 1
        doubles = accepted_but_unrecorded(faulty)
        assert doubles <= IN_DOUBT
        assert expire_leases() > 0

    with worker(environment, log, "--until-idle") as process:
        assert process.wait(timeout=120) == 0, log.read_text()[-3000:]

    copies = faulty.copies()
    assert {reader_address(n) for n in range(readers)} <= set(copies)
    extra = sum(count - 1 for count in copies.values())
    # Only what the server had accepted but the worker had not yet written down can
    # go twice: at most one result group plus the connections in flight, per kill.
    assert extra <= kills * IN_DOUBT, extra
    db.session.expire_all()
    sent = db.session.scalar(
        select(func.count()).where(
            Delivery.send_id == send.id, Delivery.status == DeliveryStatus.SENT
        )
    )
    assert sent == readers
    assert tick(utcnow()).finished == [send.id]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_three_workers_share_a_send_and_everyone_gets_exactly_one_message(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP, tmp_path: Path
) -> None:
    readers = 900
    send = start_send(editors, [make_audience(readers)], utcnow())
    # A shared pace slow enough that the send outlasts the workers' start-up.
    environment = worker_environment(
        sending_app, faulty, SEND_RATE_PER_SECOND="600", SEND_CONCURRENCY="2"
    )
    logs = [tmp_path / f"worker{n}.log" for n in range(3)]
    with (
        worker(environment, logs[0], "--until-idle") as first,
        worker(environment, logs[1], "--until-idle") as second,
        worker(environment, logs[2], "--until-idle") as third,
    ):
        for process, log in zip((first, second, third), logs, strict=True):
            assert process.wait(timeout=120) == 0, log.read_text()[-3000:]

    copies = faulty.copies()
    assert copies == {reader_address(n): 1 for n in range(readers)}
    owners = [log.read_text() for log in logs]
    handled = [int(text.rsplit(": ", 1)[1].split()[0]) for text in owners]
    assert sum(handled) == readers
    assert sum(1 for count in handled if count) >= 2, handled  # the work was shared
    db.session.expire_all()
    assert db.session.get(Send, send.id).status == SendStatus.SENDING  # type: ignore[union-attr]
    assert tick(utcnow()).finished == [send.id]


class _FailingWrite(Sender):
    """A sender whose database refuses the second group of outcomes."""

    groups = 0

    def record(self, results: list, now: datetime) -> None:  # type: ignore[override]
        self.groups += 1
        if self.groups == 2:
            # As a locked database does: it fails after its busy timeout, by which
            # time the sender has as many messages out as it may have unwritten.
            time.sleep(0.5)
            raise OperationalError("UPDATE deliveries", {}, Exception("locked"))
        super().record(results, now)


def test_a_sender_whose_writes_fail_stops_sending_and_leaves_the_rest_to_the_next(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    readers = 200
    now = utcnow()
    send = start_send(editors, [make_audience(readers)], now)
    sender = _FailingWrite(sending_app, concurrency=CONCURRENCY)

    started = time.monotonic()
    with pytest.raises(OperationalError):
        sender.run(threading.Event(), until_idle=True)
    db.session.rollback()
    # It stopped at once (the failed write ended the run), and no more messages
    # were out without a record than a crash can leave.
    assert time.monotonic() - started < 30
    assert 0 < accepted_but_unrecorded(faulty) <= IN_DOUBT

    # Its leases run out; the next sender sends the rest, and only the messages
    # whose outcome was lost can arrive twice.
    send_batches(sending_app, now + timedelta(minutes=6))
    copies = Counter(r for m in faulty.accepted for r in m.rcpt_tos)
    addresses = [reader_address(n) for n in range(readers)]
    assert all(copies[address] >= 1 for address in addresses)
    assert sum(copies[a] - 1 for a in addresses) <= IN_DOUBT
    statuses = db.session.scalars(
        select(Delivery.status).where(Delivery.send_id == send.id)
    ).all()
    assert set(statuses) == {DeliveryStatus.SENT}


class _BuggyDelivery(Sender):
    """A sender with a bug that shows for one reader: sending raises."""

    def _deliver(self, session, job):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN202
        if job.recipient == reader_address(1):
            raise ValueError("a bug in building this envelope")
        return super()._deliver(session, job)


def test_a_bug_while_sending_one_message_defers_it_and_the_rest_go_out(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    send = start_send(editors, [make_audience(5)], utcnow())

    handled = _BuggyDelivery(sending_app).run(threading.Event(), until_idle=True)

    assert handled == 5
    copies = Counter(r for m in faulty.accepted for r in m.rcpt_tos)
    assert copies == {reader_address(n): 1 for n in (0, 2, 3, 4)}
    row = db.session.scalars(
        select(Delivery)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.send_id == send.id, Subscriber.email == reader_address(1))
    ).one()
    assert row.status == DeliveryStatus.DEFERRED
    assert row.smtp_reply.startswith("0 internal error: a bug in building")
