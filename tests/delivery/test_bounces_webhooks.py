"""Providers' bounce webhooks: refused without a secret, trusted only with it."""

from __future__ import annotations

import hashlib
import hmac
import json
from base64 import b64encode
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import ConfigError, load_settings
from service.delivery import bounces
from service.extensions import db
from service.subscribers.models import Subscriber
from tests.delivery.test_bounces import BOUNCE_ADDRESS, make_delivery, reader, tag_of

SECRET = "webhook-secret-0123456789"
GENERIC = "/api/v1/webhooks/bounces"
SES = "/api/v1/webhooks/ses"


@pytest.fixture
def hook_app(app: Flask) -> Flask:
    app.config.update(WEBHOOK_SECRET=SECRET, BOUNCE_ADDRESS=BOUNCE_ADDRESS)
    return app


def signed(body: dict[str, Any], secret: str = SECRET) -> dict[str, Any]:
    raw = json.dumps(body).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {
        "data": raw,
        "content_type": "application/json",
        "headers": {"X-Postbode-Signature": f"sha256={signature}"},
    }


def status_of(subscriber: Subscriber) -> str:
    db.session.expire_all()
    return str(db.session.get(Subscriber, subscriber.id).status)


def sns(notice: dict[str, Any]) -> bytes:
    return json.dumps(
        {"Type": "Notification", "MessageId": "m1", "Message": json.dumps(notice)}
    ).encode()


def ses_bounce(email: str, source: str = "nieuwsbrief@postbode.nl") -> bytes:
    return sns(
        {
            "notificationType": "Bounce",
            "bounce": {
                "bounceType": "Permanent",
                "bouncedRecipients": [
                    {
                        "emailAddress": email,
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
            },
            "mail": {"source": source, "destination": [email]},
        }
    )


@pytest.mark.parametrize("path", [GENERIC, SES])
def test_every_webhook_refuses_everything_while_no_secret_is_set(
    app: Flask, client: FlaskClient, path: str
) -> None:
    subscriber, _list = reader()
    response = client.post(
        f"{path}?secret=",
        **signed({"type": "complaint", "email": subscriber.email}, ""),
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["status"] == 403
    assert status_of(subscriber) == "active"


def test_a_signed_complaint_suppresses_the_reader(
    hook_app: Flask, client: FlaskClient
) -> None:
    subscriber, _list = reader()
    body = {"type": "complaint", "email": subscriber.email.upper()}
    response = client.post(GENERIC, **signed(body))
    assert response.status_code == 200
    assert response.get_json() == {"recorded": True}
    assert status_of(subscriber) == "complained"


def test_signed_hard_bounces_count_one_and_soft_ones_half(
    hook_app: Flask, client: FlaskClient
) -> None:
    subscriber, _list = reader()
    for hard in (True, False):
        body = {"type": "bounce", "email": subscriber.email, "hard": hard}
        assert client.post(GENERIC, **signed(body)).status_code == 200
    [soft, hard_event] = bounces.events_of(subscriber)
    assert (hard_event.kind, hard_event.score, soft.kind, soft.score) == (
        "hard",
        1.0,
        "soft",
        0.5,
    )


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Postbode-Signature": "sha256=" + "0" * 64}, {"X-Postbode-Signature": ""}],
)
def test_an_unsigned_or_wrongly_signed_bounce_is_refused(
    hook_app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    subscriber, _list = reader()
    body = json.dumps({"type": "complaint", "email": subscriber.email})
    response = client.post(GENERIC, data=body, headers=headers)
    assert response.status_code == 403
    assert status_of(subscriber) == "active"


def test_a_body_signed_with_another_secret_is_refused(
    hook_app: Flask, client: FlaskClient
) -> None:
    subscriber, _list = reader()
    body = {"type": "complaint", "email": subscriber.email}
    assert client.post(GENERIC, **signed(body, "another-secret-123")).status_code == 403


@pytest.mark.parametrize(
    "body", [{"type": "delivery", "email": "x@example.nl"}, ["bounce"], "bounce"]
)
def test_a_signed_body_of_the_wrong_shape_is_a_400(
    hook_app: Flask, client: FlaskClient, body: object
) -> None:
    assert client.post(GENERIC, **signed(body)).status_code == 400  # type: ignore[arg-type]


def test_a_bounce_for_an_unknown_address_is_answered_but_changes_nothing(
    hook_app: Flask, client: FlaskClient
) -> None:
    body = {"type": "bounce", "email": "onbekend@example.nl", "hard": True}
    response = client.post(GENERIC, **signed(body))
    assert response.get_json() == {"recorded": False}


def test_ses_notifications_need_the_secret_in_the_url_or_basic_auth(
    hook_app: Flask, client: FlaskClient
) -> None:
    subscriber, _list = reader()
    assert client.post(SES, data=ses_bounce(subscriber.email)).status_code == 403
    wrong = client.post(f"{SES}?secret=wrong", data=ses_bounce(subscriber.email))
    assert wrong.status_code == 403
    assert client.post(
        f"{SES}?secret={SECRET}", data=ses_bounce(subscriber.email)
    ).get_json() == {"recorded": 1}
    credentials = b64encode(f"ses:{SECRET}".encode()).decode()
    response = client.post(
        SES,
        data=ses_bounce(subscriber.email),
        headers={"Authorization": f"Basic {credentials}"},
    )
    assert response.get_json() == {"recorded": 1}
    assert [e.source for e in bounces.events_of(subscriber)] == ["ses", "ses"]


def test_an_ses_bounce_with_our_tag_is_tied_to_its_delivery(
    hook_app: Flask, client: FlaskClient
) -> None:
    subscriber, _list = reader()
    delivery = make_delivery(subscriber)
    source = f"bounces+{tag_of(hook_app, delivery)}@postbode.example.nl"
    client.post(f"{SES}?secret={SECRET}", data=ses_bounce(subscriber.email, source))
    # The same notice again (SNS delivers at least once) counts once.
    client.post(f"{SES}?secret={SECRET}", data=ses_bounce(subscriber.email, source))
    assert [(e.delivery_id, e.score) for e in bounces.events_of(subscriber)] == [
        (delivery.id, 0.0),
        (delivery.id, 1.0),
    ]


def test_an_ses_complaint_suppresses_and_a_subscription_notice_is_only_logged(
    hook_app: Flask, client: FlaskClient
) -> None:
    subscriber, _list = reader()
    confirm = json.dumps(
        {"Type": "SubscriptionConfirmation", "SubscribeURL": "https://sns.example/x"}
    )
    assert client.post(f"{SES}?secret={SECRET}", data=confirm).status_code == 200
    complaint = sns(
        {
            "notificationType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": subscriber.email}],
                "complaintFeedbackType": "abuse",
            },
            "mail": {"source": "nieuwsbrief@postbode.nl"},
        }
    )
    assert client.post(f"{SES}?secret={SECRET}", data=complaint).status_code == 200
    assert status_of(subscriber) == "complained"


def test_an_ses_body_that_is_not_json_is_a_400(
    hook_app: Flask, client: FlaskClient
) -> None:
    assert client.post(f"{SES}?secret={SECRET}", data=b"{nope").status_code == 400


# Settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BOUNCE_MAILBOX_URL", "https://user:pw@mail.example.nl"),
        ("BOUNCE_MAILBOX_URL", "imaps://mail.example.nl/INBOX"),
        ("BOUNCE_SOFT_SCORE", "2"),
        ("BOUNCE_SOFT_SCORE", "half"),
        ("BOUNCE_THRESHOLD", "0"),
        ("BOUNCE_WINDOW_DAYS", "0"),
        ("WEBHOOK_SECRET", "short"),
    ],
)
def test_a_wrong_bounce_setting_stops_start_up_naming_it(
    tmp_path: Any, name: str, value: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({"SECRET_KEY": "k" * 20, name: value}, instance=tmp_path)
    assert error.value.setting == name
    assert "pw" not in str(error.value)  # a mailbox password is never echoed


def test_the_bounce_settings_default_to_one_three_and_a_week(tmp_path: Any) -> None:
    settings = load_settings({"SECRET_KEY": "k" * 20}, instance=tmp_path)
    assert (
        settings["BOUNCE_SOFT_SCORE"],
        settings["BOUNCE_THRESHOLD"],
        settings["BOUNCE_WINDOW_DAYS"],
        settings["BOUNCE_MAILBOX_URL"],
        settings["WEBHOOK_SECRET"],
    ) == (0.5, 3.0, 7, "", "")
