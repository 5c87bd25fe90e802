"""What the engine does with each answer a real (misbehaving) SMTP server gives."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.db import utcnow
from service.delivery.models import Delivery, DeliveryStatus, SendStatus
from service.delivery.operations import OPEN, retry_failed
from service.delivery.scheduler import tick
from service.extensions import db
from service.subscribers import operations as subscribers
from service.subscribers.models import Subscriber
from tests.conftest import login
from tests.delivery.conftest import (
    READER_DOMAIN,
    Editors,
    deliveries,
    make_audience,
    reader_address,
    send_batches,
    start_send,
    statuses,
)
from tests.delivery.faults import FaultySMTP, Moment, transactions_in

UNLUCKY = reader_address(1)


@pytest.mark.parametrize(
    ("phase", "reply"),
    [
        ("rcpt", "550 5.1.1 User unknown"),
        ("data", "554 5.7.1 Message rejected as spam"),
        ("data", "552 5.3.4 Message too big for system"),
    ],
)
@pytest.mark.parametrize(
    "faulty", [True, False], indirect=True, ids=["pipelined", "one-by-one"]
)
def test_a_permanent_refusal_fails_the_delivery_keeps_the_reply_and_is_not_retried(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP, phase: str, reply: str
) -> None:
    now = utcnow()
    send = start_send(editors, [make_audience(3)], now)
    faulty.answer(phase, reply, to=UNLUCKY)

    send_batches(sending_app, now)
    # Days later, with the server long healthy again, nothing is tried again.
    faulty.heal()
    send_batches(sending_app, now + timedelta(days=4))

    unlucky = deliveries(send)[UNLUCKY]
    assert unlucky.status == DeliveryStatus.FAILED
    assert unlucky.smtp_reply == reply
    assert unlucky.attempts == 1
    assert faulty.to(UNLUCKY) == []
    assert faulty.copies() == {reader_address(0): 1, reader_address(2): 1}
    # Offered PIPELINING, the engine sends MAIL, RCPT and DATA in one go.
    assert (faulty.pipelined > 0) == faulty.handler.pipelining


@pytest.mark.parametrize(
    ("phase", "reply"),
    [
        ("rcpt", "450 4.2.0 Mailbox busy"),
        ("rcpt", "421 4.3.2 Service shutting down"),
        # RFC 5321 §4.5.3.1.10: 552 on RCPT means "too many recipients": temporary.
        ("rcpt", "552 5.2.2 Mailbox full"),
        ("data", "451 4.3.0 Try again later"),
    ],
)
@pytest.mark.parametrize(
    "faulty", [True, False], indirect=True, ids=["pipelined", "one-by-one"]
)
def test_a_temporary_refusal_defers_with_growing_waits_and_sends_when_it_recovers(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP, phase: str, reply: str
) -> None:
    now = utcnow()
    send = start_send(editors, [make_audience(3)], now)
    faulty.answer(phase, reply, to=UNLUCKY, times=2)

    send_batches(sending_app, now)
    first = deliveries(send)[UNLUCKY]
    assert first.status == DeliveryStatus.DEFERRED
    assert first.smtp_reply == reply
    assert first.next_attempt_at > utcnow()
    assert first.next_attempt_at - first.updated_at == timedelta(minutes=5)

    # Four minutes on it is not due yet; six minutes on it is, and fails again.
    assert send_batches(sending_app, now + timedelta(minutes=4)) == 0
    send_batches(sending_app, now + timedelta(minutes=6))
    second = deliveries(send)[UNLUCKY]
    assert second.status == DeliveryStatus.DEFERRED
    assert second.next_attempt_at - second.updated_at == timedelta(minutes=10)

    # The server has recovered (the fault was for two attempts): the third goes.
    send_batches(sending_app, now + timedelta(minutes=20))
    third = deliveries(send)[UNLUCKY]
    assert third.status == DeliveryStatus.SENT
    assert third.attempts == 2
    assert faulty.copies() == {reader_address(n): 1 for n in range(3)}


def test_a_delivery_deferred_past_the_give_up_period_fails(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    now = utcnow()
    hours = sending_app.config["SEND_GIVE_UP_HOURS"]
    send = start_send(editors, [make_audience(2)], now)
    faulty.answer("rcpt", "450 4.2.0 Mailbox busy", to=UNLUCKY)

    # The period counts from the first refusal: tried all along, still deferred
    # just before it ends, failed once it has.
    send_batches(sending_app, now)
    send_batches(sending_app, now + timedelta(hours=hours - 1))
    assert deliveries(send)[UNLUCKY].status == DeliveryStatus.DEFERRED
    send_batches(sending_app, now + timedelta(hours=hours + 1))

    unlucky = deliveries(send)[UNLUCKY]
    assert unlucky.status == DeliveryStatus.FAILED
    assert unlucky.smtp_reply == "450 4.2.0 Mailbox busy"
    assert statuses(send)[reader_address(0)] == DeliveryStatus.SENT


def test_send_again_after_the_give_up_period_gets_a_whole_period_of_its_own(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    now = utcnow()
    hours = sending_app.config["SEND_GIVE_UP_HOURS"]
    send = start_send(editors, [make_audience(2)], now)
    faulty.answer("rcpt", "450 4.2.0 Mailbox busy", to=UNLUCKY)
    send_batches(sending_app, now)
    send_batches(sending_app, now + timedelta(hours=hours + 1))
    assert deliveries(send)[UNLUCKY].status == DeliveryStatus.FAILED

    # Days later an editor sends again; the mailbox is still busy for a while.
    later = now + timedelta(days=5)
    assert retry_failed(send, later) == 1
    db.session.commit()
    send_batches(sending_app, later)
    assert deliveries(send)[UNLUCKY].status == DeliveryStatus.DEFERRED
    faulty.heal()
    send_batches(sending_app, later + timedelta(hours=7))

    assert deliveries(send)[UNLUCKY].status == DeliveryStatus.SENT
    assert len(faulty.to(UNLUCKY)) == 1


def test_an_outage_of_a_minute_defers_everyone_and_all_arrive_once_after_it(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    now = utcnow()
    send = start_send(editors, [make_audience(6)], now)
    faulty.go_down()

    send_batches(sending_app, now)
    assert set(statuses(send).values()) == {DeliveryStatus.DEFERRED}

    # A minute later the server is back; the backoff still holds everyone.
    faulty.come_back()
    assert send_batches(sending_app, now + timedelta(minutes=1)) == 0
    send_batches(sending_app, now + timedelta(minutes=6))

    assert set(statuses(send).values()) == {DeliveryStatus.SENT}
    assert faulty.copies() == {reader_address(n): 1 for n in range(6)}
    db.session.refresh(send)
    assert send.status == SendStatus.SENDING  # a short outage does not pause


@pytest.mark.parametrize(
    "faulty", [True, False], indirect=True, ids=["pipelined", "one-by-one"]
)
def test_a_connection_dropped_after_the_dot_sends_once_more_flagged_never_a_third_time(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    now = utcnow()
    send = start_send(editors, [make_audience(3)], now)
    # The server takes the message in and hangs up, every time, for this reader.
    faulty.drop_after_dot(UNLUCKY, times=10)

    send_batches(sending_app, now)
    send_batches(sending_app, now + timedelta(days=1))

    unlucky = deliveries(send)[UNLUCKY]
    assert unlucky.is_uncertain
    assert unlucky.status == DeliveryStatus.SENT
    assert len(faulty.to(UNLUCKY)) == 2
    assert faulty.copies()[reader_address(0)] == 1


def test_one_dropped_connection_is_followed_by_one_accepted_copy(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    now = utcnow()
    send = start_send(editors, [make_audience(3)], now)
    faulty.drop_after_dot(UNLUCKY, times=1)

    send_batches(sending_app)  # the second try is due at once

    unlucky = deliveries(send)[UNLUCKY]
    assert (unlucky.status, unlucky.is_uncertain) == (DeliveryStatus.SENT, True)
    assert [m.dropped for m in faulty.to(UNLUCKY)] == [True, False]


@pytest.mark.parametrize(
    "faulty", [True, False], indirect=True, ids=["pipelined", "one-by-one"]
)
def test_with_30_percent_of_sessions_ended_by_421_everyone_gets_exactly_one_message(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    readers = 30
    now = utcnow()
    send = start_send(editors, [make_audience(readers)], now)
    # Three in ten transactions are answered 421, which closes the session.
    faulty.add_rule(transactions_in({1, 4, 7}, 10, "421 4.7.0 Too busy, try later"))

    for round_ in range(1, 15):
        # Each round is past the longest backoff (6 hours), so all deferred are due.
        send_batches(sending_app, now + timedelta(hours=7 * round_))
        if not any(s in OPEN for s in statuses(send).values()):
            break

    assert faulty.copies() == {reader_address(n): 1 for n in range(readers)}
    rows = deliveries(send).values()
    assert {row.status for row in rows} == {DeliveryStatus.SENT}
    deferrals = sum(row.attempts for row in rows)
    assert deferrals >= 9  # the faults really happened, each to a message
    assert faulty.sessions > deferrals  # and each 421 ended its session


def test_a_slow_final_reply_delays_but_never_doubles_and_connections_work_side_by_side(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    readers = 8
    send = start_send(editors, [make_audience(readers)], utcnow())
    faulty.delay_final_reply(0.4)

    send_batches(sending_app, concurrency=4)

    assert faulty.copies() == {reader_address(n): 1 for n in range(readers)}
    assert set(statuses(send).values()) == {DeliveryStatus.SENT}
    # Counted by the server, not timed: a busy test machine cannot make it flaky.
    assert faulty.most_waiting_at_once >= 2


def test_too_many_failures_in_a_row_pause_the_send_and_tell_the_editors(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP, client: FlaskClient
) -> None:
    sending_app.config["SEND_PAUSE_AFTER_FAILURES"] = 5
    send = start_send(editors, [make_audience(30)], utcnow())

    def readers_refused(moment: Moment) -> str | None:
        # Only readers: the editors' notice must still get through.
        hit = moment.phase == "rcpt" and moment.recipient.endswith(READER_DOMAIN)
        return "550 5.7.1 Relay access denied" if hit else None

    faulty.add_rule(readers_refused)
    send_batches(sending_app, batch_size=10)

    db.session.refresh(send)
    assert send.status == SendStatus.PAUSED
    login(client, editors.approver)
    page = client.get(f"/admin/sends/{send.id}").get_data(as_text=True)
    assert "Vanzelf gepauzeerd na 10 mislukte pogingen op rij" in page
    counts = list(statuses(send).values())
    assert counts.count(DeliveryStatus.FAILED) == 10
    assert counts.count(DeliveryStatus.QUEUED) == 20
    for editor in (editors.writer, editors.approver):
        [notice] = faulty.to(editor.email)
        assert notice.parsed()["Subject"].startswith("Gepauzeerd: ")


def test_failures_after_a_success_in_the_same_group_still_count_towards_a_pause(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    sending_app.config["SEND_PAUSE_AFTER_FAILURES"] = 5
    send = start_send(editors, [make_audience(10)], utcnow())
    first = reader_address(0)

    def all_but_the_first_refused(moment: Moment) -> str | None:
        hit = moment.phase == "rcpt" and moment.recipient.endswith(READER_DOMAIN)
        return (
            "550 5.7.1 Relay access denied"
            if hit and moment.recipient != first
            else None
        )

    faulty.add_rule(all_but_the_first_refused)
    # One connection: the messages go (and are recorded) in claim order.
    send_batches(sending_app, batches=1, batch_size=10, concurrency=1)

    db.session.refresh(send)
    assert send.status == SendStatus.PAUSED
    assert send.failure_streak == 9


def test_pause_resume_and_cancel_from_the_send_page_take_effect_within_one_batch(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP, client: FlaskClient
) -> None:
    send = start_send(editors, [make_audience(20)], utcnow())
    login(client, editors.approver)
    page = f"/admin/sends/{send.id}"

    send_batches(sending_app, batches=1, batch_size=5)
    assert len(faulty.accepted) == 5

    assert client.post(f"{page}/pause").status_code == 302
    assert send_batches(sending_app, batch_size=5) == 0
    assert len(faulty.accepted) == 5
    assert client.get(f"{page}/progress.json").json["status"] == "paused"

    client.post(f"{page}/resume")
    send_batches(sending_app, batches=1, batch_size=5)
    assert len(faulty.accepted) == 10

    client.post(f"{page}/cancel")
    assert send_batches(sending_app, batch_size=5) == 0
    assert len(faulty.accepted) == 10
    counts = list(statuses(send).values())
    assert counts.count(DeliveryStatus.SENT) == 10
    assert counts.count(DeliveryStatus.CANCELLED) == 10
    assert client.get(f"{page}/progress.json").json["status"] == "cancelled"


def test_a_reader_who_leaves_after_the_send_started_but_before_their_turn_gets_nothing(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    now = utcnow()
    send = start_send(editors, [make_audience(3)], now)
    leaver = db.session.query(Subscriber).filter_by(email=UNLUCKY).one()
    subscribers.unsubscribe(leaver, utcnow())
    db.session.commit()

    send_batches(sending_app)

    assert faulty.to(UNLUCKY) == []
    assert statuses(send)[UNLUCKY] == DeliveryStatus.SKIPPED
    assert faulty.copies() == {reader_address(0): 1, reader_address(2): 1}


def test_send_again_to_those_who_failed_sends_to_exactly_those(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP, client: FlaskClient
) -> None:
    send = start_send(editors, [make_audience(5)], utcnow())
    refused = [reader_address(1), reader_address(3)]
    for address in refused:
        faulty.answer("rcpt", "550 5.2.1 Mailbox disabled", to=address, times=1)
    send_batches(sending_app)
    assert tick(utcnow()).finished == [send.id]

    login(client, editors.approver)
    assert client.post(f"/admin/sends/{send.id}/retry").status_code == 302
    before = len(faulty.accepted)
    send_batches(sending_app)

    again = [m.rcpt_tos[0] for m in faulty.accepted[before:]]
    assert sorted(again) == refused
    assert faulty.copies() == {reader_address(n): 1 for n in range(5)} | {
        editor.email: 1 for editor in (editors.writer, editors.approver)
    }
    assert set(statuses(send).values()) == {DeliveryStatus.SENT}
    assert tick(utcnow()).finished == [send.id]
    assert db.session.get(Delivery, deliveries(send)[refused[0]].id) is not None


def test_over_starttls_every_reader_gets_one_message_over_reused_connections(
    sending_app: Flask, editors: Editors, tls_server: FaultySMTP
) -> None:
    sending_app.config.update(MAIL_PORT=tls_server.port, MAIL_USE_TLS=True)
    send = start_send(editors, [make_audience(60)], utcnow())

    send_batches(sending_app)

    assert set(statuses(send).values()) == {DeliveryStatus.SENT}
    assert tls_server.copies() == {reader_address(n): 1 for n in range(60)}
    # Two connections (SEND_CONCURRENCY), each opened once and kept for the rest.
    assert tls_server.sessions == 2


def test_a_group_of_successes_ends_a_run_of_failures_so_later_ones_start_anew(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    sending_app.config["SEND_PAUSE_AFTER_FAILURES"] = 5
    send = start_send(editors, [make_audience(60)], utcnow())
    # The last four of the first group of 20 and of the third are refused; the
    # second group goes through whole. Eight failures, never five in a row.
    refused = {reader_address(n) for n in (*range(16, 20), *range(56, 60))}

    def some_refused(moment: Moment) -> str | None:
        hit = moment.phase == "rcpt" and moment.recipient in refused
        return "550 5.1.1 User unknown" if hit else None

    faulty.add_rule(some_refused)
    # One connection: the messages go (and are recorded) in claim order.
    send_batches(sending_app, batches=1, batch_size=60, concurrency=1)

    db.session.refresh(send)
    assert send.status == SendStatus.SENDING
    assert send.failure_streak == 4
    assert list(statuses(send).values()).count(DeliveryStatus.FAILED) == 8


def test_without_a_relay_a_send_lands_in_the_outbox_once_per_reader(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    # `make run` without MAIL_SERVER: the sender writes the issue to the outbox.
    send = start_send(editors, [make_audience(5)], utcnow())
    sending_app.config["MAIL_SERVER"] = ""

    send_batches(sending_app)

    outbox = Path(sending_app.config["MAIL_OUTBOX_DIR"])
    to = sorted(
        line.split(": ", 1)[1]
        for path in outbox.glob("*.eml")
        for line in path.read_text().splitlines()
        if line.startswith("X-Postbode-Envelope-To: ")
    )
    assert to == [reader_address(n) for n in range(5)]
    assert set(statuses(send).values()) == {DeliveryStatus.SENT}
    assert faulty.accepted == []
