"""One reused SMTP connection, with and without PIPELINING, against a real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.mail.sessions import Phase, SMTPSession
from tests.delivery.faults import FaultySMTP

MESSAGE = b"Subject: Nieuwsbrief\r\n\r\nEen regel.\r\n.Een punt vooraan.\r\n"


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
