"""The editors' pages about readers: find, look at, add, import, export, remove."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.audit import AuditLog
from service.extensions import db
from service.security import Role
from service.subscribers.addresses import email_hash
from service.subscribers.models import (
    ConsentMethod,
    MailingList,
    MembershipStatus,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from tests.conftest import Outbox, login, make_list, make_subscriber, make_user
from tests.subscribers.conftest import page


def post_and_follow(client: FlaskClient, path: str, **kwargs: object) -> str:
    """Post a form and return the text of the page it redirects to.

    (follow_redirects would run the second request inside the first one's context.)
    """
    response = client.post(path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 302, page(response)
    return page(client.get(response.location))


def reader(email: str) -> Subscriber | None:
    return db.session.scalar(select(Subscriber).filter_by(email=email))


def audit(action: str) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).filter_by(action=action)))


# Who may see readers ------------------------------------------------------------------


def test_every_subscriber_admin_route_declares_the_staff_roles(app: Flask) -> None:
    endpoints = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("subscribers_admin.")
    ]
    assert len(endpoints) >= 7
    for endpoint in endpoints:
        assert app.view_functions[endpoint].access == {Role.ADMIN, Role.EDITOR}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/subscribers/"),
        ("get", "/admin/subscribers/1"),
        ("get", "/admin/subscribers/add"),
        ("get", "/admin/subscribers/import"),
        ("post", "/admin/subscribers/export"),
        ("post", "/admin/subscribers/1/erase"),
        ("post", "/admin/subscribers/1/unsubscribe"),
    ],
)
def test_correspondents_see_no_subscriber_data(
    app: Flask, client: FlaskClient, newsletter: MailingList, method: str, path: str
) -> None:
    make_subscriber("geheim@example.nl", lists=[newsletter])
    login(client, make_user("correspondent@postbode.nl", Role.CORRESPONDENT))
    response = getattr(client, method)(path)
    assert response.status_code == 403
    assert "geheim@example.nl" not in page(response)


def test_visitors_who_are_not_logged_in_are_sent_to_the_login(
    client: FlaskClient,
) -> None:
    response = client.get("/admin/subscribers/")
    assert response.status_code == 302
    assert "/admin/login" in response.location


# The list ----------------------------------------------------------------------------


def test_the_list_searches_address_and_name_without_case(
    editor: FlaskClient, newsletter: MailingList
) -> None:
    make_subscriber("jan@example.nl", name="Jan de Vries")
    make_subscriber("piet@example.nl", name="Piet Bakker")
    text = page(editor.get("/admin/subscribers/?q=VRIES"))
    assert "jan@example.nl" in text and "piet@example.nl" not in text
    text = page(editor.get("/admin/subscribers/?q=PIET@"))
    assert "piet@example.nl" in text and "jan@example.nl" not in text


def test_the_list_filters_on_status_list_and_province(
    editor: FlaskClient, newsletter: MailingList
) -> None:
    letters = make_list("brieven", "Brieven", is_public=False)
    make_subscriber("a@example.nl", lists=[newsletter], province="Utrecht")
    make_subscriber("b@example.nl", lists=[letters], province="Utrecht")
    make_subscriber(
        "c@example.nl",
        lists=[newsletter],
        province="Drenthe",
        status=SubscriberStatus.PENDING,
    )
    db.session.commit()
    text = page(editor.get(f"/admin/subscribers/?list_id={newsletter.id}"))
    assert "a@example.nl" in text and "c@example.nl" in text
    assert "b@example.nl" not in text
    text = page(editor.get("/admin/subscribers/?status=pending"))
    assert "c@example.nl" in text and "a@example.nl" not in text
    text = page(editor.get("/admin/subscribers/?province=Utrecht"))
    assert "a@example.nl" in text and "b@example.nl" in text
    assert "c@example.nl" not in text
    assert ">Drenthe</option>" in text  # provinces in use are offered


def test_the_list_is_paginated_and_keeps_its_filters(
    editor: FlaskClient, newsletter: MailingList
) -> None:
    for i in range(55):
        make_subscriber(f"lezer{i:02d}@example.nl", province="Zeeland")
    db.session.commit()
    text = page(editor.get("/admin/subscribers/?province=Zeeland"))
    assert "55 lezers gevonden." in text
    assert "page=2" in text and "province=Zeeland" in text
    second = page(editor.get("/admin/subscribers/?province=Zeeland&page=2"))
    assert second.count("@example.nl</a>") == 5


# One reader ---------------------------------------------------------------------------


def test_a_readers_page_shows_the_consent_history(
    editor: FlaskClient, newsletter: MailingList
) -> None:
    editor.post(
        "/admin/subscribers/add",
        data={
            "email": "jan@example.nl",
            "name": "Jan",
            "lists": [str(newsletter.id)],
            "consent_source": "aanmeldformulier congres 2026",
            "attest": "y",
        },
    )
    jan = reader("jan@example.nl")
    text = page(editor.get(f"/admin/subscribers/{jan.id}"))
    assert "aanmeldformulier congres 2026" in text
    assert "Redacteur &lt;redacteur@postbode.nl&gt;" in text
    assert "Nieuwsbrief" in text and "2026-1" in text


# Adding by hand -----------------------------------------------------------------------


def test_an_editor_adds_a_reader_attesting_consent_and_is_named_in_the_record(
    editor: FlaskClient, newsletter: MailingList, outbox: Outbox
) -> None:
    response = editor.post(
        "/admin/subscribers/add",
        data={
            "email": "Jan@Example.nl",
            "name": "Jan",
            "province": "Utrecht",
            "lists": [str(newsletter.id)],
            "consent_source": "telefonisch verzoek, 2 maart",
            "attest": "y",
        },
    )
    assert response.status_code == 302
    jan = reader("jan@example.nl")
    assert jan.status == SubscriberStatus.ACTIVE
    assert jan.province == "Utrecht"
    (record,) = jan.consent_records
    assert record.method == ConsentMethod.ADMIN
    assert record.attested_by == "Redacteur <redacteur@postbode.nl>"
    assert record.source == "telefonisch verzoek, 2 maart"
    assert record.confirmed_at is not None
    assert outbox.messages() == []
    assert [e.target for e in audit("subscriber.add")] == [f"subscriber #{jan.id}"]


def test_without_attestation_the_reader_is_pending_and_gets_a_confirmation_mail(
    editor: FlaskClient, newsletter: MailingList, outbox: Outbox
) -> None:
    text = post_and_follow(
        editor,
        "/admin/subscribers/add",
        data={"email": "jan@example.nl", "lists": [str(newsletter.id)]},
    )
    assert "bevestigingsmail" in text
    jan = reader("jan@example.nl")
    assert jan.status == SubscriberStatus.PENDING
    assert len(outbox.to("jan@example.nl")) == 1


def test_a_consent_source_without_the_attestation_tick_is_refused(
    editor: FlaskClient, newsletter: MailingList
) -> None:
    response = editor.post(
        "/admin/subscribers/add",
        data={
            "email": "jan@example.nl",
            "lists": [str(newsletter.id)],
            "consent_source": "ergens",
        },
    )
    assert response.status_code == 422
    assert "Verklaar dat deze toestemming is gegeven" in page(response)
    assert reader("jan@example.nl") is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("J" * 10_000, "hoogstens 200 tekens"),
    ],
)
def test_a_ten_thousand_character_name_is_refused_with_a_sentence(
    editor: FlaskClient, newsletter: MailingList, name: str, message: str
) -> None:
    response = editor.post(
        "/admin/subscribers/add",
        data={"email": "jan@example.nl", "name": name, "lists": [str(newsletter.id)]},
    )
    assert response.status_code == 422
    assert message in page(response)
    assert reader("jan@example.nl") is None


def test_a_name_with_a_header_injection_is_kept_on_one_line(
    editor: FlaskClient, newsletter: MailingList, outbox: Outbox
) -> None:
    editor.post(
        "/admin/subscribers/add",
        data={
            "email": "jan@example.nl",
            "name": "Jan\r\nBcc: stiekem@example.org",
            "lists": [str(newsletter.id)],
        },
    )
    assert reader("jan@example.nl").name == "Jan Bcc: stiekem@example.org"
    (message,) = outbox.messages()
    assert message["Bcc"] is None
    assert message["X-Postbode-Envelope-To"] == "jan@example.nl"


def test_an_erased_address_cannot_be_added_again(
    editor: FlaskClient, newsletter: MailingList
) -> None:
    jan = make_subscriber("jan@example.nl", lists=[newsletter])
    db.session.commit()
    editor.post(f"/admin/subscribers/{jan.id}/erase", data={"sure": "y"})
    response = editor.post(
        "/admin/subscribers/add",
        data={"email": "jan@example.nl", "lists": [str(newsletter.id)]},
    )
    assert response.status_code == 422
    assert "gewist of geblokkeerd" in page(response)


# Unsubscribe and erase ----------------------------------------------------------------


def test_an_editor_unsubscribes_a_reader_from_everything(
    editor: FlaskClient, newsletter: MailingList
) -> None:
    jan = make_subscriber("jan@example.nl", lists=[newsletter])
    db.session.commit()
    text = post_and_follow(editor, f"/admin/subscribers/{jan.id}/unsubscribe")
    assert "Afgemeld." in text
    assert jan.status == SubscriberStatus.UNSUBSCRIBED
    assert jan.memberships[0].status == MembershipStatus.UNSUBSCRIBED
    assert len(audit("subscriber.unsubscribe")) == 1


def test_erasing_needs_the_tick_then_leaves_only_a_hashed_suppression(
    editor: FlaskClient, newsletter: MailingList
) -> None:
    jan = make_subscriber("jan@example.nl", lists=[newsletter])
    db.session.commit()
    jan_id = jan.id
    refused = editor.post(f"/admin/subscribers/{jan_id}/erase", data={})
    assert refused.status_code == 422
    assert reader("jan@example.nl") is not None
    text = post_and_follow(
        editor, f"/admin/subscribers/{jan_id}/erase", data={"sure": "y"}
    )
    assert "De lezer is gewist." in text
    assert "jan@example.nl" not in text
    assert reader("jan@example.nl") is None
    assert db.session.scalar(
        select(Suppression).filter_by(email_hash=email_hash("jan@example.nl"))
    )
    (entry,) = audit("subscriber.erase")
    assert "jan@example.nl" not in entry.target


# Export (the upload is in test_import_jobs.py) ---------------------------------------


def test_the_export_of_a_filter_is_neutralised_and_written_to_the_audit_log(
    editor: FlaskClient, newsletter: MailingList
) -> None:
    make_subscriber("jan@example.nl", name="=cmd|' /C calc'!A0", lists=[newsletter])
    make_subscriber("piet@example.nl", name="+Piet")
    db.session.commit()
    response = editor.post(
        "/admin/subscribers/export", data={"list_id": str(newsletter.id)}
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = page(response)
    response.close()  # as the WSGI server does: closes the spooled file
    assert text.startswith("\ufeffemail,name")
    assert "jan@example.nl,'=cmd|' /C calc'!A0" in text
    assert "piet@example.nl" not in text
    (entry,) = audit("export.subscribers")
    assert entry.actor == "Redacteur <redacteur@postbode.nl>"
    assert entry.target == "nieuwsbrief" and entry.detail["rows"] == 1
