"""Fixtures for tracking: an issue with links, sent by the real engine to the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from service.db import utcnow
from service.delivery.engine import Sender
from service.delivery.models import Delivery, Send
from service.delivery.scheduler import tick
from service.editorial import operations as editorial
from service.editorial.models import User
from service.extensions import db
from service.security import Role
from service.subscribers.models import MailingList, Subscriber
from service.tracking.operations import flush
from tests.conftest import make_list, make_subscriber

#: the links an editor wrote in the article, and where the button points
CIJFERS = "https://example.org/cijfers?jaar=2026&bron=cbs"
RAPPORT = "https://example.org/rapport.pdf"
BODY = (
    f"Lees [de cijfers]({CIJFERS}) of [mail de redactie](mailto:redactie@postbode.nl)."
    f" Nog eens [de cijfers]({CIJFERS})."
)


@pytest.fixture(scope="session")
def password_hash() -> str:
    """Return a stored password for editors who never log in here (no argon2 cost)."""
    return "!not-a-password-hash"


@dataclass(frozen=True)
class Sent:
    """A send that went out to some readers, and those readers."""

    send: Send
    readers: dict[str, Subscriber]


def _editor(email: str, password_hash: str) -> User:
    user = User(
        email=email, role=Role.EDITOR, name="Redactie", password_hash=password_hash
    )
    db.session.add(user)
    db.session.flush()
    return user


def send_issue(
    app: Flask, password_hash: str, readers: dict[str, bool], now: datetime
) -> Sent:
    """Send an issue with links to readers (address -> tracking consent).

    The deliveries' sent_at is then moved an hour back, as if the readers open the
    mail an hour after it left: the burst rule would count any earlier event as a
    machine's.
    """
    app.config.update(SEND_RATE_PER_SECOND=10_000.0, SEND_CONCURRENCY=1)
    mailing_list: MailingList = make_list()
    subscribers = {}
    for email, consent in readers.items():
        subscriber = make_subscriber(email, name="Lezer", lists=[mailing_list])
        subscriber.tracking_consent = consent
        subscribers[email] = subscriber
    writer = _editor("schrijver@postbode.nl", password_hash)
    approver = _editor("eindredacteur@postbode.nl", password_hash)
    before = now - timedelta(hours=1)
    issue = editorial.plan_issue(
        year=now.year + 1,
        theme=None,
        planned_date=date(now.year + 1, 6, 5),
        contribution_deadline=None,
        title="Armoede in cijfers",
    )
    editorial.add_article(
        issue,
        writer,
        before,
        title="De cijfers",
        body=BODY,
        link_url=RAPPORT,
        button_text="Het rapport",
    )
    editorial.submit_for_review(issue, writer, before)
    editorial.approve(issue, approver, before)
    editorial.schedule(
        issue,
        send_at=now - timedelta(minutes=1),
        lists=[mailing_list],
        editor=approver,
        now=before,
    )
    db.session.commit()
    [started] = tick(now).started
    assert started.send_id is not None, started.message
    sender = Sender(app)
    try:
        while sender.step(utcnow()):
            pass
    finally:
        sender.close()
    # In Python: SQLite has no date arithmetic in an UPDATE.
    for delivery in db.session.scalars(
        select(Delivery).where(Delivery.send_id == started.send_id)
    ):
        assert delivery.sent_at is not None
        delivery.sent_at -= timedelta(hours=1)
    db.session.commit()
    send = db.session.get(Send, started.send_id)
    assert send is not None
    return Sent(send, subscribers)


def delivery_of(send: Send, subscriber: Subscriber) -> Delivery:
    """Return a reader's delivery of a send."""
    return db.session.scalars(
        select(Delivery).where(
            Delivery.send_id == send.id, Delivery.subscriber_id == subscriber.id
        )
    ).one()


def written(app: Flask) -> int:
    """Flush the app's tracking buffer now (as the background thread would)."""
    count = flush(app)
    db.session.expire_all()
    return count
