"""Bounce and complaint webhooks for mail providers, under /api/v1/webhooks/.

Both refuse every request (403) while WEBHOOK_SECRET is empty.

- `POST /api/v1/webhooks/bounces`: a generic signed JSON form. The header
  `X-Postbode-Signature: sha256=<hex>` carries the HMAC-SHA256 of the raw body under
  WEBHOOK_SECRET; the body is {"type": "bounce"|"complaint", "email": …,
  "hard": true|false, "status": "5.1.1", "diagnostic": …}.
- `POST /api/v1/webhooks/ses`: Amazon SES notifications through SNS. A request is read
  only when both hold, checked in this order:

  1. the subscription URL carries the secret, as `?secret=WEBHOOK_SECRET` or as the
     password of basic authentication (https://any:WEBHOOK_SECRET@host/…); without it
     403, and nothing is fetched;
  2. the SNS message signature is valid, as AWS documents it: SignatureVersion "1"
     is SHA1withRSA, "2" SHA256withRSA, over the message's fields in SNS's order
     (`SIGNED_FIELDS`), with the key of the certificate at SigningCertURL. That URL
     must be https on `sns.<region>.amazonaws.com` (or `.amazonaws.com.cn`), or the
     message is refused before anything is fetched. The certificate is fetched over
     verified TLS without following redirects, and kept per process by URL. A missing
     or bad signature is a 403; a certificate that cannot be fetched now, a 503, so
     that SNS delivers again later.

  SNS "raw message delivery" must stay off: raw messages carry no signature.

A provider names the address that bounced; the secret and, for SES, AWS's signature
are what make it trusted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import threading
import urllib.request
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _

from service.db import utcnow
from service.delivery import bounces
from service.delivery.models import Delivery
from service.errors import error_response
from service.extensions import csrf, db
from service.security import public
from service.subscribers.addresses import InvalidAddress, normalise_email
from service.subscribers.models import Subscriber
from service.subscribers.operations import subscriber_by_email

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/api/v1/webhooks")

#: a provider's notice is a few kilobytes; SES sends at most 256 KB through SNS
MAX_BODY = 256 * 1024
SIGNATURE_HEADER = "X-Postbode-Signature"

Reply = Response | tuple[Response, int]

#: the fields SNS signs, in this order, per message type; only Subject may be absent
SIGNED_FIELDS = {
    "Notification": (
        "Message",
        "MessageId",
        "Subject",
        "Timestamp",
        "TopicArn",
        "Type",
    ),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
#: SignatureVersion → the hash of SHA…withRSA (PKCS #1 v1.5)
SIGNATURE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "1": hashes.SHA1,
    "2": hashes.SHA256,
}
#: where SNS keeps its signing certificates (the host check of AWS's own SDKs)
SNS_CERT_HOST = re.compile(r"sns\.[a-z0-9-]{3,}\.amazonaws\.com(\.cn)?")
#: seconds to wait for a certificate; SNS itself waits 15 s for our answer
CERT_TIMEOUT = 5
#: an SNS certificate is under 2 KB; more than this is not one
CERT_MAX_BYTES = 64 * 1024
#: certificates kept per process; SNS uses a handful of URLs, rotated rarely
CERT_CACHE_SIZE = 32


class SignatureRefused(Exception):
    """An SNS message is not signed as SNS signs; the text says why, for the log."""


class ForeignCertificate(SignatureRefused):
    """SigningCertURL is not an https address of Amazon SNS."""


class CertificateUnavailable(Exception):
    """SNS's certificate could not be fetched or read right now."""


def _secret() -> str:
    return str(current_app.config.get("WEBHOOK_SECRET") or "")


def _refused() -> tuple[Response, int]:
    return error_response(
        403, _("Deze webhook is niet ingesteld of de sleutel klopt niet.")
    )


def _body() -> bytes | None:
    """Return the raw body, or None when it is larger than MAX_BODY."""
    if (request.content_length or 0) > MAX_BODY:
        return None
    body = request.stream.read(MAX_BODY + 1)
    return None if len(body) > MAX_BODY else body


def _record(
    subscriber: Subscriber,
    *,
    kind: str,
    source: str,
    status: str,
    diagnostic: str,
    delivery_id: int | None = None,
) -> None:
    bounces.record(
        subscriber,
        kind=kind,
        source=source,
        now=utcnow(),
        delivery_id=delivery_id,
        status_code=status,
        diagnostic=diagnostic,
    )


def _reader(address: object) -> Subscriber | None:
    try:
        return subscriber_by_email(normalise_email(str(address or "")))
    except InvalidAddress:
        return None


@bp.post("/bounces")
@public
@csrf.exempt
def generic() -> Reply:
    """Record one bounce or complaint from a provider's signed JSON."""
    secret = _secret()
    if not secret:
        return _refused()
    body = _body()
    if body is None:
        return error_response(413, _("Het bericht is te groot."))
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = request.headers.get(SIGNATURE_HEADER, "").strip().removeprefix("sha256=")
    if not hmac.compare_digest(expected, given.lower()):
        return _refused()
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("type") not in ("bounce", "complaint"):
        return error_response(400, _("Verwacht: JSON met type bounce of complaint."))
    subscriber = _reader(data.get("email"))
    if subscriber is None:
        # Known or not, the provider should not retry: answer 200.
        return jsonify(recorded=False)
    if data["type"] == "complaint":
        kind = bounces.COMPLAINT
    else:
        kind = bounces.HARD if data.get("hard") is True else bounces.SOFT
    _record(
        subscriber,
        kind=kind,
        source="webhook",
        status=str(data.get("status") or ""),
        diagnostic=str(data.get("diagnostic") or ""),
    )
    db.session.commit()
    return jsonify(recorded=True)


# SNS signatures -----------------------------------------------------------------------


def sns_string_to_sign(envelope: dict[str, Any]) -> bytes:
    """Return the text SNS signed: "Name\\nvalue\\n" for each signed field, in order."""
    fields = SIGNED_FIELDS.get(str(envelope.get("Type")))
    if fields is None:
        raise SignatureRefused(f"unknown SNS message type {envelope.get('Type')!r}")
    text = []
    for name in fields:
        value = envelope.get(name)
        if value is None and name == "Subject":
            continue
        if not isinstance(value, str):
            raise SignatureRefused(f"SNS message without {name}")
        text.append(f"{name}\n{value}\n")
    return "".join(text).encode()


def check_signing_cert_url(url: str) -> None:
    """Refuse a SigningCertURL that is not https on an Amazon SNS host."""
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        raise ForeignCertificate(f"SigningCertURL {url!r} is not a URL") from None
    if parts.scheme != "https" or port not in (None, 443):
        raise ForeignCertificate(f"SigningCertURL {url!r} is not https")
    if not SNS_CERT_HOST.fullmatch(host):
        raise ForeignCertificate(f"SigningCertURL {url!r} is not on an SNS host")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could lead away from the host check_signing_cert_url approved.
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


def fetch_certificate(url: str) -> bytes:
    """Return the PEM certificate at an SNS address; raise OSError when it fails.

    The only network access of the SNS check, and so what tests replace.
    """
    opener = urllib.request.build_opener(_NoRedirects)
    with opener.open(url, timeout=CERT_TIMEOUT) as response:
        return bytes(response.read(CERT_MAX_BYTES + 1))


_certificates: dict[str, x509.Certificate] = {}
_certificates_lock = threading.Lock()


def _certificate(url: str) -> x509.Certificate:
    with _certificates_lock:
        known = _certificates.get(url)
    if known is not None:
        return known
    try:
        pem = fetch_certificate(url)
    except (OSError, ValueError) as error:  # URLError, HTTPError, timeouts
        raise CertificateUnavailable(f"{url}: {error}") from None
    if len(pem) > CERT_MAX_BYTES:
        raise CertificateUnavailable(f"{url}: larger than {CERT_MAX_BYTES} bytes")
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError as error:
        raise CertificateUnavailable(
            f"{url}: not a PEM certificate ({error})"
        ) from None
    with _certificates_lock:
        if len(_certificates) >= CERT_CACHE_SIZE:
            _certificates.clear()
        _certificates[url] = certificate
    return certificate


def verify_sns(envelope: dict[str, Any], now: datetime) -> None:
    """Check an SNS message's signature as AWS documents it, or raise.

    Raises SignatureRefused (ForeignCertificate for a SigningCertURL off SNS, checked
    before any fetch) or CertificateUnavailable. `now` is naive UTC.
    """
    algorithm = SIGNATURE_HASHES.get(str(envelope.get("SignatureVersion")))
    if algorithm is None:
        raise SignatureRefused(
            f"unknown SignatureVersion {envelope.get('SignatureVersion')!r}"
        )
    url = envelope.get("SigningCertURL")
    if not isinstance(url, str):
        raise SignatureRefused("SNS message without SigningCertURL")
    check_signing_cert_url(url)
    signed = sns_string_to_sign(envelope)
    try:
        signature = base64.b64decode(
            str(envelope.get("Signature") or ""), validate=True
        )
    except binascii.Error:
        raise SignatureRefused("Signature is not base64") from None
    if not signature:
        raise SignatureRefused("SNS message without Signature")
    certificate = _certificate(url)
    if not (
        certificate.not_valid_before_utc.replace(tzinfo=None)
        <= now
        <= certificate.not_valid_after_utc.replace(tzinfo=None)
    ):
        raise SignatureRefused(f"the certificate at {url} is not valid now")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureRefused(f"the certificate at {url} has no RSA key")
    try:
        key.verify(signature, signed, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise SignatureRefused("the signature does not match the message") from None


# The SES endpoint ---------------------------------------------------------------------


def _ses_authorised(secret: str) -> bool:
    given = request.args.get("secret", "")
    if request.authorization is not None:
        given = request.authorization.password or given
    return bool(given) and hmac.compare_digest(given.encode(), secret.encode())


@bp.post("/ses")
@public
@csrf.exempt
def ses() -> Reply:
    """Record the bounces and complaints of an Amazon SES notification (via SNS)."""
    secret = _secret()
    if not secret or not _ses_authorised(secret):
        return _refused()
    body = _body()
    if body is None:
        return error_response(413, _("Het bericht is te groot."))
    try:
        envelope = json.loads(body)
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict):
        return error_response(400, _("Verwacht: een SNS-bericht van Amazon SES."))
    try:
        verify_sns(envelope, utcnow())
    except ForeignCertificate as refused:
        log.warning("SES webhook refused: %s", refused)
        return error_response(
            403, _("Het certificaat van dit SNS-bericht is niet van Amazon SNS.")
        )
    except SignatureRefused as refused:
        log.warning("SES webhook refused: %s", refused)
        return error_response(
            403, _("De handtekening van dit SNS-bericht ontbreekt of klopt niet.")
        )
    except CertificateUnavailable as unavailable:
        log.warning("SES webhook: SNS certificate unavailable: %s", unavailable)
        return error_response(
            503,
            _(
                "Het certificaat van Amazon SNS is nu niet op te halen. "
                "Probeer het later opnieuw."
            ),
        )
    if envelope["Type"] == "SubscriptionConfirmation":
        # Confirming is a deliberate act of the operator, once per subscription.
        log.warning(
            "SES subscription waits for confirmation; open: %s",
            envelope.get("SubscribeURL"),
        )
        return jsonify(recorded=0)
    if envelope["Type"] != "Notification":  # UnsubscribeConfirmation
        log.warning("SES subscription ended: %s", envelope.get("TopicArn"))
        return jsonify(recorded=0)
    try:
        notice = json.loads(envelope["Message"])
    except ValueError:
        notice = None
    if not isinstance(notice, dict):
        return error_response(400, _("Verwacht: een SNS-bericht van Amazon SES."))
    recorded = _ses_notice(notice)
    db.session.commit()
    return jsonify(recorded=recorded)


def _ses_notice(notice: dict[str, Any]) -> int:
    """Record each recipient of an SES Bounce or Complaint notice; return how many."""
    kind_name = str(notice.get("notificationType") or notice.get("eventType") or "")
    mail = notice.get("mail") if isinstance(notice.get("mail"), dict) else {}
    # Our envelope sender is in mail.source: with its tag, the delivery is known.
    delivery_id = bounces.attribute(
        bounces.Report("", tag_addresses=(str(mail.get("source") or "").lower(),)),
        bounces.verp_secrets(current_app.config),
    )
    delivery = db.session.get(Delivery, delivery_id) if delivery_id else None
    if kind_name == "Bounce":
        detail = notice.get("bounce") or {}
        bounce_type = str(detail.get("bounceType", ""))
        kind = bounces.HARD if bounce_type == "Permanent" else bounces.SOFT
        people = detail.get("bouncedRecipients") or []
    elif kind_name == "Complaint":
        detail = notice.get("complaint") or {}
        if str(detail.get("complaintFeedbackType", "")).lower() == "not-spam":
            return 0
        kind = bounces.COMPLAINT
        people = detail.get("complainedRecipients") or []
    else:  # Delivery, Send, Open …: nothing to do
        return 0
    recorded = 0
    for person in people if isinstance(people, list) else []:
        if not isinstance(person, dict):
            continue
        subscriber = _reader(person.get("emailAddress"))
        if subscriber is None:
            continue
        is_tagged = delivery is not None and delivery.subscriber_id == subscriber.id
        _record(
            subscriber,
            kind=kind,
            source="ses",
            status=str(person.get("status") or ""),
            diagnostic=str(
                person.get("diagnosticCode")
                or detail.get("complaintFeedbackType")
                or ""
            ),
            delivery_id=delivery.id if is_tagged and delivery else None,
        )
        recorded += 1
    return recorded
