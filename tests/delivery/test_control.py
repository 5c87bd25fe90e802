"""Poison rows set aside, clocks that run twice at once, and a running sender
that is paused, cancelled or stopped."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.db import utcnow
from service.delivery.engine import BATCH, LEASE, Sender, claim
from service.delivery.models import DeliveryStatus, Send
from service.delivery.scheduler import tick
from service.extensions import db
from tests.conftest import login
from tests.delivery.conftest import (
    Editors,
    deliveries,
    make_audience,
    reader_address,
    schedule_issue,
    send_batches,
    start_send,
    statuses,
)
from tests.delivery.faults import FaultySMTP

POISON = reader_address(0)


def test_a_row_taken_back_three_times_is_quarantined_shown_and_can_be_sent_again(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP, client: FlaskClient
) -> None:
    now = utcnow()
    send = start_send(editors, [make_audience(3)], now)
    # Three senders in turn take the first row and die with it; each next one finds
    # the lease run out (the moment passed in is a lease later).
    moment = now
    for crash in range(3):
        [taken] = claim(f"doomed-{crash}", 1, moment)
        assert taken.subscriber_id == deliveries(send)[POISON].subscriber_id
        moment += LEASE + timedelta(seconds=1)

    send_batches(sending_app, moment)

    poison = deliveries(send)[POISON]
    assert (poison.status, poison.reclaims) == (DeliveryStatus.QUARANTINED, 3)
    assert faulty.to(POISON) == []
    assert faulty.copies() == {reader_address(1): 1, reader_address(2): 1}
    login(client, editors.approver)
    page = client.get(f"/admin/sends/{send.id}").get_data(as_text=True)
    row = page[page.index(POISON) :].split("</tr>")[0]
    assert "apart gezet" in row and "taken back 3 times" in row, row

    client.post(f"/admin/sends/{send.id}/retry")
    send_batches(sending_app)
    assert statuses(send)[POISON] == DeliveryStatus.SENT
    assert len(faulty.to(POISON)) == 1


def at_once(app: Flask, work: Callable[[], object], times: int = 2) -> list[object]:
    """Run `work` in `times` threads released at the same moment; return results."""
    barrier = threading.Barrier(times)
    results: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait()
                results.append(work())
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_two_clocks_ticking_at_the_same_moment_start_one_send(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    now = utcnow()
    schedule_issue(editors, [make_audience(4)], now)

    ticks = at_once(sending_app, lambda: tick(now))

    started = [s for t in ticks for s in t.started if s.send_id]  # type: ignore[attr-defined]
    assert len(started) == 1
    assert db.session.scalar(select(func.count()).select_from(Send)) == 1
    send_batches(sending_app)
    assert faulty.copies() == {reader_address(n): 1 for n in range(4)}


def test_two_clocks_closing_one_send_report_it_to_the_editors_once(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    send = start_send(editors, [make_audience(2)], utcnow())
    send_batches(sending_app)

    ticks = at_once(sending_app, lambda: tick(utcnow()))

    assert sorted(f for t in ticks for f in t.finished) == [send.id]  # type: ignore[attr-defined]
    for editor in (editors.writer, editors.approver):
        [report] = faulty.to(editor.email)
        assert report.parsed()["Subject"].startswith("Verzonden: ")


def test_a_slow_rate_claims_no_more_than_it_can_send_within_the_lease(
    sending_app: Flask,
) -> None:
    # At 0.1 messages a second a batch of 100 would take 1,000 s, three times the
    # 5-minute lease: another sender would take the rest again and send it twice.
    sending_app.config["SEND_RATE_PER_SECOND"] = 0.1
    slow = Sender(sending_app)
    assert slow.batch_size * 10 <= LEASE.total_seconds() / 2
    sending_app.config["SEND_RATE_PER_SECOND"] = 50.0
    assert Sender(sending_app).batch_size == BATCH


def sending_until(
    app: Flask, faulty: FaultySMTP, arrived: int, action: Callable[[], object]
) -> float:
    """Run a sender in a thread; once `arrived` messages are in, do `action`.

    Returns how many seconds the sender took to stop after the action. The server
    answers each message after 50 ms, so a send of a few hundred takes seconds.
    """
    faulty.handler.delay = 0.05
    stop = threading.Event()
    thread = threading.Thread(
        target=lambda: Sender(app).run(stop, until_idle=True), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while len(faulty.accepted) < arrived and time.monotonic() < deadline:
        time.sleep(0.01)
    acted = time.monotonic()
    action()
    thread.join(timeout=30)
    assert not thread.is_alive()
    return time.monotonic() - acted


def test_a_running_sender_gives_back_a_paused_sends_claimed_rows_within_seconds(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP, client: FlaskClient
) -> None:
    send = start_send(editors, [make_audience(150)], utcnow())
    login(client, editors.approver)

    took = sending_until(
        sending_app, faulty, 10, lambda: client.post(f"/admin/sends/{send.id}/pause")
    )

    # The whole batch was claimed at once; what had not begun was given back.
    assert took < 5
    went = len(faulty.accepted)
    assert 10 <= went < 150
    counts = Counter(statuses(send).values())
    assert counts == {DeliveryStatus.SENT: went, DeliveryStatus.QUEUED: 150 - went}
    client.post(f"/admin/sends/{send.id}/resume")
    send_batches(sending_app)
    assert faulty.copies() == {reader_address(n): 1 for n in range(150)}


def test_a_running_sender_cancels_a_cancelled_sends_claimed_rows(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP, client: FlaskClient
) -> None:
    send = start_send(editors, [make_audience(150)], utcnow())
    login(client, editors.approver)

    sending_until(
        sending_app, faulty, 10, lambda: client.post(f"/admin/sends/{send.id}/cancel")
    )

    went = len(faulty.accepted)
    counts = Counter(statuses(send).values())
    assert counts == {DeliveryStatus.SENT: went, DeliveryStatus.CANCELLED: 150 - went}


def test_a_stopped_sender_hands_its_claimed_rows_to_the_next_at_once(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    now = utcnow()
    send = start_send(editors, [make_audience(150)], now)
    stop = threading.Event()
    faulty.handler.delay = 0.05
    thread = threading.Thread(
        target=lambda: Sender(sending_app).run(stop, until_idle=True), daemon=True
    )
    thread.start()
    while len(faulty.accepted) < 10:
        time.sleep(0.01)
    stop.set()  # as SIGTERM does in `flask send worker`
    thread.join(timeout=30)

    assert not thread.is_alive()
    assert DeliveryStatus.SENDING not in statuses(send).values()
    # No lease to wait for: the next sender, at the same moment, sends the rest.
    faulty.handler.delay = 0.0
    send_batches(sending_app, now)
    assert faulty.copies() == {reader_address(n): 1 for n in range(150)}
