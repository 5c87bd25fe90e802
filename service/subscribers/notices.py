"""The mails a reader gets about their subscription: confirm, welcome."""

from __future__ import annotations

from flask import current_app

from service.emails import render_mail
from service.mail.mailer import mailer
from service.organisation import current_identity
from service.subscribers import tokens
from service.subscribers.models import MembershipStatus, Subscriber
from service.urls import absolute_url, token_url


def keys() -> list[str]:
    """Return the signing keys: the fallbacks, then SECRET_KEY."""
    config = current_app.config
    return tokens.signing_keys(config["SECRET_KEY"], config["SECRET_KEY_FALLBACKS"])


def preferences_url(subscriber: Subscriber) -> str:
    """Return the reader's never-expiring preferences link."""
    return preferences_url_for(subscriber.uid)


def unsubscribe_url(subscriber: Subscriber, list_id: int | None = None) -> str:
    """Return the reader's never-expiring unsubscribe link (one list, or all)."""
    return unsubscribe_url_for(subscriber.uid, list_id)


def preferences_url_for(uid: str) -> str:
    """Return the preferences link for the reader with this public id."""
    token = tokens.make_token(keys(), tokens.PREFERENCES, {"u": uid})
    return token_url("subscribers.preferences", token)


def unsubscribe_url_for(uid: str, list_id: int | None = None) -> str:
    """Return the unsubscribe link for the reader with this public id."""
    payload: dict[str, object] = {"u": uid}
    if list_id is not None:
        payload["l"] = list_id
    token = tokens.make_token(keys(), tokens.UNSUBSCRIBE, payload)
    return token_url("subscribers.unsubscribe", token)


def confirm_url(subscriber: Subscriber) -> str:
    """Return the single-use confirmation link for the reader's current nonce."""
    payload = {"u": subscriber.uid, "n": subscriber.confirmation_nonce}
    token = tokens.make_token(keys(), tokens.CONFIRM, payload)
    return absolute_url("subscribers.confirm", token=token)


def _send(subscriber: Subscriber, template: str, **context: object) -> None:
    identity = current_identity()
    rendered = render_mail(
        template,
        subscriber.locale,
        {
            "organisation": identity,
            "subscriber": {"name": subscriber.name, "email": subscriber.email},
            "preferences_url": preferences_url(subscriber),
            **context,
        },
    )
    mailer.send_transactional(
        rendered,
        to=subscriber.email,
        to_name=subscriber.name,
        sender_name=identity.name,
    )


def send_confirmation(subscriber: Subscriber) -> None:
    """Mail the double opt-in link for the reader's pending lists."""
    pending = [
        m.mailing_list.name
        for m in subscriber.memberships
        if m.status == MembershipStatus.PENDING
    ]
    days = current_app.config["CONFIRM_TOKEN_MAX_AGE_DAYS"]
    _send(
        subscriber,
        "confirm",
        confirm_url=confirm_url(subscriber),
        lists=pending,
        days=days,
    )


def send_welcome(subscriber: Subscriber, list_names: list[str]) -> None:
    """Mail a short welcome after confirmation, with the links to change or leave."""
    _send(
        subscriber,
        "welcome",
        lists=list_names,
        unsubscribe_url=unsubscribe_url(subscriber),
    )
