"""The reader's journey through the real pages: subscribe, confirm, change, leave."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from service import create_app
from service.extensions import db
from service.subscribers.addresses import email_hash
from service.subscribers.consent import consent_text, text_hash
from service.subscribers.models import (
    ConsentRecord,
    MailingList,
    Membership,
    MembershipStatus,
    Subscriber,
    SubscriberEvent,
    SubscriberStatus,
    Suppression,
)
from service.subscribers.notices import preferences_url, unsubscribe_url
from tests.conftest import Outbox, make_list, make_subscriber, settings, text_of
from tests.smtp import SMTPSink, free_port


@pytest.fixture
def newsletter(app: Flask) -> MailingList:
    mailing_list = make_list("nieuwsbrief", "Nieuwsbrief")
    make_list("correspondenten", "Correspondenten", position=1)
    make_list("intern", "Intern", is_public=False, position=2)
    db.session.commit()
    return mailing_list


def signup(client: FlaskClient, email: str, lists: list[int], **extra: str):  # noqa: ANN201
    return client.post("/subscribe", data={"email": email, "lists": lists, **extra})


def link_in(message, kind: str) -> str:  # noqa: ANN001
    """Return the path of the first `kind` link (confirm, preferences …) in a mail."""
    match = re.search(rf"http://localhost(/[^\s]*{kind}/[^\s]+)", text_of(message))
    assert match, text_of(message)
    return match.group(1)


def reader(email: str) -> Subscriber:
    db.session.expire_all()
    return db.session.scalar(select(Subscriber).filter_by(email=email))


def test_the_signup_page_offers_only_the_public_lists_and_the_consent_text(
    client: FlaskClient, newsletter: MailingList
) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "Nieuwsbrief" in page and "Correspondenten" in page
    assert "Intern" not in page
    assert consent_text("Postbode", "nl") in page


def test_double_opt_in_from_signup_to_welcome(
    client: FlaskClient, newsletter: MailingList, outbox: Outbox
) -> None:
    response = signup(client, "Lezer@Example.NL", [newsletter.id], name="Anna de Vries")
    assert response.status_code == 302
    assert client.get(response.headers["Location"]).status_code == 200
    assert reader("lezer@example.nl").status == SubscriberStatus.PENDING

    [confirmation] = outbox.to("lezer@example.nl")
    assert confirmation["Subject"] == "Bevestig uw aanmelding bij Postbode"
    assert "Beste Anna de Vries," in text_of(confirmation)
    confirm_path = link_in(confirmation, "confirm")

    # A link scanner that follows the link confirms nobody.
    page = client.get(confirm_path)
    assert "Ja, ik bevestig mijn aanmelding" in page.get_data(as_text=True)
    assert reader("lezer@example.nl").status == SubscriberStatus.PENDING

    done = client.post(confirm_path)
    assert "Welkom!" in done.get_data(as_text=True)
    subscriber = reader("lezer@example.nl")
    assert subscriber.status == SubscriberStatus.ACTIVE
    assert subscriber.memberships[0].status == MembershipStatus.ACTIVE

    [record] = subscriber.consent_records
    assert record.text_hash == text_hash(consent_text("Postbode", "nl"))
    assert record.method == "double-opt-in"
    assert record.confirmation_method == "link"
    assert record.source == "http://localhost/subscribe"
    assert record.confirmed_at is not None and record.ip is None

    welcome = outbox.to("lezer@example.nl")[-1]
    assert welcome["Subject"] == "Welkom bij Postbode"
    assert "/unsubscribe/" in text_of(welcome) and "/preferences/" in text_of(welcome)


def test_a_signup_on_the_english_page_is_kept_as_english(
    client: FlaskClient, newsletter: MailingList, outbox: Outbox
) -> None:
    assert client.get("/subscribe?lang=en").status_code == 200
    signup(client, "lezer@example.nl", [newsletter.id])
    subscriber = reader("lezer@example.nl")
    assert subscriber.locale == "en"  # the language, not the date format (en_GB)
    [record] = subscriber.consent_records
    assert record.text_hash == text_hash(consent_text("Postbode", "en"))
    [confirmation] = outbox.to("lezer@example.nl")
    assert confirmation["Subject"] == "Please confirm your subscription to Postbode"


def test_a_confirmation_link_works_once(
    client: FlaskClient, newsletter: MailingList, outbox: Outbox
) -> None:
    signup(client, "lezer@example.nl", [newsletter.id])
    path = link_in(outbox.to("lezer@example.nl")[0], "confirm")
    client.post(path)
    again = client.post(path)
    assert again.status_code == 409
    assert "al gebruikt" in again.get_data(as_text=True)


def test_an_expired_link_offers_a_new_one(
    app: Flask, client: FlaskClient, newsletter: MailingList, outbox: Outbox
) -> None:
    signup(client, "lezer@example.nl", [newsletter.id])
    subscriber = reader("lezer@example.nl")

    class EightDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 8 * 86400

    old = URLSafeTimedSerializer(
        app.config["SECRET_KEY"], salt="postbode.confirm", signer=EightDaysAgo
    ).dumps({"u": subscriber.uid, "n": subscriber.confirmation_nonce})
    page = client.get(f"/subscribe/confirm/{old}")
    assert page.status_code == 410
    assert "Stuur mij een nieuwe link" in page.get_data(as_text=True)
    assert client.post(f"/subscribe/confirm/{old}").status_code == 410
    assert reader("lezer@example.nl").status == SubscriberStatus.PENDING

    # Within the hour no second mail goes out; the answer looks the same.
    assert client.post(f"/subscribe/confirm/{old}/renew").status_code == 302
    assert len(outbox.to("lezer@example.nl")) == 1


def test_known_and_unknown_addresses_get_the_same_answer_and_one_mail_an_hour(
    client: FlaskClient, newsletter: MailingList, outbox: Outbox
) -> None:
    make_subscriber("bekend@example.nl", lists=[newsletter])
    db.session.commit()
    known = signup(client, "bekend@example.nl", [newsletter.id])
    unknown = signup(client, "nieuw@example.nl", [newsletter.id])
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"]
    signup(client, "nieuw@example.nl", [newsletter.id])
    assert outbox.to("bekend@example.nl") == []
    assert len(outbox.to("nieuw@example.nl")) == 1


def test_a_filled_honeypot_records_nothing_but_looks_like_success(
    client: FlaskClient, newsletter: MailingList, outbox: Outbox
) -> None:
    response = signup(client, "bot@example.nl", [newsletter.id], website="http://spam")
    assert response.status_code == 302
    assert reader("bot@example.nl") is None
    assert outbox.messages() == []


@pytest.mark.parametrize(
    ("email", "name", "message"),
    [
        ("geen-adres", "", "Dit is geen geldig e-mailadres."),
        ("iemand@", "", "Dit is geen geldig e-mailadres."),
        ("", "", "Vul uw e-mailadres in."),
        ("lezer@example.nl", "x" * 10_000, "hoogstens 200 tekens"),
    ],
)
def test_bad_input_re_renders_the_form_with_the_message_next_to_the_field(
    client: FlaskClient, newsletter: MailingList, outbox: Outbox, email, name, message
) -> None:  # noqa: ANN001
    response = signup(client, email, [newsletter.id], name=name)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert 'aria-invalid="true"' in page
    assert outbox.messages() == []
    assert db.session.scalar(select(Subscriber.id)) is None


def test_choosing_no_list_is_explained(
    client: FlaskClient, newsletter: MailingList
) -> None:
    response = signup(client, "lezer@example.nl", [])
    assert response.status_code == 422
    assert "Kies ten minste één nieuwsbrief." in response.get_data(as_text=True)


def test_a_private_list_cannot_be_chosen_by_posting_its_id(
    client: FlaskClient, newsletter: MailingList
) -> None:
    private = db.session.scalar(select(MailingList).filter_by(slug="intern"))
    response = signup(client, "lezer@example.nl", [private.id])
    assert response.status_code == 422
    assert reader("lezer@example.nl") is None


def test_odd_but_valid_addresses_and_hostile_names_are_mailed_safely(
    smtp_app: Flask, client: FlaskClient, newsletter: MailingList, smtp_sink: SMTPSink
) -> None:
    signup(
        client, "Jan+Nieuws@Bücher.example", [newsletter.id], name="Jan\r\nBcc: a@b.nl"
    )
    [received] = smtp_sink.messages
    assert received.rcpt_tos == ["jan+nieuws@xn--bcher-kva.example"]
    assert received.message["Bcc"] is None
    assert len(received.message.get_all("To")) == 1
    assert reader("jan+nieuws@bücher.example").name == "Jan Bcc: a@b.nl"


def test_the_ip_address_is_kept_only_when_configured(
    app: Flask, client: FlaskClient, newsletter: MailingList
) -> None:
    app.config["CONSENT_RECORD_IP"] = True
    signup(client, "lezer@example.nl", [newsletter.id])
    assert db.session.scalar(select(ConsentRecord.ip)) == "127.0.0.1"


def _confirmed(
    client: FlaskClient, outbox: Outbox, email: str, lists: list[int]
) -> None:
    signup(client, email, lists)
    client.post(link_in(outbox.to(email)[0], "confirm"))


def test_preferences_change_name_language_and_lists(
    client: FlaskClient, newsletter: MailingList, outbox: Outbox
) -> None:
    _confirmed(client, outbox, "lezer@example.nl", [newsletter.id])
    path = link_in(outbox.to("lezer@example.nl")[-1], "preferences")
    page = client.get(path).get_data(as_text=True)
    assert "lezer@example.nl" in page
    other = db.session.scalar(select(MailingList).filter_by(slug="correspondenten"))

    response = client.post(
        path,
        data={"name": "Anna", "locale": "en", "lists": [other.id]},
        follow_redirects=True,
    )
    assert "Uw voorkeuren zijn opgeslagen." in response.get_data(as_text=True)
    subscriber = reader("lezer@example.nl")
    assert (subscriber.name, subscriber.locale) == ("Anna", "en")
    statuses = {m.mailing_list.slug: m.status for m in subscriber.memberships}
    assert statuses == {"nieuwsbrief": "unsubscribed", "correspondenten": "active"}
    left = [r for r in subscriber.consent_records if r.list_name == "Nieuwsbrief"]
    assert left[0].withdrawn_at is not None


def test_a_reader_downloads_all_their_data(
    client: FlaskClient, newsletter: MailingList, outbox: Outbox
) -> None:
    _confirmed(client, outbox, "lezer@example.nl", [newsletter.id])
    path = link_in(outbox.to("lezer@example.nl")[-1], "preferences")
    response = client.post(f"{path}/data")
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["profile"]["email"] == "lezer@example.nl"
    assert data["memberships"][0]["list"] == "Nieuwsbrief"
    assert data["consent_records"][0]["text_version"] == "2026-1"
    assert [e["kind"] for e in data["events"]][:2] == ["subscribed", "confirmed"]


def test_the_data_download_names_the_lists_left_by_id_and_then_name(
    client: FlaskClient, newsletter: MailingList
) -> None:
    subscriber = make_subscriber("lezer@example.nl", lists=[newsletter])
    # A departure recorded before list ids were kept: the names only.
    subscriber.events.append(
        SubscriberEvent(
            kind="unsubscribed",
            detail={"lists": ["Oude lijst"], "via": "link"},
            created_at=datetime(2025, 1, 1),
        )
    )
    db.session.commit()
    leave = unsubscribe_url(subscriber, newsletter.id).removeprefix("http://localhost")
    assert client.post(leave).status_code == 200
    newsletter.name = "Nieuwsbrief Sociale Alliantie"  # renamed after the departure
    db.session.commit()

    path = preferences_url(subscriber).removeprefix("http://localhost")
    data = json.loads(client.post(f"{path}/data").get_data(as_text=True))
    left = [e["detail"] for e in data["events"] if e["kind"] == "unsubscribed"]
    assert left == [
        {"lists": [{"id": None, "name": "Oude lijst"}], "via": "link"},
        {"lists": [{"id": newsletter.id, "name": "Nieuwsbrief"}], "via": "link"},
    ]


def test_erasure_removes_the_reader_and_keeps_only_a_hash(
    client: FlaskClient, newsletter: MailingList, outbox: Outbox
) -> None:
    _confirmed(client, outbox, "lezer@example.nl", [newsletter.id])
    path = link_in(outbox.to("lezer@example.nl")[-1], "preferences")
    refused = client.post(f"{path}/erase", data={})
    assert refused.status_code == 422
    assert "Zet eerst het vinkje" in refused.get_data(as_text=True)

    done = client.post(f"{path}/erase", data={"sure": "y"})
    assert "Uw gegevens zijn gewist" in done.get_data(as_text=True)
    assert reader("lezer@example.nl") is None
    for model in (Membership, ConsentRecord):
        assert db.session.scalar(select(model.id)) is None
    [suppression] = db.session.scalars(select(Suppression))
    assert suppression.email_hash == email_hash("lezer@example.nl")
    assert client.get(path).status_code == 404

    # Signing up again answers the same but stores and sends nothing.
    before = len(outbox.messages())
    assert signup(client, "Lezer@example.nl", [newsletter.id]).status_code == 302
    assert reader("lezer@example.nl") is None
    assert len(outbox.messages()) == before


def test_unsubscribe_get_changes_nothing_and_post_leaves_the_list(
    client: FlaskClient, newsletter: MailingList
) -> None:
    subscriber = make_subscriber("lezer@example.nl", lists=[newsletter])
    db.session.commit()
    path = unsubscribe_url(subscriber, newsletter.id).removeprefix("http://localhost")
    page = client.get(path)
    assert "Wilt u Nieuwsbrief niet meer ontvangen" in page.get_data(as_text=True)
    assert reader("lezer@example.nl").memberships[0].status == "active"

    done = client.post(path)
    assert done.status_code == 200
    assert "U ontvangt Nieuwsbrief niet meer." in done.get_data(as_text=True)
    subscriber = reader("lezer@example.nl")
    assert subscriber.memberships[0].status == "unsubscribed"
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
    assert client.post(path).status_code == 200  # harmless to repeat


def test_rfc_8058_one_click_needs_no_cookie_or_csrf_token(
    database_url: str, tmp_path: Path
) -> None:
    app = create_app(
        settings(tmp_path, database_url, WTF_CSRF_ENABLED=True),
        environ={},
        instance_path=tmp_path,
    )
    with app.app_context():
        newsletter = make_list()
        subscriber = make_subscriber("lezer@example.nl", lists=[newsletter])
        db.session.commit()
        path = unsubscribe_url(subscriber, newsletter.id).removeprefix(
            "http://localhost"
        )
        client = app.test_client(use_cookies=False)
        response = client.post(
            path,
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200
        assert "Location" not in response.headers
        assert response.get_data(as_text=True).strip() == "U bent afgemeld."
        assert reader("lezer@example.nl").memberships[0].status == "unsubscribed"
        # Every other form still demands its CSRF token.
        assert (
            client.post("/subscribe", data={"email": "x@example.nl"}).status_code == 400
        )
        db.session.remove()
        db.engine.dispose()


def test_links_in_sent_mail_survive_a_secret_key_rotation(
    app: Flask, client: FlaskClient, newsletter: MailingList
) -> None:
    subscriber = make_subscriber("lezer@example.nl", lists=[newsletter])
    db.session.commit()
    old_unsubscribe = unsubscribe_url(subscriber).removeprefix("http://localhost")
    old_preferences = preferences_url(subscriber).removeprefix("http://localhost")
    app.config["SECRET_KEY_FALLBACKS"] = [app.config["SECRET_KEY"]]
    app.config["SECRET_KEY"] = "a-brand-new-secret-key-9876"
    assert client.get(old_preferences).status_code == 200
    assert client.post(old_unsubscribe).status_code == 200
    assert reader("lezer@example.nl").status == SubscriberStatus.UNSUBSCRIBED


@pytest.mark.parametrize(
    "prefix", ["/unsubscribe/", "/preferences/", "/subscribe/confirm/"]
)
def test_forged_tokens_get_a_clear_page_and_change_nothing(
    client: FlaskClient, newsletter: MailingList, prefix: str
) -> None:
    make_subscriber("lezer@example.nl", lists=[newsletter])
    db.session.commit()
    response = client.post(prefix + "eyJ1IjoiYWJjIn0.Zm9yZ2Vk.c2lnbmF0dXJl")
    assert response.status_code == 400
    assert "ongeldig" in response.get_data(as_text=True)
    assert reader("lezer@example.nl").status == SubscriberStatus.ACTIVE


def test_signups_are_rate_limited_per_address(
    database_url: str, tmp_path: Path
) -> None:
    app = create_app(
        settings(tmp_path, database_url, RATELIMIT_ENABLED=True),
        environ={},
        instance_path=tmp_path,
    )
    with app.app_context():
        newsletter = make_list()
        db.session.commit()
        client = app.test_client()
        answers = [
            signup(client, "doelwit@example.nl", [newsletter.id]).status_code
            for _ in range(6)
        ]
        assert answers[:5] == [302] * 5
        assert answers[5] == 429
        page = signup(client, "doelwit@example.nl", [newsletter.id]).get_data(
            as_text=True
        )
        assert "Te veel verzoeken" in page
        db.session.remove()
        db.engine.dispose()


def test_with_one_public_list_it_is_ticked_for_the_reader(client: FlaskClient) -> None:
    only = make_list("nieuwsbrief", "Nieuwsbrief")
    page = client.get("/subscribe").get_data(as_text=True)
    [box] = re.findall(r'<input[^>]*name="lists"[^>]*>', page)
    assert f'value="{only.id}"' in box and "checked" in box


def test_when_the_mail_server_is_down_the_reader_is_told_and_can_try_again(
    app: Flask, client: FlaskClient, newsletter: MailingList, smtp_sink: SMTPSink
) -> None:
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nobody there
    down = signup(client, "lezer@example.nl", [newsletter.id])
    assert down.status_code == 503
    assert "de bevestigingsmail kon nu niet worden verstuurd" in down.get_data(
        as_text=True
    )
    assert reader("lezer@example.nl").status == SubscriberStatus.PENDING

    app.config.update(MAIL_PORT=smtp_sink.port)  # the server is back
    assert signup(client, "lezer@example.nl", [newsletter.id]).status_code == 302
    [received] = smtp_sink.messages
    assert "/subscribe/confirm/" in received.text()
