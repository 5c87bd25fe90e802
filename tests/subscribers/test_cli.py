"""`flask subscribers import|export` as an operator types them."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from service.audit import AuditLog
from service.extensions import db
from service.subscribers.models import Subscriber, SubscriberStatus
from tests.conftest import Outbox, make_list, make_subscriber


def test_import_command_imports_reports_numbered_bad_lines_and_mails_pending(
    app: Flask, runner: FlaskCliRunner, outbox: Outbox, tmp_path: Path
) -> None:
    make_list("nieuwsbrief", "Nieuwsbrief")
    db.session.commit()
    csv_file = tmp_path / "leden.csv"
    csv_file.write_bytes(
        "\ufeffE-mailadres;Naam\njan@example.nl;Jan\nkapot;Piet\nJAN@example.nl;Jan\n".encode()
    )
    result = runner.invoke(
        args=["subscribers", "import", str(csv_file), "--list", "nieuwsbrief"]
    )
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output
    assert "line 3: ongeldig e-mailadres: kapot" in result.output
    assert "line 4: dubbel: dit adres staat al op regel 2" in result.output
    assert "1 confirmation mails sent." in result.output
    assert len(outbox.to("jan@example.nl")) == 1
    entry = db.session.scalar(select(AuditLog).filter_by(action="import.subscribers"))
    assert entry.actor == "cli" and entry.detail["imported"] == 1


def test_import_command_with_a_consent_source_activates_without_mail(
    app: Flask, runner: FlaskCliRunner, outbox: Outbox, tmp_path: Path
) -> None:
    make_list("nieuwsbrief", "Nieuwsbrief")
    db.session.commit()
    csv_file = tmp_path / "leden.csv"
    csv_file.write_text("jan@example.nl,Jan\n", encoding="utf-8")
    result = runner.invoke(
        args=[
            "subscribers",
            "import",
            str(csv_file),
            "--list",
            "nieuwsbrief",
            "--consent-source",
            "ledenlijst 2025, schriftelijk",
        ]
    )
    assert result.exit_code == 0, result.output
    jan = db.session.scalar(select(Subscriber).filter_by(email="jan@example.nl"))
    assert jan.status == SubscriberStatus.ACTIVE
    assert jan.consent_records[0].source == "ledenlijst 2025, schriftelijk"
    assert outbox.messages() == []


def test_import_command_names_an_unknown_list(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    csv_file = tmp_path / "leden.csv"
    csv_file.write_text("jan@example.nl\n", encoding="utf-8")
    result = runner.invoke(
        args=["subscribers", "import", str(csv_file), "--list", "bestaat-niet"]
    )
    assert result.exit_code != 0
    assert "bestaat-niet" in result.output


def test_import_command_refuses_a_file_without_addresses(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    make_list("nieuwsbrief", "Nieuwsbrief")
    db.session.commit()
    csv_file = tmp_path / "leden.csv"
    csv_file.write_text("naam;woonplaats\nJan;Utrecht\n", encoding="utf-8")
    result = runner.invoke(
        args=["subscribers", "import", str(csv_file), "--list", "nieuwsbrief"]
    )
    assert result.exit_code != 0
    assert "Geen kolom met e-mailadressen" in result.output


def test_export_command_writes_a_list_to_a_file_and_audits_it(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    newsletter = make_list("nieuwsbrief", "Nieuwsbrief")
    make_subscriber("jan@example.nl", name='=HYPERLINK("x")', lists=[newsletter])
    make_subscriber("niet@example.nl")
    db.session.commit()
    target = tmp_path / "export.csv"
    result = runner.invoke(
        args=["subscribers", "export", "--list", "nieuwsbrief", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("email,name,province,status")
    assert lines[1].startswith('jan@example.nl,"\'=HYPERLINK(""x"")"')
    assert len(lines) == 2
    entry = db.session.scalar(select(AuditLog).filter_by(action="export.subscribers"))
    assert entry.target == "nieuwsbrief" and entry.detail["rows"] == 1


def test_export_command_filters_on_status_to_standard_output(
    app: Flask, runner: FlaskCliRunner
) -> None:
    make_subscriber("actief@example.nl")
    make_subscriber("wacht@example.nl", status=SubscriberStatus.PENDING)
    db.session.commit()
    result = runner.invoke(args=["subscribers", "export", "--status", "pending"])
    assert result.exit_code == 0, result.output
    assert "wacht@example.nl" in result.output
    assert "actief@example.nl" not in result.output
