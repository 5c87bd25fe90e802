"""One reused SMTP connection, with and without PIPELINING, against a real server."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator

import pytest

from service.mail import sessions
from service.mail.sessions import Phase, Reply, SMTPSession
from tests.delivery.faults import FaultySMTP

MESSAGE = b"Subject: Nieuwsbrief\r\n\r\nEen regel.\r\n.Een punt vooraan.\r\n"


@pytest.fixture
def pipelined() -> Iterator[FaultySMTP]:
    faulty = FaultySMTP(pipelining=True).start()
    yield faulty
    faulty.stop()


@pytest.fixture(params=[True, False], ids=["pipelined", "one-by-one"])
def server(request: pytest.FixtureRequest) -> Iterator[FaultySMTP]:
    faulty = FaultySMTP(pipelining=request.param).start()
    yield faulty
    faulty.stop()


def test_each_refusal_is_told_with_its_phase_and_the_connection_carries_on(
    server: FaultySMTP,
) -> None:
    server.answer("rcpt", "550 5.1.1 User unknown", to="onbekend@example.nl")
    server.answer("rcpt", "451 4.3.0 Try again later", to="later@example.nl")
    server.answer("data", "554 5.7.1 Rejected as spam", to="spam@example.nl")
    session = SMTPSession("127.0.0.1", server.port)
    replies = {
        to: session.deliver("nieuws@postbode.nl", to, MESSAGE)
        for to in (
            "eerste@example.nl",
            "onbekend@example.nl",
            "later@example.nl",
            "spam@example.nl",
            "laatste@example.nl",
        )
    }
    session.close()

    assert replies["eerste@example.nl"].accepted
    assert replies["laatste@example.nl"].accepted
    assert (
        replies["onbekend@example.nl"].code,
        replies["onbekend@example.nl"].phase,
    ) == (
        550,
        Phase.RCPT,
    )
    assert (replies["later@example.nl"].code, replies["later@example.nl"].phase) == (
        451,
        Phase.RCPT,
    )
    # Refused in the final reply, after the content: the phase is "done".
    assert replies["spam@example.nl"].code == 554
    assert not replies["spam@example.nl"].accepted
    # One connection for all five, and only the accepted ones arrived, intact:
    # the leading dot was doubled on the wire and undone by the server.
    assert server.sessions == 1
    arrived = {m.rcpt_tos[0]: m.raw for m in server.accepted}
    assert list(arrived) == ["eerste@example.nl", "laatste@example.nl"]
    assert b"\r\n.Een punt vooraan.\r\n" in arrived["eerste@example.nl"]
    assert (server.pipelined == 5) == server.handler.pipelining


def test_a_refused_sender_and_a_closing_server_are_told_apart(
    server: FaultySMTP,
) -> None:
    server.answer("mail", "553 5.1.8 Sender address rejected", times=1)
    server.answer("mail", "421 4.7.0 Too busy, closing", times=1)
    session = SMTPSession("127.0.0.1", server.port)

    refused = session.deliver("nieuws@postbode.nl", "een@example.nl", MESSAGE)
    closing = session.deliver("nieuws@postbode.nl", "twee@example.nl", MESSAGE)
    again = session.deliver("nieuws@postbode.nl", "drie@example.nl", MESSAGE)
    session.close()

    assert (refused.code, refused.phase) == (553, Phase.MAIL)
    assert (closing.code, closing.phase) == (421, Phase.MAIL)
    assert again.accepted
    # The 421 ended the first connection; the third message opened a new one.
    assert server.sessions == 2
    assert [m.rcpt_tos for m in server.accepted] == [("drie@example.nl",)]


def test_a_connection_cut_after_the_dot_is_told_as_such(server: FaultySMTP) -> None:
    server.drop_after_dot("een@example.nl")
    session = SMTPSession("127.0.0.1", server.port)

    cut = session.deliver("nieuws@postbode.nl", "een@example.nl", MESSAGE)
    after = session.deliver("nieuws@postbode.nl", "twee@example.nl", MESSAGE)
    session.close()

    assert (cut.code, cut.phase) == (0, Phase.AFTER_DOT)
    assert after.accepted


def test_over_starttls_large_messages_arrive_whole_on_one_connection(
    tls_server: FaultySMTP,
) -> None:
    # Far larger than a socket takes at once: written in many partial TLS writes.
    line = b"Een regel tekst die precies zo lang is als een gewone regel.=\r\n"
    big = b"Subject: Groot\r\n\r\n" + line * 30_000 + b".Een punt vooraan.\r\n"
    plain = SMTPSession("127.0.0.1", tls_server.port)
    refused = plain.deliver("nieuws@postbode.nl", "een@example.nl", MESSAGE)
    plain.close()
    session = SMTPSession("127.0.0.1", tls_server.port, use_tls=True)
    replies = [
        session.deliver("nieuws@postbode.nl", f"lezer{n}@example.nl", big)
        for n in range(3)
    ]
    session.close()

    assert (refused.code, refused.phase) == (530, Phase.MAIL)  # no STARTTLS, no mail
    assert all(reply.accepted for reply in replies), replies
    assert [m.rcpt_tos for m in tls_server.accepted] == [
        (f"lezer{n}@example.nl",) for n in range(3)
    ]
    assert all(m.raw == big for m in tls_server.accepted)


def test_a_connection_left_idle_is_opened_afresh_before_the_next_message(
    server: FaultySMTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = SMTPSession("127.0.0.1", server.port)
    first = session.deliver("nieuws@postbode.nl", "een@example.nl", MESSAGE)
    # Relays close idle connections; one idle longer than the limit is not trusted.
    monkeypatch.setattr(sessions, "IDLE_LIMIT", 0.0)
    second = session.deliver("nieuws@postbode.nl", "twee@example.nl", MESSAGE)
    session.close()

    assert first.accepted and second.accepted
    assert server.sessions == 2


def test_a_server_that_does_not_answer_in_time_leaves_the_message_uncertain(
    server: FaultySMTP,
) -> None:
    server.handler.delay = 2.0  # the final reply comes after two seconds
    session = SMTPSession("127.0.0.1", server.port, timeout=0.5)

    late = session.deliver("nieuws@postbode.nl", "een@example.nl", MESSAGE)
    session.close()

    # Everything was written; whether it was taken is unknown.
    assert (late.code, late.phase) == (0, Phase.AFTER_DOT)
    assert "timed out" in late.text


def replies_of(session: SMTPSession, count: int) -> list[Reply]:
    """Drive a session as the sender does until `count` messages are done."""
    replies: list[Reply] = []
    deadline = time.monotonic() + 10
    while len(replies) < count and time.monotonic() < deadline:
        if session.wants_write:
            replies += session.on_writable()
        ready, _, _ = select.select([session], [], [], 0.1)
        if ready:
            replies += session.on_readable()
        replies += session.expire()
    return replies


def test_with_pipelining_the_next_message_follows_the_content_of_the_one_before(
    pipelined: FaultySMTP,
) -> None:
    pipelined.answer("rcpt", "550 5.1.1 User unknown", to="onbekend@example.nl")
    session = SMTPSession("127.0.0.1", pipelined.port)
    first = session.start("nieuws@postbode.nl", "een@example.nl", MESSAGE)
    assert first == [] and not session.can_take_next  # the 354 is not in yet
    while not session.can_take_next:
        ready, _, _ = select.select([session], [], [], 1.0)
        assert ready and session.on_readable() == []
    # The first message's content is queued; the next envelope goes behind it.
    session.start("nieuws@postbode.nl", "onbekend@example.nl", MESSAGE)
    with pytest.raises(RuntimeError):  # a third must wait: two at most
        session.start("nieuws@postbode.nl", "drie@example.nl", MESSAGE)

    done = replies_of(session, 2)
    after = session.deliver("nieuws@postbode.nl", "twee@example.nl", MESSAGE)
    session.close()

    # In the order they went: the first accepted, the second refused at RCPT.
    assert [(r.code, r.phase) for r in done] == [(250, Phase.DONE), (550, Phase.RCPT)]
    assert after.accepted
    assert pipelined.sessions == 1
    assert [m.rcpt_tos for m in pipelined.accepted] == [
        ("een@example.nl",),
        ("twee@example.nl",),
    ]


def test_a_cut_with_two_messages_under_way_leaves_the_first_uncertain_only(
    pipelined: FaultySMTP,
) -> None:
    pipelined.drop_after_dot("een@example.nl")
    session = SMTPSession("127.0.0.1", pipelined.port)
    session.start("nieuws@postbode.nl", "een@example.nl", MESSAGE)
    while not session.can_take_next:
        ready, _, _ = select.select([session], [], [], 1.0)
        assert ready and session.on_readable() == []
    session.start("nieuws@postbode.nl", "twee@example.nl", MESSAGE)

    first, second = replies_of(session, 2)
    session.close()

    # The first was written whole (perhaps delivered); the second never began.
    assert (first.code, first.phase) == (0, Phase.AFTER_DOT)
    assert second.code == 0 and second.phase in (Phase.MAIL, Phase.RCPT, Phase.DATA)
    assert [m.rcpt_tos for m in pipelined.accepted] == [("een@example.nl",)]
