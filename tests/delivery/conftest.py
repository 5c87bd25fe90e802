"""Fixtures for the delivery engine: a misbehaving SMTP server, editors, audiences,
a started send, and senders driven batch by batch at a chosen moment."""

from __future__ import annotations

from collections.abc import Iterator
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
from service.editorial.models import Issue, User
from service.extensions import db
from service.subscribers.models import (
    MailingList,
    Membership,
    MembershipStatus,
    Subscriber,
    SubscriberStatus,
)
from tests.conftest import make_list, make_user
from tests.delivery.faults import FaultySMTP

#: the public address of the site in these tests: List-Unsubscribe must be https
BASE_URL = "https://postbode.example.nl"
#: readers live here; editors at postbode.nl, so faults can spare the editors' mail
READER_DOMAIN = "example.nl"


@pytest.fixture
def faulty(request: pytest.FixtureRequest) -> Iterator[FaultySMTP]:
    """A real SMTP server on a free loopback port that misbehaves on request.

    It offers PIPELINING unless a test asks otherwise with
    `@pytest.mark.parametrize("faulty", [False], indirect=True)`.
    """
    server = FaultySMTP(pipelining=getattr(request, "param", True)).start()
    yield server
    server.stop()


@pytest.fixture
def sending_app(app: Flask, faulty: FaultySMTP) -> Flask:
    """`app` sending every message (bulk and editors' mail) to `faulty`, fast."""
    app.config.update(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=faulty.port,
        BASE_URL=BASE_URL,
        # The tests are about outcomes, not pacing; the rate is its own concern.
        SEND_RATE_PER_SECOND=10_000.0,
        SEND_CONCURRENCY=2,
    )
    return app


@dataclass(frozen=True)
class Editors:
    """Two editors: one writes an issue, the other approves it (four eyes)."""

    writer: User
    approver: User


@pytest.fixture
def editors(sending_app: Flask) -> Editors:
    """Two editors, who also receive the reports and pause notices."""
    return Editors(
        make_user("schrijver@postbode.nl"), make_user("eindredacteur@postbode.nl")
    )


def reader_address(number: int) -> str:
    """Return the address of reader `number`."""
    return f"lezer{number:04d}@{READER_DOMAIN}"


def make_audience(count: int, mailing_list: MailingList | None = None) -> MailingList:
    """Add `count` active readers on a list (made when not given) in one flush."""
    mailing_list = mailing_list or make_list()
    for number in range(count):
        subscriber = Subscriber(
            email=reader_address(number), status=SubscriberStatus.ACTIVE
        )
        subscriber.memberships.append(
            Membership(mailing_list=mailing_list, status=MembershipStatus.ACTIVE)
        )
        db.session.add(subscriber)
    db.session.commit()
    return mailing_list


def schedule_issue(editors: Editors, lists: list[MailingList], now: datetime) -> Issue:
    """Write, approve and schedule an issue to go out just before `now`."""
    before = now - timedelta(hours=1)
    issue = editorial.plan_issue(
        year=now.year + 1,
        theme=None,
        planned_date=date(now.year + 1, 6, 5),
        contribution_deadline=None,
        title="Armoede in cijfers",
    )
    issue.preheader = "Wat de nieuwe cijfers zeggen"
    editorial.add_article(
        issue,
        editors.writer,
        before,
        title="De cijfers",
        body="Eén op de twintig huishoudens leeft onder de armoedegrens.",
    )
    editorial.submit_for_review(issue, editors.writer, before)
    editorial.approve(issue, editors.approver, before)
    editorial.schedule(
        issue,
        send_at=now - timedelta(minutes=1),
        lists=lists,
        editor=editors.approver,
        now=before,
    )
    db.session.commit()
    return issue


def start_send(editors: Editors, lists: list[MailingList], now: datetime) -> Send:
    """Schedule an issue for just before `now` and let the clock start it at `now`."""
    schedule_issue(editors, lists, now)
    [started] = tick(now).started
    assert started.send_id is not None, started.message
    send = db.session.get(Send, started.send_id)
    assert send is not None
    return send


def send_batches(
    app: Flask, now: datetime | None = None, *, batches: int = 0, **options: int
) -> int:
    """Run one sender at `now` (default: the clock) until idle or `batches` batches.

    Returns how many deliveries it handled. The sender is always closed, so no
    connection outlives the call.
    """
    sender = Sender(app, **options)
    handled = 0
    try:
        for _ in range(batches or 1_000_000):
            step = sender.step(now or utcnow())
            handled += step
            if not step:
                break
    finally:
        sender.close()
    return handled


def deliveries(send: Send) -> dict[str, Delivery]:
    """Return the send's deliveries by the reader's address, fresh from the database."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Subscriber.email, Delivery)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.send_id == send.id)
    ).all()
    return {email: delivery for email, delivery in rows}


def statuses(send: Send) -> dict[str, str]:
    """Return each reader's delivery status."""
    return {email: str(d.status) for email, d in deliveries(send).items()}
