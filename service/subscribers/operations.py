"""The rules of a reader's life: subscribe, confirm, change, leave, export, erase.

Operations change the session and flush; the caller (view, CLI, API) commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from blinker import Namespace
from flask_babel import gettext as _
from sqlalchemy import Select, and_, func, or_, select

from service.errors import DomainError, NotFound
from service.extensions import db
from service.subscribers.addresses import InvalidAddress, email_hash, normalise_email
from service.subscribers.consent import CURRENT_VERSION, consent_text, text_hash
from service.subscribers.models import (
    ConsentMethod,
    ConsentRecord,
    MailingList,
    Membership,
    MembershipStatus,
    Subscriber,
    SubscriberEvent,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
)

#: at most one confirmation mail per address per this period
CONFIRMATION_INTERVAL = timedelta(hours=1)
NAME_LIMIT = 200

signals = Namespace()
#: sent with the subscriber before erasure; higher layers delete what names them
subscriber_erasing = signals.signal("subscriber-erasing")
#: sent with the subscriber on a data request; receivers return {"section": data}
personal_data_requested = signals.signal("personal-data-requested")


class InvalidEmail(DomainError):
    """The address typed is not a usable e-mail address."""


def parse_email(raw: str, field: str = "email") -> str:
    """Return the normalised address, or raise InvalidEmail with a clear sentence."""
    try:
        return normalise_email(raw)
    except InvalidAddress:
        raise InvalidEmail(
            _("Dit is geen geldig e-mailadres. Controleer het en probeer het opnieuw."),
            field=field,
        ) from None


def clean_name(raw: str | None) -> str:
    """Return a name on one line, without control characters, at most 200 long."""
    text = " ".join((raw or "").replace("\x00", " ").split())
    return text[:NAME_LIMIT]


def record_event(
    subscriber: Subscriber, kind: str, now: datetime, **detail: Any
) -> None:
    """Add a line to the reader's own history."""
    subscriber.events.append(SubscriberEvent(kind=kind, detail=detail, created_at=now))


def is_suppressed(normalised_email: str) -> bool:
    """Tell whether an address was erased or suppressed and may not come back."""
    digest = email_hash(normalised_email)
    return (
        db.session.scalar(select(Suppression.id).filter_by(email_hash=digest))
        is not None
    )


def suppress(normalised_email: str, reason: SuppressionReason) -> None:
    """Keep the hash of an address so it is never mailed or imported again."""
    if not is_suppressed(normalised_email):
        db.session.add(
            Suppression(email_hash=email_hash(normalised_email), reason=reason)
        )


def public_lists() -> list[MailingList]:
    """Return the lists a reader may choose on the signup page, in order."""
    query = (
        select(MailingList)
        .filter_by(is_public=True)
        .order_by(MailingList.position, MailingList.name)
    )
    return list(db.session.scalars(query))


def find_subscriber(uid: str) -> Subscriber:
    """Return the subscriber a link points to, or NotFound."""
    subscriber = db.session.scalar(select(Subscriber).filter_by(uid=uid))
    if subscriber is None:
        raise NotFound(_("Wij kennen dit adres niet (meer). Misschien is het gewist."))
    return subscriber


def subscriber_by_email(normalised_email: str) -> Subscriber | None:
    """Return the subscriber with this (normalised) address, if any."""
    return db.session.scalar(select(Subscriber).filter_by(email=normalised_email))


def _consent_record(
    subscriber: Subscriber,
    mailing_list: MailingList,
    *,
    shown_text: str,
    source: str,
    method: ConsentMethod,
    now: datetime,
    ip: str | None = None,
    attested_by: str = "",
) -> ConsentRecord:
    record = ConsentRecord(
        list_id=mailing_list.id,
        list_name=mailing_list.name,
        text_version=CURRENT_VERSION,
        text_hash=text_hash(shown_text),
        source=source[:500],
        method=method,
        attested_by=attested_by,
        ip=ip,
        requested_at=now,
    )
    subscriber.consent_records.append(record)
    return record


def _membership(
    subscriber: Subscriber, mailing_list: MailingList, now: datetime
) -> Membership:
    membership = subscriber.membership_of(mailing_list)
    if membership is None:
        membership = Membership(mailing_list=mailing_list, created_at=now)
        subscriber.memberships.append(membership)
    return membership


@dataclass(frozen=True)
class SignupOutcome:
    """What a signup led to; the page says the same thing in every case."""

    subscriber: Subscriber | None
    send_confirmation: bool


def request_subscription(
    *,
    email: str,
    name: str,
    lists: Sequence[MailingList],
    locale: str,
    org_name: str,
    source: str,
    now: datetime,
    ip: str | None = None,
    tracking_consent: bool | None = None,
) -> SignupOutcome:
    """Record a signup for public lists as pending and say whether to mail a link.

    The answer to the person is the same whether or not the address is known,
    suppressed or already confirmed, so the page cannot be used to probe addresses.
    `tracking_consent` is the personal-tracking choice when the page offered it
    (None: not offered). It applies only to a reader who is not active yet: the
    signup page proves no address, so it cannot change a confirmed reader's choice
    (that is what the preferences page, reached from their own mail, is for).
    """
    address = parse_email(email)
    chosen = [item for item in lists if item.is_public]
    if not chosen:
        raise DomainError(_("Kies ten minste één nieuwsbrief."), field="lists")
    if is_suppressed(address):
        return SignupOutcome(None, send_confirmation=False)

    subscriber = subscriber_by_email(address)
    if subscriber is None:
        subscriber = Subscriber(email=address, locale=locale, created_at=now)
        db.session.add(subscriber)
    if subscriber.status in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED):
        return SignupOutcome(None, send_confirmation=False)
    if name and not subscriber.name:
        subscriber.name = clean_name(name)

    shown = consent_text(org_name, locale)
    waiting = False
    for mailing_list in chosen:
        membership = _membership(subscriber, mailing_list, now)
        if membership.status == MembershipStatus.ACTIVE:
            continue
        membership.status = MembershipStatus.PENDING
        _consent_record(
            subscriber,
            mailing_list,
            shown_text=shown,
            source=source,
            method=ConsentMethod.DOUBLE_OPT_IN,
            now=now,
            ip=ip,
        )
        waiting = True
    if subscriber.status == SubscriberStatus.UNSUBSCRIBED and waiting:
        subscriber.move_to(SubscriberStatus.PENDING)
    record_event(
        subscriber, "subscribed", now, lists=[m.slug for m in chosen], source=source
    )
    if tracking_consent is not None and subscriber.status != SubscriberStatus.ACTIVE:
        _set_tracking_consent(subscriber, tracking_consent, now, via="signup")
    db.session.flush()

    recently = subscriber.confirmation_sent_at and (
        now - subscriber.confirmation_sent_at < CONFIRMATION_INTERVAL
    )
    if not waiting or recently:
        return SignupOutcome(subscriber, send_confirmation=False)
    subscriber.confirmation_nonce = secrets.token_urlsafe(12)
    subscriber.confirmation_sent_at = now
    return SignupOutcome(subscriber, send_confirmation=True)


def renew_confirmation(subscriber: Subscriber, now: datetime) -> bool:
    """Prepare a new confirmation link; False within the hourly limit."""
    pending = [
        m for m in subscriber.memberships if m.status == MembershipStatus.PENDING
    ]
    if not pending:
        return False
    if subscriber.confirmation_sent_at and (
        now - subscriber.confirmation_sent_at < CONFIRMATION_INTERVAL
    ):
        return False
    subscriber.confirmation_nonce = secrets.token_urlsafe(12)
    subscriber.confirmation_sent_at = now
    return True


class LinkAlreadyUsed(DomainError):
    """The confirmation link was used before, or a newer one replaced it."""

    status = 409


def confirm_subscription(
    subscriber: Subscriber, nonce: str, now: datetime
) -> list[str]:
    """Activate a reader's pending lists; return the names of those confirmed."""
    if not subscriber.confirmation_nonce or not secrets.compare_digest(
        subscriber.confirmation_nonce, nonce
    ):
        raise LinkAlreadyUsed(
            _("Deze bevestigingslink is al gebruikt of vervangen door een nieuwere.")
        )
    confirmed = []
    for membership in subscriber.memberships:
        if membership.status != MembershipStatus.PENDING:
            continue
        membership.status = MembershipStatus.ACTIVE
        membership.confirmed_at = now
        confirmed.append(membership.mailing_list)
    confirmed_ids = {item.id for item in confirmed}
    for record in subscriber.consent_records:
        if record.list_id in confirmed_ids and record.confirmed_at is None:
            if record.withdrawn_at is None:
                record.confirmed_at = now
                record.confirmation_method = "link"
    subscriber.confirmation_nonce = None
    if confirmed:
        subscriber.move_to(SubscriberStatus.ACTIVE)
    record_event(subscriber, "confirmed", now, lists=[m.slug for m in confirmed])
    db.session.flush()
    return [item.name for item in confirmed]


def update_preferences(
    subscriber: Subscriber,
    *,
    name: str,
    lists: Sequence[MailingList],
    locale: str,
    org_name: str,
    source: str,
    now: datetime,
    tracking_consent: bool | None = None,
) -> None:
    """Change name, language, lists (and the tracking choice) from the preferences page.

    The page is reached through a signed link from a mail to this address, which
    proves the address; lists added there are active at once, with consent recorded.
    `tracking_consent` is None when the page did not offer the choice.
    """
    subscriber.name = clean_name(name)
    subscriber.locale = locale
    wanted = {item.id for item in lists}
    shown = consent_text(org_name, locale)
    for mailing_list in public_lists():
        membership = subscriber.membership_of(mailing_list)
        is_on = membership is not None and membership.status == MembershipStatus.ACTIVE
        if mailing_list.id in wanted and not is_on:
            membership = _membership(subscriber, mailing_list, now)
            membership.status = MembershipStatus.ACTIVE
            membership.confirmed_at = now
            record = _consent_record(
                subscriber,
                mailing_list,
                shown_text=shown,
                source=source,
                method=ConsentMethod.DOUBLE_OPT_IN,
                now=now,
            )
            record.confirmed_at = now
            record.confirmation_method = "preferences"
        elif mailing_list.id not in wanted and is_on and membership is not None:
            _leave(subscriber, membership, now)
    _settle_status(subscriber)
    record_event(subscriber, "preferences", now, lists=sorted(wanted))
    if tracking_consent is not None and tracking_consent != subscriber.tracking_consent:
        _set_tracking_consent(subscriber, tracking_consent, now, via="preferences")
    db.session.flush()


def _set_tracking_consent(
    subscriber: Subscriber, given: bool, now: datetime, *, via: str
) -> None:
    """Set the personal-tracking choice and keep it in the reader's history."""
    subscriber.tracking_consent = given
    record_event(subscriber, "tracking-consent", now, given=given, via=via)


def _leave(subscriber: Subscriber, membership: Membership, now: datetime) -> None:
    membership.status = MembershipStatus.UNSUBSCRIBED
    membership.unsubscribed_at = now
    for record in subscriber.consent_records:
        if record.list_id == membership.list_id and record.withdrawn_at is None:
            record.withdrawn_at = now


def _settle_status(subscriber: Subscriber) -> None:
    statuses = {m.status for m in subscriber.memberships}
    if MembershipStatus.ACTIVE in statuses:
        if subscriber.status in (
            SubscriberStatus.PENDING,
            SubscriberStatus.UNSUBSCRIBED,
        ):
            subscriber.move_to(SubscriberStatus.ACTIVE)
    elif subscriber.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
        if MembershipStatus.PENDING not in statuses:
            subscriber.move_to(SubscriberStatus.UNSUBSCRIBED)


def unsubscribe(
    subscriber: Subscriber,
    now: datetime,
    *,
    list_id: int | None = None,
    via: str = "link",
) -> list[str]:
    """Take a reader off one list (or all); repeating it changes nothing.

    Returns the names of the lists left by this call. The history names each list
    by id, and by the name it had then, so it reads well after a rename or deletion.
    """
    left: list[MailingList] = []
    for membership in subscriber.memberships:
        if list_id is not None and membership.list_id != list_id:
            continue
        if membership.status == MembershipStatus.UNSUBSCRIBED:
            continue
        _leave(subscriber, membership, now)
        left.append(membership.mailing_list)
    if list_id is None and subscriber.status not in (
        SubscriberStatus.BOUNCED,
        SubscriberStatus.COMPLAINED,
    ):
        subscriber.move_to(SubscriberStatus.UNSUBSCRIBED)
    else:
        _settle_status(subscriber)
    if left:
        lists = [{"id": item.id, "name": item.name} for item in left]
        record_event(subscriber, "unsubscribed", now, lists=lists, via=via)
    db.session.flush()
    return [item.name for item in left]


def lists_left(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the lists an "unsubscribed" event names, as {"id", "name"} each.

    Events written before the ids were kept name their lists only (a list of
    names); their id is None rather than guessed from a name that may have changed.
    """
    return [
        item if isinstance(item, dict) else {"id": None, "name": str(item)}
        for item in detail.get("lists") or []
    ]


def _event_detail(event: SubscriberEvent) -> dict[str, Any]:
    """Return an event's detail for the reader, older forms in today's shape."""
    detail = dict(event.detail or {})
    if event.kind == "unsubscribed":
        detail["lists"] = lists_left(detail)
    return detail


def personal_data(subscriber: Subscriber) -> dict[str, Any]:
    """Return everything we hold about a reader (GDPR art. 15 data download)."""

    def moment(value: datetime | None) -> str | None:
        return value.isoformat() + "Z" if value else None

    data: dict[str, Any] = {
        "profile": {
            "email": subscriber.email,
            "name": subscriber.name,
            "status": str(subscriber.status),
            "locale": subscriber.locale,
            "province": subscriber.province,
            "attributes": subscriber.attributes,
            "created_at": moment(subscriber.created_at),
        },
        "memberships": [
            {
                "list": m.mailing_list.name,
                "status": str(m.status),
                "created_at": moment(m.created_at),
                "confirmed_at": moment(m.confirmed_at),
                "unsubscribed_at": moment(m.unsubscribed_at),
            }
            for m in subscriber.memberships
        ],
        "consent_records": [
            {
                "list": r.list_name,
                "text_version": r.text_version,
                "text_sha256": r.text_hash,
                "source": r.source,
                "method": str(r.method),
                "attested_by": r.attested_by,
                "ip": r.ip,
                "requested_at": moment(r.requested_at),
                "confirmed_at": moment(r.confirmed_at),
                "confirmation_method": r.confirmation_method,
                "withdrawn_at": moment(r.withdrawn_at),
            }
            for r in subscriber.consent_records
        ],
        "events": [
            {"kind": e.kind, "at": moment(e.created_at), "detail": _event_detail(e)}
            for e in subscriber.events
        ],
    }
    for _receiver, section in personal_data_requested.send(subscriber):
        if section:
            data.update(section)
    return data


def erase_subscriber(subscriber: Subscriber) -> None:
    """Remove a reader and every row that names them; keep only a hashed suppression."""
    subscriber_erasing.send(subscriber)
    suppress(subscriber.email, SuppressionReason.ERASED)
    db.session.delete(subscriber)
    db.session.flush()


def active_count(mailing_list: MailingList) -> int:
    """Return how many confirmed readers a list has."""
    query = (
        select(func.count())
        .select_from(Membership)
        .filter_by(list_id=mailing_list.id, status=MembershipStatus.ACTIVE)
    )
    return db.session.scalar(query) or 0


def lists_by_ids(ids: Iterable[int]) -> list[MailingList]:
    """Return the lists with these ids (unknown ids are ignored)."""
    wanted = [int(i) for i in ids]
    if not wanted:
        return []
    return list(
        db.session.scalars(select(MailingList).where(MailingList.id.in_(wanted)))
    )


# Editors' operations: add by hand, find ---------------------------------------------


class NotAddable(DomainError):
    """The address may not be (re)added: erased, suppressed, bounced or complained."""

    status = 409


def add_to_lists(
    subscriber: Subscriber,
    lists: Sequence[MailingList],
    *,
    confirmed: bool,
    source: str,
    method: ConsentMethod,
    attested_by: str,
    org_name: str,
    now: datetime,
) -> SignupOutcome:
    """Put a known reader on lists, active when consent is attested, else pending.

    Every list joined gets its own consent record naming who attested it. A pending
    list gets a confirmation link under the same hourly limit as the signup page.
    """
    shown = consent_text(org_name, subscriber.locale)
    joined = False
    for mailing_list in lists:
        membership = _membership(subscriber, mailing_list, now)
        if membership.status == MembershipStatus.ACTIVE:
            continue
        if membership.status == MembershipStatus.PENDING and not confirmed:
            continue
        record = _consent_record(
            subscriber,
            mailing_list,
            shown_text=shown,
            source=source,
            method=method,
            now=now,
            attested_by=attested_by,
        )
        if confirmed:
            membership.status = MembershipStatus.ACTIVE
            membership.confirmed_at = now
            membership.unsubscribed_at = None
            record.confirmed_at = now
            record.confirmation_method = str(method)
        else:
            membership.status = MembershipStatus.PENDING
        joined = True
    if not joined:
        return SignupOutcome(subscriber, send_confirmation=False)
    if subscriber.status == SubscriberStatus.UNSUBSCRIBED and not confirmed:
        subscriber.move_to(SubscriberStatus.PENDING)
    _settle_status(subscriber)
    record_event(
        subscriber,
        "added",
        now,
        lists=[m.slug for m in lists],
        by=attested_by,
        confirmed=confirmed,
    )
    db.session.flush()
    return SignupOutcome(
        subscriber,
        send_confirmation=not confirmed and renew_confirmation(subscriber, now),
    )


def add_subscriber(
    *,
    email: str,
    name: str,
    province: str,
    lists: Sequence[MailingList],
    locale: str,
    consent_source: str | None,
    attested_by: str,
    org_name: str,
    now: datetime,
) -> SignupOutcome:
    """Add a reader by hand: active with the editor's attestation, else pending.

    Raises NotAddable for an erased or suppressed address, and for a reader whose
    mail bounced or who complained: those never come back through an editor.
    """
    address = parse_email(email)
    if not lists:
        raise DomainError(_("Kies ten minste één lijst."), field="lists")
    if is_suppressed(address):
        raise NotAddable(
            _(
                "Dit adres is gewist of geblokkeerd en kan niet opnieuw worden "
                "toegevoegd."
            ),
            field="email",
        )
    subscriber = subscriber_by_email(address)
    if subscriber is None:
        subscriber = Subscriber(
            email=address,
            locale=locale,
            status=SubscriberStatus.PENDING,
            attributes={},
            created_at=now,
        )
        db.session.add(subscriber)
    elif subscriber.status in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED):
        raise NotAddable(
            _("Mail aan dit adres kwam niet aan of werd als spam gemeld."),
            field="email",
        )
    if name:
        subscriber.name = clean_name(name)
    if province:
        subscriber.province = " ".join(province.split())[:40]
        subscriber.attributes = {**(subscriber.attributes or {}), "province": province}
    confirmed = consent_source is not None
    return add_to_lists(
        subscriber,
        lists,
        confirmed=confirmed,
        source=consent_source if confirmed else "admin",
        method=ConsentMethod.ADMIN if confirmed else ConsentMethod.DOUBLE_OPT_IN,
        attested_by=attested_by,
        org_name=org_name,
        now=now,
    )


@dataclass(frozen=True)
class SubscriberFilter:
    """What an editor searches for; the same filter serves the list and the export."""

    q: str = ""
    status: str = ""
    list_id: int | None = None
    province: str = ""


#: statuses a reader can have on one list; the others only exist for the whole person
_MEMBERSHIP_STATUSES = {str(s) for s in MembershipStatus}


def search_subscribers(wanted: SubscriberFilter) -> Select[tuple[Subscriber]]:
    """Return the query for readers matching a filter, newest first.

    With a list chosen, pending/active/unsubscribed mean the status on that list.
    """
    query = select(Subscriber).order_by(Subscriber.created_at.desc(), Subscriber.id)
    term = wanted.q.strip()
    if term:
        # Addresses are stored lower-case; names are matched without case, on
        # SQLite and PostgreSQL alike (icontains compiles to lower() LIKE lower()).
        query = query.where(
            or_(
                Subscriber.email.contains(term.lower(), autoescape=True),
                Subscriber.name.icontains(term, autoescape=True),
            )
        )
    on_list = wanted.list_id is not None
    if on_list and wanted.status in _MEMBERSHIP_STATUSES:
        query = query.where(
            Subscriber.memberships.any(
                and_(
                    Membership.list_id == wanted.list_id,
                    Membership.status == wanted.status,
                )
            )
        )
    else:
        if on_list:
            query = query.where(
                Subscriber.memberships.any(Membership.list_id == wanted.list_id)
            )
        if wanted.status:
            query = query.where(Subscriber.status == wanted.status)
    if wanted.province:
        query = query.where(Subscriber.province == wanted.province)
    return query


def provinces_in_use() -> list[str]:
    """Return the provinces readers have, for the filter."""
    query = (
        select(Subscriber.province)
        .where(Subscriber.province != "")
        .distinct()
        .order_by(Subscriber.province)
    )
    return list(db.session.scalars(query))


def all_lists() -> list[MailingList]:
    """Return every list, newsletters and contact lists, in order."""
    query = select(MailingList).order_by(MailingList.position, MailingList.name)
    return list(db.session.scalars(query))


def list_by_slug(slug: str) -> MailingList:
    """Return the list with this slug, or NotFound."""
    mailing_list = db.session.scalar(select(MailingList).filter_by(slug=slug))
    if mailing_list is None:
        raise NotFound(_("Er is geen lijst %(slug)s.", slug=slug))
    return mailing_list
