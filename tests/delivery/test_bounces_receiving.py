"""The roads in: the SMTP/LMTP receiver, sent to with smtplib on a free loopback port;
polling a POP3 mailbox served by a small fake server in a thread; and polling an IMAP
mailbox served by a real Dovecot (skipped, saying so, where it is not installed)."""

from __future__ import annotations

import smtplib
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from service.delivery.bounce_models import BounceEvent
from service.delivery.bounce_receiver import BounceServer, Mailbox, poll
from service.extensions import db
from service.subscribers.models import Subscriber
from tests.conftest import NOW
from tests.delivery import imap_server
from tests.delivery.test_bounces import (
    BOUNCE_ADDRESS,
    CORPUS,
    make_delivery,
    reader,
    tag_of,
)
from tests.smtp import free_port


@pytest.fixture
def bounce_app(app: Flask) -> Flask:
    """`app` with a bounce address, so messages carry signed tags."""
    app.config.update(BOUNCE_ADDRESS=BOUNCE_ADDRESS)
    return app


def events() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(BounceEvent.id))) or 0


def corpus_bounce(app: Flask, name: str) -> tuple[bytes, str]:
    """Return a corpus bounce about a new delivery, and its tagged address."""
    subscriber, _list = reader(f"{name.split('.')[0]}@example.nl")
    tag = tag_of(app, make_delivery(subscriber))
    raw = (CORPUS / name).read_bytes().replace(b"{TAG}", tag.encode())
    # On the wire lines end in CRLF (RFC 5321 §2.3.8); the corpus files use LF.
    return raw.replace(b"\n", b"\r\n"), f"bounces+{tag}@postbode.example.nl"


@pytest.fixture
def receiver(bounce_app: Flask) -> Iterator[BounceServer]:
    server = BounceServer(bounce_app, "127.0.0.1", free_port()).start()
    yield server
    server.stop()


def test_a_bounce_sent_to_the_receiver_is_recorded(
    bounce_app: Flask, receiver: BounceServer
) -> None:
    raw, address = corpus_bounce(bounce_app, "postfix_user_unknown.eml")
    with smtplib.SMTP("127.0.0.1", receiver.controller.port) as client:
        client.sendmail("<>", [address], raw)
    assert events() == 1
    assert receiver.tally.counts == {"recorded": 1}


def test_a_forged_bounce_is_accepted_but_only_logged(
    bounce_app: Flask, receiver: BounceServer
) -> None:
    raw, _address = corpus_bounce(bounce_app, "exim_permanent.eml")
    forged = raw.replace(b"+d", b"+d9")
    with smtplib.SMTP("127.0.0.1", receiver.controller.port) as client:
        client.sendmail("<>", ["bounces+d1-0000000000@postbode.example.nl"], forged)
    assert events() == 0
    assert receiver.tally.counts == {"untagged": 1}


def test_the_receiver_takes_mail_only_for_the_bounce_domain(
    receiver: BounceServer,
) -> None:
    with smtplib.SMTP("127.0.0.1", receiver.controller.port) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("<>", ["iemand@elders.example"], b"Subject: x\r\n\r\nx")


def test_the_receiver_refuses_a_message_over_a_megabyte_and_counts_it(
    receiver: BounceServer,
) -> None:
    huge = b"Subject: x\r\n\r\n" + (b"x" * 998 + b"\r\n") * 1100
    with smtplib.SMTP("127.0.0.1", receiver.controller.port) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("<>", [BOUNCE_ADDRESS], huge)
    assert refused.value.smtp_code == 552
    assert receiver.tally.counts == {"rejected: too large": 1}


def test_a_malformed_message_gets_250_and_is_counted(receiver: BounceServer) -> None:
    with smtplib.SMTP("127.0.0.1", receiver.controller.port) as client:
        client.sendmail("<>", [BOUNCE_ADDRESS], b"\x00\x01 not mail")
    assert receiver.tally.counts == {"rejected: malformed": 1}


def test_the_lmtp_receiver_records_a_bounce(bounce_app: Flask) -> None:
    server = BounceServer(bounce_app, "127.0.0.1", free_port(), lmtp=True).start()
    try:
        raw, address = corpus_bounce(bounce_app, "qmail_no_mailbox.eml")
        with smtplib.LMTP("127.0.0.1", server.controller.port) as client:
            client.sendmail("<>", [address], raw)
    finally:
        server.stop()
    assert events() == 1


def test_the_cli_processes_a_message_from_standard_input(
    bounce_app: Flask, runner: FlaskCliRunner
) -> None:
    raw, address = corpus_bounce(bounce_app, "yahoo_failure_notice.eml")
    result = runner.invoke(
        args=["bounces", "process", "--recipient", address], input=raw
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "recorded"
    assert events() == 1


# POP3 --------------------------------------------------------------------------------


class FakePOP3(socketserver.TCPServer):
    """A POP3 server (RFC 1939) of one mailbox: USER/PASS/STAT/LIST/RETR/DELE/QUIT."""

    allow_reuse_address = True

    def __init__(self, messages: list[bytes], password: str) -> None:
        self.messages = dict(enumerate(messages, start=1))
        self.password = password
        super().__init__(("127.0.0.1", 0), _POP3Session)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self) -> FakePOP3:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join()


class _POP3Session(socketserver.StreamRequestHandler):
    server: FakePOP3

    def say(self, line: bytes) -> None:
        self.wfile.write(line + b"\r\n")

    def handle(self) -> None:
        mailbox, deleted, authorised = self.server.messages, set(), False
        self.say(b"+OK fake POP3 ready")
        for raw_line in self.rfile:
            command, _, argument = raw_line.strip().decode().partition(" ")
            command = command.upper()
            if command == "USER":
                self.say(b"+OK")
            elif command == "PASS":
                authorised = argument == self.server.password
                self.say(b"+OK" if authorised else b"-ERR wrong password")
            elif not authorised:
                self.say(b"-ERR log in first")
            elif command == "STAT":
                live = [m for n, m in mailbox.items() if n not in deleted]
                self.say(b"+OK %d %d" % (len(live), sum(map(len, live))))
            elif command == "LIST":
                self.say(b"+OK")
                for number, message in mailbox.items():
                    if number not in deleted:
                        self.say(b"%d %d" % (number, len(message)))
                self.say(b".")
            elif command == "RETR":
                self.say(b"+OK")
                for line in mailbox[int(argument)].splitlines():
                    self.say(b"." + line if line.startswith(b".") else line)
                self.say(b".")
            elif command == "DELE":
                deleted.add(int(argument))
                self.say(b"+OK")
            elif command == "QUIT":
                for number in deleted:  # only now, as RFC 1939 says
                    mailbox.pop(number, None)
                self.say(b"+OK bye")
                return
            else:
                self.say(b"-ERR unknown command")


def test_polling_a_pop3_mailbox_records_bounces_and_deletes_what_it_processed(
    bounce_app: Flask,
) -> None:
    dsn, _ = corpus_bounce(bounce_app, "gmail_no_such_user.eml")
    complaint, _ = corpus_bounce(bounce_app, "arf_complaint.eml")
    other = (CORPUS / "out_of_office.eml").read_bytes()
    with FakePOP3([dsn, complaint, other], "geheim wachtwoord") as server:
        port = server.server_address[1]
        mailbox = Mailbox.from_url(
            f"pop3://bounces:geheim%20wachtwoord@127.0.0.1:{port}"
        )
        tally = poll(mailbox, NOW)
        assert server.messages == {}
    assert tally.counts == {"recorded": 2, "not a bounce": 1}
    assert events() == 2
    statuses = dict(
        db.session.execute(select(Subscriber.email, Subscriber.status)).all()
    )
    assert statuses["arf_complaint@example.nl"] == "complained"


def test_the_poll_command_reads_the_mailbox_of_the_setting(
    bounce_app: Flask, runner: FlaskCliRunner
) -> None:
    raw, _ = corpus_bounce(bounce_app, "exchange_2016_dsn.eml")
    with FakePOP3([raw], "pw") as server:
        bounce_app.config["BOUNCE_MAILBOX_URL"] = (
            f"pop3://u:pw@127.0.0.1:{server.server_address[1]}"
        )
        result = runner.invoke(args=["bounces", "poll"])
    assert result.exit_code == 0, result.output
    assert "recorded: 1" in result.output


def test_a_wrong_mailbox_password_is_one_clear_line(
    bounce_app: Flask, runner: FlaskCliRunner
) -> None:
    with FakePOP3([], "pw") as server:
        bounce_app.config["BOUNCE_MAILBOX_URL"] = (
            f"pop3://u:wrong@127.0.0.1:{server.server_address[1]}"
        )
        result = runner.invoke(args=["bounces", "poll"])
    assert result.exit_code == 1
    assert "wrong password" in result.output


def test_the_mailbox_url_is_read_with_defaults() -> None:
    mailbox = Mailbox.from_url("imaps://bounce%40example.nl:p%2Fw@mail.example.nl")
    assert (mailbox.protocol, mailbox.is_tls, mailbox.port, mailbox.folder) == (
        "imap",
        True,
        993,
        "INBOX",
    )
    assert (mailbox.user, mailbox.password) == ("bounce@example.nl", "p/w")


# IMAP, against a real Dovecot --------------------------------------------------------


@pytest.fixture
def dovecot() -> Iterator[imap_server.Dovecot]:
    """A Dovecot of its own, with an empty mailbox for "bounces" (password "geheim")."""
    if not imap_server.is_installed():
        pytest.skip(imap_server.MISSING)
    server = imap_server.Dovecot(user="bounces", password="geheim").start()
    yield server
    server.stop()


def deliver_corpus_bounce(app: Flask, dovecot: imap_server.Dovecot, name: str) -> None:
    """Put a corpus bounce about a new delivery into the IMAP mailbox."""
    raw, _address = corpus_bounce(app, name)
    # A Maildir keeps the local line ending; Dovecot serves it as CRLF.
    dovecot.deliver(raw.replace(b"\r\n", b"\n"), name)


def poll_imap(app: Flask, runner: FlaskCliRunner, url: str) -> tuple[int, list[str]]:
    """Run `flask bounces poll` on `url`; return its exit code and output lines."""
    app.config["BOUNCE_MAILBOX_URL"] = url
    result = runner.invoke(args=["bounces", "poll"])
    return result.exit_code, result.output.splitlines()


def test_polling_an_imap_mailbox_records_bounces_and_marks_them_read(
    bounce_app: Flask, runner: FlaskCliRunner, dovecot: imap_server.Dovecot
) -> None:
    deliver_corpus_bounce(bounce_app, dovecot, "gmail_no_such_user.eml")
    deliver_corpus_bounce(bounce_app, dovecot, "arf_complaint.eml")
    dovecot.deliver((CORPUS / "out_of_office.eml").read_bytes(), "out_of_office.eml")
    url = f"imap://bounces:geheim@127.0.0.1:{dovecot.port}/INBOX"

    assert poll_imap(bounce_app, runner, url) == (0, ["not a bounce: 1, recorded: 2"])
    assert events() == 2
    statuses = dict(
        db.session.execute(select(Subscriber.email, Subscriber.status)).all()
    )
    assert statuses["arf_complaint@example.nl"] == "complained"
    assert statuses["gmail_no_such_user@example.nl"] == "active"  # 1 of 3
    assert dovecot.flags() == {
        "gmail_no_such_user.eml": "S",
        "arf_complaint.eml": "S",
        "out_of_office.eml": "S",
    }

    # Read now, so the next poll finds nothing new and counts nothing twice.
    assert poll_imap(bounce_app, runner, url) == (0, ["No new messages."])
    assert events() == 2


def test_a_message_someone_already_read_in_the_mailbox_is_left_alone(
    bounce_app: Flask, runner: FlaskCliRunner, dovecot: imap_server.Dovecot
) -> None:
    deliver_corpus_bounce(bounce_app, dovecot, "postfix_user_unknown.eml")
    seen = dovecot.maildir / "new" / "postfix_user_unknown.eml"
    seen.rename(dovecot.maildir / "cur" / "postfix_user_unknown.eml:2,S")
    deliver_corpus_bounce(bounce_app, dovecot, "exim_permanent.eml")
    url = f"imap://bounces:geheim@127.0.0.1:{dovecot.port}"
    assert poll_imap(bounce_app, runner, url) == (0, ["recorded: 1"])
    assert events() == 1


def test_a_message_over_a_megabyte_in_the_imap_mailbox_is_counted_and_marked_read(
    bounce_app: Flask, runner: FlaskCliRunner, dovecot: imap_server.Dovecot
) -> None:
    huge = b"Subject: x\n\n" + (b"x" * 998 + b"\n") * 1100
    dovecot.deliver(huge, "huge.eml")
    url = f"imap://bounces:geheim@127.0.0.1:{dovecot.port}"
    assert poll_imap(bounce_app, runner, url) == (0, ["rejected: too large: 1"])
    assert dovecot.flags() == {"huge.eml": "S"}


def test_a_wrong_imap_password_is_one_clear_line(
    bounce_app: Flask, runner: FlaskCliRunner, dovecot: imap_server.Dovecot
) -> None:
    deliver_corpus_bounce(bounce_app, dovecot, "gmail_no_such_user.eml")
    url = f"imap://bounces:fout-wachtwoord@127.0.0.1:{dovecot.port}"
    code, lines = poll_imap(bounce_app, runner, url)
    assert (code, lines) == (
        1,
        [
            "Error: Mailbox 127.0.0.1: login as bounces refused:"
            " [AUTHENTICATIONFAILED] Authentication failed."
        ],
    )
    assert dovecot.flags() == {"gmail_no_such_user.eml": ""}
    assert events() == 0


def test_an_imap_folder_that_does_not_exist_is_one_clear_line(
    bounce_app: Flask, runner: FlaskCliRunner, dovecot: imap_server.Dovecot
) -> None:
    url = f"imap://bounces:geheim@127.0.0.1:{dovecot.port}/Bounces"
    code, [line] = poll_imap(bounce_app, runner, url)
    assert code == 1
    # Dovecot's own words follow, with its timings: "Mailbox doesn't exist: …".
    assert line.startswith(
        'Error: Mailbox 127.0.0.1: folder "Bounces" cannot be opened:'
        " Mailbox doesn't exist: Bounces"
    )


def test_polling_over_imaps_trusts_only_a_server_certificate_that_checks_out(
    bounce_app: Flask,
    runner: FlaskCliRunner,
    dovecot: imap_server.Dovecot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deliver_corpus_bounce(bounce_app, dovecot, "exchange_2016_dsn.eml")
    url = f"imaps://bounces:geheim@127.0.0.1:{dovecot.tls_port}/INBOX"

    # A self-signed certificate nobody vouches for: no password is sent.
    code, [line] = poll_imap(bounce_app, runner, url)
    assert code == 1
    assert line.startswith(
        "Error: Mailbox 127.0.0.1: [SSL: CERTIFICATE_VERIFY_FAILED] certificate"
        " verify failed: self-signed certificate"
    )
    assert dovecot.flags() == {"exchange_2016_dsn.eml": ""}

    # Once the operator trusts it (here: the system's trust store is that one file).
    monkeypatch.setenv("SSL_CERT_FILE", str(Path(dovecot.cert_file)))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    assert poll_imap(bounce_app, runner, url) == (0, ["recorded: 1"])
    assert dovecot.flags() == {"exchange_2016_dsn.eml": "S"}
