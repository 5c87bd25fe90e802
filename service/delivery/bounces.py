"""Bounces and complaints: read them (pure), attribute them, and score the reader.

Reading is pure: `read_message` caps what it accepts, `parse_report` turns a message
into a `Report` (RFC 3464 delivery status notifications, RFC 5965 ARF complaints, and
the plain-text bounces of common servers where a status code or SMTP reply shows what
happened), and `attribute` finds the delivery through the signed VERP tag. Nothing
in a report is trusted except that tag: an address named in the text is never used
to find a reader, so nobody can unsubscribe someone else by forging a bounce.

Scoring follows the list managers readers trust (Mailman, listmonk): a hard bounce
scores 1, a soft one BOUNCE_SOFT_SCORE, scores older than BOUNCE_WINDOW_DAYS (or older
than the reader's last reactivation) no longer count, and at BOUNCE_THRESHOLD the
reader is marked bounced and stops receiving. A complaint suppresses at once. One
message scores at most once: a delay warning and the final failure for the same
delivery (or a replayed bounce) add up to the highest of their scores, not the sum.

Operations change the session and flush; the caller (receiver, webhook, CLI,
sender) commits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from service.delivery import verp
from service.delivery.bounce_models import BounceEvent
from service.delivery.models import Delivery
from service.errors import Conflict
from service.extensions import db
from service.subscribers import operations as subscribers
from service.subscribers.models import (
    MembershipStatus,
    Subscriber,
    SubscriberEvent,
    SubscriberStatus,
    SuppressionReason,
)

log = logging.getLogger(__name__)

HARD = "hard"
SOFT = "soft"
COMPLAINT = "complaint"

#: a bounce is a short notice with at most the returned headers or message; anything
#: bigger is not worth reading (the SMTP receiver refuses it with 552 while receiving)
MAX_MESSAGE_BYTES = 1024 * 1024
#: real bounces nest three or four levels (report > returned message > its parts)
MAX_DEPTH = 10
#: multipart and message/* parts declared in the raw text; checked before parsing,
#: because the standard library's parser recurses once per level and a few thousand
#: levels exhaust the stack
MAX_CONTAINERS = 64
#: how much text of a part the plain-text recognisers look at
TEXT_SCAN = 64 * 1024
#: the server's words kept on the event (the column holds 500)
DIAGNOSTIC_LENGTH = 500

#: the reader's event that restarts the score (see reactivate)
REACTIVATED = "reactivated"

_CONTAINER = re.compile(rb"content-type:\s*(?:multipart|message)/", re.IGNORECASE)
# RFC 3463 enhanced status code: class 2, 4 or 5; subject 0-7. The look-arounds keep
# IP addresses and version numbers ("Exim 4.92.3", "10.5.1.1") from matching.
_ENHANCED = re.compile(r"(?<![\d.])([245])\.([0-7])\.(\d{1,3})(?![\d.])")
# A remote server's reply quoted in a text bounce: "said: 550 …", "SMTP error from
# remote mail server after RCPT TO:<…>: 550 …", "Remote host said: 554 …".
_QUOTED_REPLY = re.compile(
    r"(?:said|error|replied|reply|response)\b[^\n]{0,120}?[:>]\s*([45]\d\d)[ -]",
    re.IGNORECASE,
)
_ANGLE_ADDRESS = re.compile(r"<([^<>\s@]+@[^<>\s@]+)>")


class Rejected(Exception):
    """A received message is not read: too large, too deeply nested or malformed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Report:
    """What a message says about our mail, before anyone is trusted."""

    #: HARD, SOFT, COMPLAINT, or "" when the message is not a bounce we understand
    kind: str
    #: how it was recognised: dsn, arf, qmail, exim, exchange, domino, yahoo, text
    format: str = ""
    #: the enhanced status code (e.g. "5.1.1"), or the SMTP reply code
    status_code: str = ""
    #: the server's words
    diagnostic: str = ""
    #: the failed recipients the report names (for the log only, never trusted)
    recipients: tuple[str, ...] = ()
    #: addresses that may carry our signed tag, most reliable first
    tag_addresses: tuple[str, ...] = ()


# Reading -----------------------------------------------------------------------------


def read_message(raw: bytes) -> Message:
    """Parse a received message within the caps, or raise Rejected."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise Rejected("too large")
    if len(_CONTAINER.findall(raw)) > MAX_CONTAINERS:
        raise Rejected("too deeply nested")
    try:
        # compat32 keeps headers as plain strings: policy.default parses them lazily
        # and can raise on a malformed one long after parsing seemed to succeed.
        message = BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception:  # noqa: BLE001 - any parser failure means malformed
        raise Rejected("malformed") from None
    if not message.keys():
        raise Rejected("malformed")
    if _depth(message) > MAX_DEPTH:
        raise Rejected("too deeply nested")
    return message


def _depth(message: Message) -> int:
    """Return how deep the MIME tree goes, without recursion."""
    deepest = 0
    stack = [(message, 1)]
    while stack:
        part, level = stack.pop()
        deepest = max(deepest, level)
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend((child, level + 1) for child in payload)
    return deepest


def parse_report(message: Message, envelope_recipients: Sequence[str] = ()) -> Report:
    """Return what a received message says: bounce, complaint or nothing we know."""
    candidates = _tag_candidates(message, envelope_recipients)
    content_type = message.get_content_type()
    report_type = (message.get_param("report-type") or "").lower()
    if content_type == "multipart/report" and report_type == "feedback-report":
        return _arf(message, candidates)
    status_part = _first_part(
        message, ("message/delivery-status", "message/global-delivery-status")
    )
    if status_part is not None:
        report = _dsn(status_part, message, candidates)
        if report.kind or report.recipients:
            return report
    return _plain_text(message, candidates)


def attribute(report: Report, secrets_to_try: Sequence[str]) -> int | None:
    """Return the delivery a report is about, from the first genuine signed tag."""
    for address in report.tag_addresses:
        delivery_id = verp.delivery_of(address, list(secrets_to_try))
        if delivery_id is not None:
            return delivery_id
    return None


def verp_secrets(config: dict) -> list[str]:
    """Return the keys a tag may have been signed with, the old ones first."""
    return [*config.get("SECRET_KEY_FALLBACKS", []), config["SECRET_KEY"]]


def _walk(message: Message) -> Iterable[Message]:
    """Yield every part, depth first, without recursion (depth was capped)."""
    stack = [message]
    while stack:
        part = stack.pop()
        yield part
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(reversed(payload))


def _first_part(message: Message, content_types: tuple[str, ...]) -> Message | None:
    for part in _walk(message):
        if part.get_content_type() in content_types:
            return part
    return None


def _field_blocks(part: Message) -> list[Message]:
    """Return the header blocks of a delivery-status or feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the parser already split message/delivery-status
        return [block for block in payload if isinstance(block, Message)]
    text = part.get_payload(decode=True) or b""
    decoded = text.decode("utf-8", "replace").replace("\r\n", "\n")
    return [
        HeaderParser().parsestr(block.strip() + "\n")
        for block in re.split(r"\n\s*\n", decoded)
        if block.strip()
    ]


def _returned_headers(message: Message) -> Message | None:
    """Return the headers of our message that a report sends back, if it does."""
    for part in _walk(message):
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
        if kind in ("text/rfc822-headers", "message/global-headers"):
            text = part.get_payload(decode=True) or b""
            return HeaderParser().parsestr(text.decode("utf-8", "replace"))
    return None


def _addresses(values: Iterable[str | None]) -> list[str]:
    found = []
    for _name, address in getaddresses([str(v) for v in values if v]):
        if "@" in address:
            found.append(address.strip().lower())
    return found


def _typed_address(value: str | None) -> str:
    """Return the address of a DSN field such as "rfc822; user@example.nl"."""
    text = str(value or "")
    _kind, _, address = text.partition(";")
    return (address or text).strip().strip("<>").lower()


def _tag_candidates(message: Message, envelope: Sequence[str]) -> tuple[str, ...]:
    """Return where our signed tag may be, most reliable first.

    The envelope recipient of the bounce is our tagged address itself; mailbox
    delivery copies it into Delivered-To or X-Original-To. The returned message
    keeps our envelope sender in Return-Path (ARF reports) or X-Postfix-Sender.
    """
    found = [address.strip().strip("<>").lower() for address in envelope]
    for name in ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To"):
        found += _addresses(message.get_all(name) or [])
    found += _addresses(message.get_all("To") or [])
    for block_type in ("message/delivery-status", "message/feedback-report"):
        part = _first_part(message, (block_type,))
        if part is None:
            continue
        for block in _field_blocks(part):
            for name in ("X-Postfix-Sender", "Original-Mail-From"):
                if block.get(name):
                    found.append(_typed_address(block.get(name)))
    returned = _returned_headers(message)
    if returned is not None:
        found += _addresses(returned.get_all("Return-Path") or [])
    unique = dict.fromkeys(address for address in found if address)
    return tuple(unique)


def _status_kind(status: str, fallback: str) -> str:
    if status.startswith("5"):
        return HARD
    if status.startswith("4"):
        return SOFT
    return fallback


def _shorten(text: str) -> str:
    return " ".join(text.split())[:DIAGNOSTIC_LENGTH]


def _dsn(part: Message, message: Message, candidates: tuple[str, ...]) -> Report:
    """Read an RFC 3464 report: one block per recipient after the message's block."""
    blocks = _field_blocks(part)
    recipients, kinds, statuses, diagnostics = [], [], [], []
    for block in blocks:  # the per-message block has no Action and is passed over
        # "failed (Bad destination mailbox address)"; "failure" and "error" are
        # what a few servers write for "failed".
        action = (str(block.get("Action", "")).strip().lower().split() or [""])[0]
        status = _code_in(str(block.get("Status", "")))
        if action in ("failed", "failure", "error"):
            # The server gave up for good (RFC 3464 §2.3.3), also when the cause was
            # temporary ("4.4.7 message expired" after days of a full mailbox).
            kind = HARD
        elif action == "delayed":
            kind = SOFT
        else:  # delivered, relayed, expanded: good news, not a bounce
            continue
        recipient = _typed_address(
            block.get("Final-Recipient") or block.get("Original-Recipient")
        )
        recipients.append(recipient)
        kinds.append(kind)
        statuses.append(status)
        diagnostics.append(_typed_address_text(block.get("Diagnostic-Code")))
    if not kinds:
        return Report("", "dsn", tag_addresses=candidates)
    # Our messages have one recipient; should a report name several, the worst counts.
    worst = kinds.index(HARD) if HARD in kinds else 0
    status = statuses[worst]
    if not status:
        status = _code_in(diagnostics[worst])
    return Report(
        kind=kinds[worst],
        format="dsn",
        status_code=status,
        diagnostic=_shorten(diagnostics[worst] or _text_of(message)[:200]),
        recipients=tuple(recipients),
        tag_addresses=candidates,
    )


def _typed_address_text(value: str | None) -> str:
    """Return the text of "smtp; 550 5.1.1 …" without its type."""
    text = " ".join(str(value or "").split())
    kind, sep, rest = text.partition(";")
    return rest.strip() if sep and " " not in kind.strip() else text


def _arf(message: Message, candidates: tuple[str, ...]) -> Report:
    """Read an RFC 5965 feedback report: a complaint, unless it says "not-spam"."""
    part = _first_part(message, ("message/feedback-report",))
    blocks = _field_blocks(part) if part is not None else []
    fields: Message | dict[str, str] = blocks[0] if blocks else {}
    feedback_type = str(fields.get("Feedback-Type", "abuse")).strip().lower()
    if feedback_type == "not-spam":
        return Report("", "arf", tag_addresses=candidates)
    recipient = _typed_address(fields.get("Original-Rcpt-To"))
    return Report(
        kind=COMPLAINT,
        format="arf",
        diagnostic=_shorten(f"{feedback_type} {fields.get('User-Agent', '')}"),
        recipients=(recipient,) if recipient else (),
        tag_addresses=candidates,
    )


def _text_of(message: Message) -> str:
    """Return the first readable text of a message (not the returned message)."""
    for part in _walk(message):
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            break
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True) or b""
            charset = part.get_content_charset() or "utf-8"
            try:
                text = payload[:TEXT_SCAN].decode(charset, "replace")
            except LookupError:
                text = payload[:TEXT_SCAN].decode("utf-8", "replace")
            if part.get_content_subtype() == "html":
                text = re.sub(r"<[^>]*>", " ", text)
            return text.replace("\r\n", "\n")
    return ""


def _code_in(text: str) -> str:
    """Return the first enhanced status code, else the first quoted SMTP reply code."""
    enhanced = _ENHANCED.search(text)
    if enhanced is not None and enhanced.group(1) != "2":
        return ".".join(enhanced.groups())
    reply = _QUOTED_REPLY.search(text)
    return reply.group(1) if reply else ""


#: Non-standard bounces: (format, a sentence only that server writes, the kind it
#: means when the text names no status code). Each is from the server's own source
#: or documentation; a pattern that also matches ordinary mail does not belong here.
_KNOWN_TEXTS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    # qmail-send writes a bounce only for a permanent failure (qmail-send.c).
    ("qmail", re.compile(r"Hi\. This is the qmail-send program", re.I), HARD),
    # Exim's bounce and delay-warning texts (exim's src/deliver.c, warn_message_file).
    (
        "exim",
        re.compile(r"could not be delivered to one or more of its\s+recipients", re.I),
        HARD,
    ),
    ("exim", re.compile(r"has not yet been delivered to one or more", re.I), SOFT),
    # Exchange 5.5/2000/2003 non-delivery reports.
    (
        "exchange",
        re.compile(r"did not reach (?:some or all of )?the intended recipient", re.I),
        HARD,
    ),
    # Lotus Notes / Domino.
    (
        "domino",
        re.compile(r"not listed in (?:Domino Directory|public Name & Address)", re.I),
        HARD,
    ),
    # Yahoo's own format ("Sorry, we were unable to deliver your message").
    (
        "yahoo",
        re.compile(
            r"we were unable to deliver your message|"
            r"Unable to deliver message to the following address",
            re.I,
        ),
        HARD,
    ),
    # Postfix before DSN support, and Sendmail's "Returned mail" body.
    ("postfix", re.compile(r"This is the Postfix program at host", re.I), HARD),
    (
        "sendmail",
        re.compile(r"The original message was received at .*\n.*from ", re.I),
        HARD,
    ),
)
#: who sends bounces; a text with a status code from someone else is not one
_DAEMON = re.compile(
    r"mailer-daemon|postmaster|mail delivery (?:subsystem|system)|mail administrator",
    re.IGNORECASE,
)
#: where a text bounce starts quoting our message (qmail, Yahoo, Exim, Sendmail)
_RETURNED_COPY = re.compile(
    r"^\s*-{2,}\s*(?:Below this line is a copy|This is a copy of the message|"
    r"Original message|The original message)",
    re.IGNORECASE | re.MULTILINE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (?:status notification|failure|has failed)|"
    r"failure notice|returned mail|delivery problem|non.?delivery|"
    r"mail delivery failed|could not be delivered",
    re.IGNORECASE,
)


def _plain_text(message: Message, candidates: tuple[str, ...]) -> Report:
    """Recognise a bounce in the text of a server that does not write RFC 3464."""
    # Only the notice itself: our own message, quoted below it, says nothing.
    text = _RETURNED_COPY.split(_text_of(message), maxsplit=1)[0]
    for name, pattern, kind in _KNOWN_TEXTS:
        found = pattern.search(text)
        if found:
            code = _code_in(text)
            return Report(
                kind=_status_kind(code, kind),
                format=name,
                status_code=code,
                diagnostic=_diagnostic_line(text, code, found.group(0)),
                recipients=tuple(
                    dict.fromkeys(a.lower() for a in _ANGLE_ADDRESS.findall(text))
                )[:5],
                tag_addresses=candidates,
            )
    # Anyone else: only a message from a mail daemon about failed delivery that names
    # a status code, so an out-of-office reply or a reader's answer never counts.
    sender = str(message.get("From", ""))
    subject = str(message.get("Subject", ""))
    code = _code_in(text)
    if code and _DAEMON.search(sender) and _BOUNCE_SUBJECT.search(subject):
        return Report(
            kind=_status_kind(code, ""),
            format="text",
            status_code=code,
            diagnostic=_diagnostic_line(text, code),
            tag_addresses=candidates,
        )
    return Report("", tag_addresses=candidates)


def _diagnostic_line(text: str, code: str, sentence: str = "") -> str:
    """Return the line that carries the status code (or the known sentence)."""
    for wanted in (code, sentence.splitlines()[0] if sentence else ""):
        for line in text.splitlines() if wanted else []:
            if wanted in line:
                return _shorten(line)
    return _shorten(text[:300])


# Scoring -----------------------------------------------------------------------------


def window_start(now: datetime) -> datetime:
    """Return the moment before which scores no longer count."""
    return now - timedelta(days=current_app.config["BOUNCE_WINDOW_DAYS"])


def _score_starts(subscriber_id: int, now: datetime) -> datetime:
    reactivated = db.session.scalar(
        select(func.max(SubscriberEvent.created_at)).where(
            SubscriberEvent.subscriber_id == subscriber_id,
            SubscriberEvent.kind == REACTIVATED,
        )
    )
    start = window_start(now)
    return max(start, reactivated) if reactivated else start


def score_of(subscriber: Subscriber, now: datetime) -> float:
    """Return the reader's bounce score: what counts within the window."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(BounceEvent.score), 0.0)).where(
            BounceEvent.subscriber_id == subscriber.id,
            BounceEvent.created_at >= _score_starts(subscriber.id, now),
        )
    )
    return float(total or 0.0)


def events_of(subscriber: Subscriber, limit: int = 100) -> list[BounceEvent]:
    """Return the reader's bounce log, newest first."""
    query = (
        select(BounceEvent)
        .where(BounceEvent.subscriber_id == subscriber.id)
        .order_by(BounceEvent.created_at.desc(), BounceEvent.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def _kind_score(kind: str) -> float:
    if kind == HARD:
        return 1.0
    if kind == SOFT:
        return float(current_app.config["BOUNCE_SOFT_SCORE"])
    return 0.0


def record(
    subscriber: Subscriber,
    *,
    kind: str,
    source: str,
    now: datetime,
    delivery_id: int | None = None,
    status_code: str = "",
    diagnostic: str = "",
) -> BounceEvent:
    """Record a bounce or complaint and act on it: score, mark bounced, suppress."""
    score = _kind_score(kind)
    if delivery_id is not None and score:
        # One message bounces once: later reports about it (a delay warning, then
        # the failure; or the same bounce replayed) only add what exceeds the first.
        counted = db.session.scalar(
            select(func.coalesce(func.sum(BounceEvent.score), 0.0)).where(
                BounceEvent.delivery_id == delivery_id
            )
        )
        score = max(0.0, score - float(counted or 0.0))
    event = BounceEvent(
        subscriber_id=subscriber.id,
        delivery_id=delivery_id,
        kind=kind,
        score=score,
        source=source[:20],
        status_code=status_code[:20],
        diagnostic=_shorten(diagnostic),
        created_at=now,
    )
    db.session.add(event)
    db.session.flush()
    if kind == COMPLAINT:
        _complained(subscriber, now)
    elif score:
        _maybe_bounced(subscriber, now)
    db.session.flush()
    return event


def _maybe_bounced(subscriber: Subscriber, now: datetime) -> None:
    score = score_of(subscriber, now)
    if score < current_app.config["BOUNCE_THRESHOLD"]:
        return
    if subscriber.status != SubscriberStatus.ACTIVE:
        return  # pending, unsubscribed or complained readers get no issues anyway
    subscriber.move_to(SubscriberStatus.BOUNCED)
    subscribers.record_event(subscriber, "bounced", now, score=score)
    log.info("subscriber #%s marked bounced (score %.1f)", subscriber.id, score)


def _complained(subscriber: Subscriber, now: datetime) -> None:
    """Stop all mail to a reader who reported ours as spam, for good."""
    if subscriber.status == SubscriberStatus.ACTIVE:
        subscriber.move_to(SubscriberStatus.COMPLAINED)
    # A complaint withdraws consent for every list; the suppression keeps sign-up,
    # import and the editors from bringing the address back.
    subscribers.unsubscribe(subscriber, now, via="complaint")
    subscribers.suppress(subscriber.email, SuppressionReason.COMPLAINED)
    subscribers.record_event(subscriber, "complained", now)
    log.info("subscriber #%s complained; address suppressed", subscriber.id)


def record_report(
    report: Report, delivery_id: int, now: datetime
) -> BounceEvent | None:
    """Record a parsed, attributed report; None when its delivery is gone."""
    delivery = db.session.get(Delivery, delivery_id)
    subscriber = (
        db.session.get(Subscriber, delivery.subscriber_id) if delivery else None
    )
    if delivery is None or subscriber is None:
        log.info("bounce for delivery %s, which no longer exists", delivery_id)
        return None
    return record(
        subscriber,
        kind=report.kind,
        source=report.format or "dsn",
        now=now,
        delivery_id=delivery_id,
        status_code=report.status_code,
        diagnostic=report.diagnostic,
    )


def record_refusal(
    delivery_id: int, subscriber_id: int, reply: str, now: datetime
) -> None:
    """Record a 5xx reply during sending as a hard bounce for the reader."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:  # erased while the message was in flight
        return
    code = _code_in(reply) or reply[:3]
    record(
        subscriber,
        kind=HARD,
        source="smtp",
        now=now,
        delivery_id=delivery_id,
        status_code=code,
        diagnostic=reply,
    )


def reactivate(subscriber: Subscriber, now: datetime) -> None:
    """Let a bounced reader receive again, with a fresh score.

    Raises Conflict when the reader is not bounced, or the address was suppressed
    (a complaint or erasure is never undone here).
    """
    if subscriber.status != SubscriberStatus.BOUNCED:
        raise Conflict(_("Alleen een onbestelbare lezer kan weer actief worden."))
    if subscribers.is_suppressed(subscriber.email):
        raise Conflict(_("Dit adres is geblokkeerd en krijgt geen mail meer."))
    on_a_list = any(m.status == MembershipStatus.ACTIVE for m in subscriber.memberships)
    subscriber.move_to(
        SubscriberStatus.ACTIVE if on_a_list else SubscriberStatus.UNSUBSCRIBED
    )
    # The score counts from this event on (see _score_starts).
    subscribers.record_event(subscriber, REACTIVATED, now)
    db.session.flush()
