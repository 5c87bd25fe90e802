"""Bounce and complaint webhooks for mail providers, under /api/v1/webhooks/.

Both refuse every request (403) while WEBHOOK_SECRET is empty.

- `POST /api/v1/webhooks/bounces`: a generic signed JSON form. The header
  `X-Postbode-Signature: sha256=<hex>` carries the HMAC-SHA256 of the raw body under
  WEBHOOK_SECRET; the body is {"type": "bounce"|"complaint", "email": …,
  "hard": true|false, "status": "5.1.1", "diagnostic": …}.
- `POST /api/v1/webhooks/ses`: Amazon SES notifications through SNS. SNS signs its
  messages with a certificate that must be fetched from an AWS address; this service
  makes no such outgoing request, so it does not check that signature. Instead the
  subscription URL must carry the secret, as `?secret=WEBHOOK_SECRET` or as the
  password of basic authentication (https://any:WEBHOOK_SECRET@host/…), and only
  requests that carry it are read.

A provider names the address that bounced; the secret is what makes it trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

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
        notice = (
            json.loads(envelope["Message"])
            if isinstance(envelope, dict) and "Message" in envelope
            else envelope
        )
    except (ValueError, TypeError):
        return error_response(400, _("Verwacht: een SNS-bericht van Amazon SES."))
    if not isinstance(envelope, dict) or not isinstance(notice, dict):
        return error_response(400, _("Verwacht: een SNS-bericht van Amazon SES."))
    if envelope.get("Type") == "SubscriptionConfirmation":
        # Confirming means fetching an AWS address; the operator does that once.
        log.warning(
            "SES subscription waits for confirmation; open: %s",
            envelope.get("SubscribeURL"),
        )
        return jsonify(recorded=0)
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
