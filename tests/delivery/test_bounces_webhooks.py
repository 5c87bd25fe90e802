"""Providers' bounce webhooks: refused without a secret, trusted only with it, and
for Amazon SES only with a valid SNS signature too."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import threading
import urllib.error
from base64 import b64encode
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from flask import Flask
from flask.testing import FlaskClient

from config import ConfigError, load_settings
from service.delivery import bounces, webhooks
from service.extensions import db
from service.subscribers.models import Subscriber
from tests.delivery.imap_server import self_signed_certificate
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


# Amazon SES through SNS ---------------------------------------------------------------
#
# SNS is played by a key and a self-signed certificate made here; the message is signed
# the way AWS documents it. Only the fetch of the certificate is replaced (it would go
# to AWS); the verification itself runs as in production.

CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem"
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:postbode-bounces"
#: the fields SNS signs, in order (AWS: "Verifying the signatures of SNS messages")
NOTIFICATION_FIELDS = (
    "Message",
    "MessageId",
    "Subject",
    "Timestamp",
    "TopicArn",
    "Type",
)
CONFIRMATION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)


def certificate_pem(
    key: rsa.RSAPrivateKey, valid_from: datetime, valid_until: datetime
) -> bytes:
    """Return a self-signed certificate of `key`, as SNS publishes its own."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_until)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def sns_key() -> rsa.RSAPrivateKey:
    """SNS's signing key in these tests (made once: RSA keys are slow to make)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeSNS:
    """Signs messages as Amazon SNS does and serves its certificate at CERT_URL."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.key = key
        now = datetime.now(UTC)
        self.certificates = {
            CERT_URL: certificate_pem(
                key, now - timedelta(days=1), now + timedelta(days=365)
            )
        }
        #: every URL the webhook fetched, in order
        self.fetched: list[str] = []
        self.is_reachable = True

    def fetch(self, url: str) -> bytes:
        """Stand in for the network: answer as AWS's certificate host would."""
        self.fetched.append(url)
        if not self.is_reachable:
            raise urllib.error.URLError(TimeoutError("timed out"))
        if url not in self.certificates:
            raise urllib.error.HTTPError(url, 404, "Not Found", Message(), None)
        return self.certificates[url]

    def envelope(
        self,
        message: str,
        *,
        kind: str = "Notification",
        version: str = "1",
        cert_url: str = CERT_URL,
        key: rsa.RSAPrivateKey | None = None,
        **fields: str,
    ) -> dict[str, str]:
        """Return a signed SNS message of `kind` carrying `message`."""
        envelope = {
            "Type": kind,
            "MessageId": "7c1cbf7a-0f35-5d7b-a7f4-d7b8c2c7a3e1",
            "TopicArn": TOPIC_ARN,
            "Message": message,
            "Timestamp": "2026-03-02T09:30:12.345Z",
            "SignatureVersion": version,
            "SigningCertURL": cert_url,
            **fields,
        }
        if kind == "Notification":
            order = NOTIFICATION_FIELDS
            envelope["UnsubscribeURL"] = (
                "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe"
                f"&SubscriptionArn={TOPIC_ARN}:0c0b6b2e-6a55-4a5e-9e0e-2b3c4d5e6f70"
            )
        else:
            order = CONFIRMATION_FIELDS
        text = "".join(
            f"{name}\n{envelope[name]}\n" for name in order if name in envelope
        )
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = (key or self.key).sign(text.encode(), padding.PKCS1v15(), digest)
        envelope["Signature"] = b64encode(signature).decode()
        return envelope


@pytest.fixture
def sns(sns_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch) -> FakeSNS:
    """SNS of these tests, its certificate served in place of the fetch from AWS."""
    fake = FakeSNS(sns_key)
    monkeypatch.setattr(webhooks, "fetch_certificate", fake.fetch)
    monkeypatch.setattr(webhooks, "_certificates", {})  # each test fetches anew
    return fake


def post_ses(client: FlaskClient, envelope: dict[str, str], query: str = "") -> Any:
    """POST an SNS message as SNS does (JSON as text/plain) to the subscribed URL."""
    return client.post(
        f"{SES}?secret={SECRET}{query}",
        data=json.dumps(envelope),
        content_type="text/plain; charset=UTF-8",
        headers={"x-amz-sns-message-type": envelope.get("Type", "")},
    )


def ses_bounce(email: str, source: str = "nieuwsbrief@postbode.nl") -> str:
    """Return SES's notice of a permanent bounce (the shape of AWS's own example)."""
    return json.dumps(
        {
            "notificationType": "Bounce",
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": email,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": f"smtp; 550 5.1.1 <{email}>... User unknown",
                    }
                ],
                "timestamp": "2026-03-02T09:30:11.000Z",
                "feedbackId": "0102018e5a3c2e1f-0000-0000-0000-000000000000-000000",
                "remoteMtaIp": "192.0.2.25",
                "reportingMTA": "dns; a1-23.smtp-out.eu-west-1.amazonses.com",
            },
            "mail": {
                "timestamp": "2026-03-02T09:30:10.000Z",
                "source": source,
                "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/postbode.nl",
                "sourceIp": "198.51.100.7",
                "sendingAccountId": "123456789012",
                "messageId": "0102018eaaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-000000",
                "destination": [email],
            },
        }
    )


def ses_complaint(email: str) -> str:
    """Return SES's notice of a complaint through a feedback loop."""
    return json.dumps(
        {
            "notificationType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": email}],
                "timestamp": "2026-03-02T10:02:00.000Z",
                "feedbackId": "0102018e11111111-2222-3333-4444-555555555555-000000",
                "userAgent": "Yahoo!-Mail-Feedback/2.0",
                "complaintFeedbackType": "abuse",
                "arrivalDate": "2026-03-02T09:31:00.000Z",
            },
            "mail": {
                "timestamp": "2026-03-02T09:30:10.000Z",
                "source": "nieuwsbrief@postbode.nl",
                "messageId": "0102018effffffff-bbbb-cccc-dddd-eeeeeeeeeeee-000000",
                "destination": [email],
            },
        }
    )


@pytest.mark.parametrize("version", ["1", "2"])
def test_an_ses_bounce_signed_as_sns_signs_is_recorded(
    hook_app: Flask, client: FlaskClient, sns: FakeSNS, version: str
) -> None:
    subscriber, _list = reader()
    envelope = sns.envelope(ses_bounce(subscriber.email), version=version)
    response = post_ses(client, envelope)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"recorded": 1}
    [event] = bounces.events_of(subscriber)
    assert (event.source, event.kind, event.status_code) == ("ses", "hard", "5.1.1")
    # The certificate is fetched once per process, not once per message.
    post_ses(client, sns.envelope(ses_bounce(subscriber.email), version=version))
    assert sns.fetched == [CERT_URL]


def test_a_notification_with_a_subject_is_signed_with_it(
    hook_app: Flask, client: FlaskClient, sns: FakeSNS
) -> None:
    subscriber, _list = reader()
    envelope = sns.envelope(
        ses_bounce(subscriber.email), version="2", Subject="Amazon SES Email Event"
    )
    assert post_ses(client, envelope).get_json() == {"recorded": 1}
    envelope["Subject"] = "Amazon SES Email Event!"
    assert post_ses(client, envelope).status_code == 403


@pytest.mark.parametrize("version", ["1", "2"])
def test_one_changed_byte_in_the_message_is_refused(
    hook_app: Flask, client: FlaskClient, sns: FakeSNS, version: str
) -> None:
    subscriber, _list = reader()
    other, _list = reader("ander@example.nl")
    envelope = sns.envelope(ses_bounce(other.email), version=version)
    # Someone in between turns the bounce of ander@ into one of lezer@ (same length).
    envelope["Message"] = envelope["Message"].replace("ander@", "lezer@")
    response = post_ses(client, envelope)
    assert response.status_code == 403
    assert response.get_json()["error"]["message"] == (
        "De handtekening van dit SNS-bericht ontbreekt of klopt niet."
    )
    assert bounces.events_of(subscriber) == []
    assert bounces.events_of(other) == []


def test_a_message_signed_with_another_key_is_refused(
    hook_app: Flask, client: FlaskClient, sns: FakeSNS
) -> None:
    subscriber, _list = reader()
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    envelope = sns.envelope(ses_bounce(subscriber.email), key=impostor)
    assert post_ses(client, envelope).status_code == 403
    assert bounces.events_of(subscriber) == []


@pytest.mark.parametrize(
    "cert_url",
    [
        "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://evil.example/SimpleNotificationService-1.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.example/SimpleNotificationService.pem",
        "https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com@evil.example/cert.pem",
        "https://s3.eu-west-1.amazonaws.com/my-bucket/cert.pem",
        "https://sns.eu-west-1.amazonaws.com:8443/SimpleNotificationService-1.pem",
        "file:///etc/ssl/certs/ca-certificates.crt",
    ],
)
def test_a_certificate_anywhere_but_at_sns_is_refused_without_fetching_it(
    hook_app: Flask, client: FlaskClient, sns: FakeSNS, cert_url: str
) -> None:
    subscriber, _list = reader()
    # Signed correctly, and the certificate would be served: only its place is wrong.
    sns.certificates[cert_url] = sns.certificates[CERT_URL]
    response = post_ses(
        client, sns.envelope(ses_bounce(subscriber.email), cert_url=cert_url)
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["message"] == (
        "Het certificaat van dit SNS-bericht is niet van Amazon SNS."
    )
    assert sns.fetched == []
    assert bounces.events_of(subscriber) == []


def test_the_china_regions_certificate_host_is_accepted(
    hook_app: Flask, client: FlaskClient, sns: FakeSNS
) -> None:
    subscriber, _list = reader()
    china = "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem"
    sns.certificates[china] = sns.certificates[CERT_URL]
    envelope = sns.envelope(ses_bounce(subscriber.email), cert_url=china)
    assert post_ses(client, envelope).get_json() == {"recorded": 1}
    assert sns.fetched == [china]


@pytest.mark.parametrize(
    "change",
    [
        {"Signature": None},
        {"Signature": ""},
        {"Signature": "not base64!"},
        {"SignatureVersion": "3"},
        {"SignatureVersion": None},
        {"SigningCertURL": None},
        {"Timestamp": None},
    ],
)
def test_an_unsigned_or_oddly_signed_notification_is_refused(
    hook_app: Flask, client: FlaskClient, sns: FakeSNS, change: dict[str, str | None]
) -> None:
    subscriber, _list = reader()
    envelope: dict[str, Any] = sns.envelope(ses_bounce(subscriber.email))
    for name, value in change.items():
        if value is None:
            del envelope[name]
        else:
            envelope[name] = value
    response = post_ses(client, envelope)
    assert response.status_code == 403
    assert "SNS" in response.get_json()["error"]["message"]
    assert bounces.events_of(subscriber) == []


def test_an_expired_certificate_is_refused(
    hook_app: Flask, client: FlaskClient, sns: FakeSNS, sns_key: rsa.RSAPrivateKey
) -> None:
    subscriber, _list = reader()
    now = datetime.now(UTC)
    sns.certificates[CERT_URL] = certificate_pem(
        sns_key, now - timedelta(days=400), now - timedelta(days=35)
    )
    assert (
        post_ses(client, sns.envelope(ses_bounce(subscriber.email))).status_code == 403
    )
    assert bounces.events_of(subscriber) == []


def test_an_unreachable_certificate_is_a_503_and_sns_succeeds_when_it_retries(
    hook_app: Flask, client: FlaskClient, sns: FakeSNS
) -> None:
    subscriber, _list = reader()
    envelope = sns.envelope(ses_bounce(subscriber.email))
    sns.is_reachable = False
    response = post_ses(client, envelope)
    assert response.status_code == 503
    assert response.get_json()["error"] == {
        "status": 503,
        "message": "Het certificaat van Amazon SNS is nu niet op te halen. "
        "Probeer het later opnieuw.",
    }
    assert bounces.events_of(subscriber) == []
    # A failure is not remembered: when SNS delivers again, it goes through.
    sns.is_reachable = True
    assert post_ses(client, envelope).get_json() == {"recorded": 1}
    assert sns.fetched == [CERT_URL, CERT_URL]


def test_a_certificate_url_that_does_not_answer_a_certificate_is_a_503(
    hook_app: Flask, client: FlaskClient, sns: FakeSNS
) -> None:
    subscriber, _list = reader()
    missing = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-gone.pem"
    response = post_ses(
        client, sns.envelope(ses_bounce(subscriber.email), cert_url=missing)
    )
    assert response.status_code == 503
    sns.certificates[missing] = b"<html>Not a certificate</html>"
    response = post_ses(
        client, sns.envelope(ses_bounce(subscriber.email), cert_url=missing)
    )
    assert response.status_code == 503


def test_ses_notifications_need_the_secret_in_the_url_or_basic_auth_too(
    hook_app: Flask, client: FlaskClient, sns: FakeSNS
) -> None:
    subscriber, _list = reader()
    body = json.dumps(sns.envelope(ses_bounce(subscriber.email)))
    assert client.post(SES, data=body).status_code == 403
    assert client.post(f"{SES}?secret=wrong", data=body).status_code == 403
    # Refused before the signature is looked at: nothing fetched on their behalf.
    assert sns.fetched == []
    assert client.post(f"{SES}?secret={SECRET}", data=body).get_json() == {
        "recorded": 1
    }
    credentials = b64encode(f"ses:{SECRET}".encode()).decode()
    response = client.post(
        SES, data=body, headers={"Authorization": f"Basic {credentials}"}
    )
    assert response.get_json() == {"recorded": 1}
    assert [e.source for e in bounces.events_of(subscriber)] == ["ses", "ses"]


def test_an_ses_bounce_with_our_tag_is_tied_to_its_delivery(
    hook_app: Flask, client: FlaskClient, sns: FakeSNS
) -> None:
    subscriber, _list = reader()
    delivery = make_delivery(subscriber)
    source = f"bounces+{tag_of(hook_app, delivery)}@postbode.example.nl"
    envelope = sns.envelope(ses_bounce(subscriber.email, source), version="2")
    post_ses(client, envelope)
    # The same notice again (SNS delivers at least once) counts once.
    post_ses(client, envelope)
    assert [(e.delivery_id, e.score) for e in bounces.events_of(subscriber)] == [
        (delivery.id, 0.0),
        (delivery.id, 1.0),
    ]


def test_an_ses_complaint_suppresses_the_reader(
    hook_app: Flask, client: FlaskClient, sns: FakeSNS
) -> None:
    subscriber, _list = reader()
    envelope = sns.envelope(ses_complaint(subscriber.email), version="2")
    assert post_ses(client, envelope).get_json() == {"recorded": 1}
    assert status_of(subscriber) == "complained"


@pytest.mark.parametrize(
    "kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"]
)
def test_a_signed_subscription_notice_is_only_logged(
    hook_app: Flask,
    client: FlaskClient,
    sns: FakeSNS,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    subscribe_url = (
        "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
        f"&TopicArn={TOPIC_ARN}&Token=2336412f37fb687f5d51e6e2425"
    )
    envelope = sns.envelope(
        f"You have chosen to subscribe to the topic {TOPIC_ARN}.",
        kind=kind,
        SubscribeURL=subscribe_url,
        Token="2336412f37fb687f5d51e6e2425",
    )
    response = post_ses(client, envelope)
    assert response.get_json() == {"recorded": 0}
    if kind == "SubscriptionConfirmation":
        assert subscribe_url in caplog.text
    # Its Token and SubscribeURL are signed too.
    envelope["SubscribeURL"] = "https://sns.eu-west-1.amazonaws.com/?Action=Other"
    assert post_ses(client, envelope).status_code == 403


def test_an_ses_body_that_is_not_json_is_a_400(
    hook_app: Flask, client: FlaskClient, sns: FakeSNS
) -> None:
    assert client.post(f"{SES}?secret={SECRET}", data=b"{nope").status_code == 400
    envelope = sns.envelope("not the JSON of an SES notice")
    assert post_ses(client, envelope).status_code == 400


@pytest.fixture
def certificate_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sns_key: rsa.RSAPrivateKey
) -> Iterator[str]:
    """An https server on 127.0.0.1 serving /cert.pem, and a redirect at /moved.

    Its own certificate is made trusted for this test through SSL_CERT_FILE.
    """
    key_file, cert_file = tmp_path / "tls-key.pem", tmp_path / "tls-cert.pem"
    self_signed_certificate(key_file, cert_file)
    now = datetime.now(UTC)
    pem = certificate_pem(sns_key, now, now + timedelta(days=1))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
            if self.path == "/cert.pem":
                self.send_response(200)
                self.send_header("Content-Length", str(len(pem)))
                self.end_headers()
                self.wfile.write(pem)
            else:
                self.send_response(302)
                self.send_header("Location", "/cert.pem")
                self.send_header("Content-Length", "0")
                self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_the_certificate_is_fetched_over_verified_tls_without_following_redirects(
    certificate_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = webhooks.fetch_certificate(f"{certificate_host}/cert.pem")
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    with pytest.raises(urllib.error.HTTPError) as refused:
        webhooks.fetch_certificate(f"{certificate_host}/moved")
    assert refused.value.code == 302
    refused.value.close()
    # A server the system does not trust gets no hearing.
    monkeypatch.delenv("SSL_CERT_FILE")
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        webhooks.fetch_certificate(f"{certificate_host}/cert.pem")


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
