"""Transactional mail reaches a real SMTP server, or the dev outbox when none is set."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from service.mail.mailer import mailer
from service.mail.message import RenderedEmail, build_message
from service.mail.transport import MailError
from tests.conftest import Outbox, login, make_user
from tests.smtp import SMTPSink, free_port

MAIL = RenderedEmail(subject="Test", html="<p>Hallo</p>", text="Hallo\n")


def test_with_mail_server_set_the_mail_arrives_once_over_smtp(
    smtp_app: Flask, smtp_sink: SMTPSink, outbox: Outbox
) -> None:
    mailer.send_transactional(MAIL, to="lezer@example.nl", to_name="Lezer")
    assert len(smtp_sink.messages) == 1
    received = smtp_sink.messages[0]
    assert received.rcpt_tos == ["lezer@example.nl"]
    assert received.mail_from == "nieuwsbrief@postbode.nl"
    assert received.message["Auto-Submitted"] == "auto-generated"
    assert received.message["List-Unsubscribe"] is None
    assert received.text().strip() == "Hallo"
    assert outbox.messages() == []


def test_without_mail_server_the_mail_lands_in_the_outbox(
    app: Flask, outbox: Outbox
) -> None:
    mailer.send_transactional(MAIL, to="lezer@example.nl")
    [stored] = outbox.messages()
    assert stored["Subject"] == "Test"
    assert stored["X-Postbode-Envelope-To"] == "lezer@example.nl"


def test_an_unreachable_server_raises_a_clear_mail_error(app: Flask) -> None:
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    with pytest.raises(MailError, match="cannot connect to 127.0.0.1"):
        mailer.send_transactional(MAIL, to="lezer@example.nl")


def test_starttls_is_required_when_configured(smtp_app: Flask) -> None:
    smtp_app.config["MAIL_USE_TLS"] = True  # the sink offers no STARTTLS
    with pytest.raises(MailError):
        mailer.send_transactional(MAIL, to="lezer@example.nl")


def test_editors_browse_the_outbox_and_open_a_message(
    app: Flask, client: FlaskClient
) -> None:
    mailer.send_transactional(
        RenderedEmail(subject="Bevestig", html="<p>Klik <b>hier</b></p>", text="Klik"),
        to="lezer@example.nl",
    )
    login(client, make_user())
    listing = client.get("/admin/outbox/").get_data(as_text=True)
    assert "Bevestig" in listing and "lezer@example.nl" in listing
    message_id = sorted(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))[0].stem
    page = client.get(f"/admin/outbox/{message_id}").get_data(as_text=True)
    assert "Klik" in page and "Auto-Submitted" in page
    frame = client.get(f"/admin/outbox/{message_id}/html")
    assert "<b>hier</b>" in frame.get_data(as_text=True)
    assert "sandbox" in frame.headers["Content-Security-Policy"]
    raw = client.get(f"/admin/outbox/{message_id}/raw")
    assert raw.mimetype == "message/rfc822"


def test_the_outbox_shows_when_a_message_was_sent_in_amsterdam_time(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    sent = datetime(2026, 11, 27, 22, 45, 28, tzinfo=UTC)
    message = build_message(
        sender="nieuwsbrief@postbode.nl",
        to="lezer@example.nl",
        subject="Bevestig",
        text="Klik",
        html="<p>Klik</p>",
        now=sent,
    )
    mailer.send(message, "lezer@example.nl")
    raw_date = "Fri, 27 Nov 2026 22:45:28 +0000"
    login(client, make_user())
    listing = client.get("/admin/outbox/").get_data(as_text=True)
    assert "27 nov 2026, 23:45" in listing  # CET is UTC+1 in November
    assert raw_date not in listing
    message_id = sorted(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))[0].stem
    page = client.get(f"/admin/outbox/{message_id}").get_data(as_text=True)
    assert "27 november 2026, 23:45" in page
    assert f'<th scope="row">Date</th><td>{raw_date}</td>' in page
    listed = runner.invoke(args=["outbox", "list"]).output
    assert listed.split("  ")[:2] == [message_id, "2026-11-27 23:45 CET"]


def test_an_unknown_or_crafted_outbox_id_is_a_404(client: FlaskClient) -> None:
    login(client, make_user())
    assert client.get("/admin/outbox/..%2Fsecret_key").status_code == 404
    assert client.get("/admin/outbox/20260101T000000-deadbeef").status_code == 404


def test_outbox_commands_list_and_show_messages(
    app: Flask, runner: FlaskCliRunner
) -> None:
    assert "empty" in runner.invoke(args=["outbox", "list"]).output
    mailer.send_transactional(MAIL, to="lezer@example.nl")
    listed = runner.invoke(args=["outbox", "list"]).output
    assert "lezer@example.nl" in listed and "Test" in listed
    message_id = listed.split()[0]
    shown = runner.invoke(args=["outbox", "show", message_id])
    assert shown.exit_code == 0
    assert "Subject: Test" in shown.output and "Hallo" in shown.output
