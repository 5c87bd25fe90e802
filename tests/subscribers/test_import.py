"""Importing readers from CSV: parsing, bad lines, duplicates, consent, mail."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from sqlalchemy import func, select

from service.extensions import db
from service.subscribers import importer
from service.subscribers.addresses import InvalidAddress, normalise_email
from service.subscribers.models import (
    ConsentMethod,
    ConsentRecord,
    MailingList,
    Membership,
    MembershipStatus,
    Subscriber,
    SubscriberStatus,
)
from service.subscribers.operations import SuppressionReason, suppress, unsubscribe
from tests.conftest import NOW, Outbox, make_list, make_subscriber


def parse(content: str | bytes) -> list[importer.Row | importer.RowProblem]:
    """Parse a file's bytes as an upload would be."""
    raw = content.encode("utf-8") if isinstance(content, str) else content
    return list(importer.read_rows(importer.text_stream(io.BytesIO(raw))))


def run_import(
    content: str | bytes,
    mailing_list: MailingList,
    *,
    consent_source: str | None = None,
    batch_size: int = importer.BATCH_SIZE,
) -> importer.ImportReport:
    """Import a file into a list as the command does: commit and mail per batch."""
    raw = content.encode("utf-8") if isinstance(content, str) else content
    settings = importer.ImportSettings(
        mailing_list=mailing_list,
        attested_by="Redacteur <redacteur@postbode.nl>",
        consent_source=consent_source,
        file_name="leden.csv",
        org_name="Sociale Alliantie",
        locale="nl",
        now=NOW,
    )
    report = importer.ImportReport()
    rows = importer.read_rows(importer.text_stream(io.BytesIO(raw)))
    for to_mail in importer.import_batches(rows, settings, report, batch_size):
        db.session.commit()
        importer.send_confirmations(to_mail)
    return report


def emails() -> list[str]:
    return list(db.session.scalars(select(Subscriber.email).order_by(Subscriber.id)))


def reasons(report: importer.ImportReport) -> dict[int, str]:
    return {problem.line: problem.reason for problem in report.problems}


# Reading the file ---------------------------------------------------------------------


def test_a_file_with_a_bom_and_semicolons_is_read_with_its_header() -> None:
    rows = parse(
        b"\xef\xbb\xbfE-mailadres;Naam;Provincie\r\njan@example.nl;Jan;Utrecht\r\n"
    )
    assert rows == [importer.Row(2, "jan@example.nl", "Jan", "Utrecht")]


def test_a_file_with_commas_and_columns_in_another_order_is_read() -> None:
    rows = parse("naam,provincie,e-mail\nJan de Vries,Drenthe,JAN@Example.NL\n")
    assert rows == [importer.Row(2, "jan@example.nl", "Jan de Vries", "Drenthe")]


def test_without_a_header_the_first_column_with_an_address_is_the_email() -> None:
    rows = parse("Jan;jan@example.nl\nPiet;piet@example.nl\n")
    assert [(r.line, r.email, r.name) for r in rows] == [
        (1, "jan@example.nl", "Jan"),
        (2, "piet@example.nl", "Piet"),
    ]


def test_a_file_without_any_address_column_is_refused_with_a_sentence() -> None:
    with pytest.raises(importer.ImportFileError, match="e-mailadres"):
        parse("voornaam;woonplaats\nJan;Utrecht\n")


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(importer.ImportFileError):
        parse(b"\xef\xbb\xbf\r\n")


def test_a_stray_quote_spoils_only_its_own_line() -> None:
    rows = parse(
        'email,naam\njan@example.nl,Jan\n"piet@example.nl,Piet\n'
        'kees@example.nl,"Kees\nde Vries"\nanna@example.nl,Anna\n'
    )
    assert [r.email for r in rows if isinstance(r, importer.Row)] == [
        "jan@example.nl",
        "kees@example.nl",
        "anna@example.nl",
    ]
    assert [r.line for r in rows if isinstance(r, importer.RowProblem)] == [3]
    assert rows[2].name == "Kees de Vries"  # a quoted line break is kept as a space


def test_bytes_that_are_not_utf8_spoil_only_their_line() -> None:
    rows = parse(b"email\njan@example.nl\nj\xe9r\xf4me@example.nl\npiet@example.nl\n")
    assert [type(r).__name__ for r in rows] == ["Row", "RowProblem", "Row"]
    assert "UTF-8" in rows[1].reason


def test_cells_our_export_neutralised_are_read_back_as_they_were() -> None:
    rows = parse("email,naam\n'+31@example.nl,'=Jan\n")
    assert rows == [importer.Row(2, "+31@example.nl", "=Jan", "")]


@pytest.mark.parametrize(
    "address",
    [
        "Lezer.Een+nieuws@Example.NL",
        "a_b-c@sub.domain.co.uk",
        "x@localhost",
        "x@example.test",
        "a..b@example.nl",
        ".a@example.nl",
        "a@-example.nl",
        "a@example.123",
        "ab@xn--bcher-kva.de",
        "a@ab--cd.nl",
        "a" * 65 + "@example.nl",
        "jan@" + "d" * 64 + ".nl",
        "jan@bücher.de",
        "jan piet@example.nl",
        '"jan"@example.nl',
    ],
)
def test_the_quick_address_check_agrees_with_the_full_validator(address: str) -> None:
    quick = importer.quick_normalise(address)
    try:
        full: str | None = normalise_email(address)
    except InvalidAddress:
        full = None
    # The quick check may pass an address on to the validator, never disagree with it.
    assert quick is None or quick == full


# Importing ----------------------------------------------------------------------------


def test_new_people_are_pending_and_each_gets_one_confirmation_mail(
    app: Flask, outbox: Outbox
) -> None:
    newsletter = make_list()
    report = run_import(
        "email;naam\njan@example.nl;Jan\npiet@example.nl;Piet\n", newsletter
    )
    assert report.imported == 2
    jan = db.session.scalar(select(Subscriber).filter_by(email="jan@example.nl"))
    assert jan.status == SubscriberStatus.PENDING
    assert jan.memberships[0].status == MembershipStatus.PENDING
    assert jan.confirmation_nonce and jan.confirmation_sent_at == NOW
    assert len(outbox.to("jan@example.nl")) == 1
    assert len(outbox.to("piet@example.nl")) == 1
    record = jan.consent_records[0]
    assert record.method == ConsentMethod.DOUBLE_OPT_IN
    assert record.source == "import: leden.csv"
    assert record.confirmed_at is None


def test_people_with_a_stated_consent_source_are_active_with_that_source_recorded(
    app: Flask, outbox: Outbox
) -> None:
    newsletter = make_list()
    report = run_import(
        "email\njan@example.nl\n",
        newsletter,
        consent_source="papieren formulier, congres 2026",
    )
    assert report.imported == 1
    jan = db.session.scalar(select(Subscriber).filter_by(email="jan@example.nl"))
    assert jan.status == SubscriberStatus.ACTIVE
    assert jan.memberships[0].status == MembershipStatus.ACTIVE
    record = jan.consent_records[0]
    assert record.method == ConsentMethod.IMPORT
    assert record.source == "papieren formulier, congres 2026"
    assert record.attested_by == "Redacteur <redacteur@postbode.nl>"
    assert record.confirmed_at == NOW
    assert outbox.messages() == []


def test_duplicates_in_different_case_become_one_reader_and_are_reported(
    app: Flask,
) -> None:
    newsletter = make_list()
    content = "email\nJan@Example.nl\njan@example.NL\nJAN@EXAMPLE.NL\n"
    report = run_import(content, newsletter, consent_source="formulier")
    assert emails() == ["jan@example.nl"]
    assert report.imported == 1
    assert reasons(report) == {
        3: "dubbel: dit adres staat al op regel 2",
        4: "dubbel: dit adres staat al op regel 2",
    }


def test_duplicates_in_different_batches_are_reported_too(app: Flask) -> None:
    newsletter = make_list()
    content = "email\njan@example.nl\npiet@example.nl\nJAN@example.nl\n"
    report = run_import(content, newsletter, consent_source="formulier", batch_size=2)
    assert report.imported == 2
    assert list(reasons(report)) == [4]
    assert "dubbel" in reasons(report)[4]


def test_a_broken_line_in_the_middle_is_reported_and_the_rest_imported(
    app: Flask,
) -> None:
    newsletter = make_list()
    content = (
        "email;naam\n"
        "een@example.nl;Een\n"
        '"twee@example.nl;Twee\n'
        ";zonder adres\n"
        "geen-adres;Drie\n"
        "vier@example.nl;Vier\n"
    )
    report = run_import(content, newsletter, consent_source="formulier")
    assert emails() == ["een@example.nl", "vier@example.nl"]
    assert reasons(report) == {
        3: "aanhalingsteken niet gesloten; regel overgeslagen",
        4: "geen e-mailadres",
        5: "ongeldig e-mailadres: geen-adres",
    }


def test_idn_and_plus_addresses_are_imported_and_invalid_ones_reported(
    app: Flask,
) -> None:
    newsletter = make_list()
    content = (
        "email\n"
        "jan@bücher.de\n"
        "Piet+Nieuwsbrief@Example.nl\n"
        "kees@xn--bcher-kva.de\n"
        "anna@@example.nl\n"
        "bob@example\n"
        "tom@localhost\n"
    )
    report = run_import(content, newsletter, consent_source="formulier")
    # A Punycode domain is kept in Unicode, the one stored form of an address.
    assert emails() == [
        "jan@bücher.de",
        "piet+nieuwsbrief@example.nl",
        "kees@bücher.de",
    ]
    assert sorted(reasons(report)) == [5, 6, 7]
    assert "ongeldig e-mailadres: anna@@example.nl" == reasons(report)[5]


def test_header_injection_in_a_name_stays_a_harmless_name_on_one_line(
    app: Flask, outbox: Outbox
) -> None:
    newsletter = make_list()
    content = 'email,naam\njan@example.nl,"Jan\r\nBcc: stiekem@example.org"\n'
    run_import(content, newsletter)
    jan = db.session.scalar(select(Subscriber).filter_by(email="jan@example.nl"))
    assert jan.name == "Jan Bcc: stiekem@example.org"
    (message,) = outbox.to("jan@example.nl")
    assert message["Bcc"] is None
    assert "stiekem@example.org" not in str(message["To"]).split("<")[-1]
    assert all(
        m["X-Postbode-Envelope-To"] != "stiekem@example.org" for m in outbox.messages()
    )


def test_a_ten_thousand_character_name_is_reported_not_imported(app: Flask) -> None:
    newsletter = make_list()
    content = "email,naam\njan@example.nl," + "J" * 10_000 + "\npiet@example.nl,Piet\n"
    report = run_import(content, newsletter, consent_source="formulier")
    assert emails() == ["piet@example.nl"]
    assert reasons(report) == {2: "naam is 10000 tekens lang; het maximum is 200"}


def test_erased_and_suppressed_addresses_are_skipped(app: Flask) -> None:
    newsletter = make_list()
    suppress("weg@example.nl", SuppressionReason.ERASED)
    db.session.commit()
    report = run_import("email\nWEG@example.nl\njan@example.nl\n", newsletter)
    assert emails() == ["jan@example.nl"]
    assert report.suppressed == 1
    assert "gewist" in reasons(report)[2]


def test_someone_who_left_the_list_is_not_put_back_by_an_old_file(
    app: Flask,
) -> None:
    newsletter = make_list()
    reader = make_subscriber("jan@example.nl", lists=[newsletter])
    unsubscribe(reader, NOW)
    db.session.commit()
    report = run_import("email\njan@example.nl\n", newsletter, consent_source="form")
    assert reader.memberships[0].status == MembershipStatus.UNSUBSCRIBED
    assert "afgemeld" in reasons(report)[2]


def test_a_known_reader_is_added_to_the_list_and_one_already_on_it_is_counted(
    app: Flask,
) -> None:
    newsletter = make_list()
    other = make_list("brieven", "Brieven")
    on_other = make_subscriber("jan@example.nl", lists=[other])
    make_subscriber("piet@example.nl", lists=[newsletter])
    db.session.commit()
    report = run_import(
        "email\njan@example.nl\npiet@example.nl\n", newsletter, consent_source="form"
    )
    assert (report.imported, report.added, report.already) == (0, 1, 1)
    assert report.problems == []
    assert {m.mailing_list.slug: m.status for m in on_other.memberships} == {
        "brieven": MembershipStatus.ACTIVE,
        "nieuwsbrief": MembershipStatus.ACTIVE,
    }
    assert on_other.consent_records[-1].method == ConsentMethod.IMPORT


def test_new_and_known_readers_in_one_batch_each_get_one_confirmation_mail(
    app: Flask, outbox: Outbox
) -> None:
    newsletter = make_list()
    other = make_list("brieven", "Brieven")
    make_subscriber("jan@example.nl", lists=[other])
    db.session.commit()
    report = run_import(
        "email\nanna@example.nl\njan@example.nl\npiet@example.nl\n", newsletter
    )
    assert (report.imported, report.added) == (2, 1)
    for address in ("anna@example.nl", "jan@example.nl", "piet@example.nl"):
        assert len(outbox.to(address)) == 1


def test_a_large_file_is_imported_in_batches(app: Flask) -> None:
    newsletter = make_list()
    lines = "".join(f"lezer{i}@example.nl;Lezer {i}\n" for i in range(2500))
    report = run_import(
        "email;naam\n" + lines, newsletter, consent_source="form", batch_size=1000
    )
    assert report.imported == 2500
    count = db.session.scalar(select(func.count()).select_from(ConsentRecord))
    assert count == 2500


def test_a_batch_too_large_for_one_insert_statement_links_every_new_reader(
    app: Flask,
) -> None:
    # One batch, inserted through two multi-row INSERT … RETURNING statements; the
    # known reader in the middle is passed over by the insert and added instead.
    newsletter = make_list()
    other = make_list("brieven", "Brieven")
    make_subscriber("lezer1500@example.nl", lists=[other])
    db.session.commit()
    total = importer.MAX_PARAMETERS // len(importer.SUBSCRIBER_KEYS) + 100
    assert total < importer.BATCH_SIZE
    lines = "".join(f"lezer{i}@example.nl;Lezer {i}\n" for i in range(total))
    report = run_import("email;naam\n" + lines, newsletter, consent_source="form")
    assert (report.imported, report.added, report.problems) == (total - 1, 1, [])
    per_reader = (
        select(func.count(ConsentRecord.id))
        .where(ConsentRecord.list_id == newsletter.id)
        .group_by(ConsentRecord.subscriber_id)
    )
    assert list(db.session.scalars(per_reader)) == [1] * total
    on_list = select(func.count()).where(Membership.list_id == newsletter.id)
    assert db.session.scalar(on_list) == total
    assert len(set(db.session.scalars(select(Subscriber.uid)))) == total
