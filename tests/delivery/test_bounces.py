"""Bounces and complaints as an editor notices them: who is marked bounced, who is
suppressed, what the reader's page shows, and what a forged bounce cannot do."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.audit import AuditLog
from service.db import utcnow
from service.delivery import bounces, verp
from service.delivery.bounce_models import BounceEvent
from service.delivery.bounce_receiver import NOT_A_BOUNCE, RECORDED, UNTAGGED, process
from service.delivery.models import Delivery, Send
from service.errors import Conflict
from service.extensions import db
from service.subscribers import operations
from service.subscribers.models import MailingList, Subscriber, SubscriberStatus
from tests.conftest import NOW, login, make_list, make_subscriber, make_user
from tests.delivery.conftest import (
    Editors,
    make_audience,
    reader_address,
    send_batches,
    start_send,
    statuses,
)
from tests.delivery.faults import FaultySMTP

CORPUS = Path(__file__).parent / "bounces"
BOUNCE_ADDRESS = "bounces@postbode.example.nl"


@pytest.fixture
def bounce_app(app: Flask) -> Flask:
    """`app` with a bounce address, so messages carry signed tags."""
    app.config.update(BOUNCE_ADDRESS=BOUNCE_ADDRESS)
    return app


def make_delivery(subscriber: Subscriber) -> Delivery:
    """Add a sent delivery of a small send to the reader."""
    send = Send(
        subject="Armoede in cijfers",
        html="<p>x</p>",
        text="x",
        from_address="nieuwsbrief@postbode.nl",
        created_at=NOW,
    )
    db.session.add(send)
    db.session.flush()
    delivery = Delivery(send_id=send.id, subscriber_id=subscriber.id, status="sent")
    db.session.add(delivery)
    db.session.commit()
    return delivery


def tag_of(app: Flask, delivery: Delivery) -> str:
    """Return the tag the sender put in the envelope of this delivery."""
    address = verp.bounce_address(BOUNCE_ADDRESS, app.config["SECRET_KEY"], delivery.id)
    return address.split("+", 1)[1].split("@", 1)[0]


def bounce(app: Flask, name: str, delivery: Delivery, at: datetime) -> str:
    """Let a corpus bounce about `delivery` arrive at `at`; return what happened."""
    raw = (CORPUS / name).read_bytes().replace(b"{TAG}", tag_of(app, delivery).encode())
    return process(raw, [], at)


def reader(email: str = "lezer@example.nl") -> tuple[Subscriber, MailingList]:
    existing = db.session.scalar(select(MailingList).filter_by(slug="nieuwsbrief"))
    mailing_list = existing or make_list()
    subscriber = make_subscriber(email, lists=[mailing_list])
    db.session.commit()
    return subscriber, mailing_list


def status_of(subscriber: Subscriber) -> str:
    db.session.expire_all()
    return str(db.session.get(Subscriber, subscriber.id).status)


def test_three_hard_bounces_within_a_week_mark_the_reader_bounced(
    bounce_app: Flask,
) -> None:
    subscriber, _list = reader()
    for day in (0, 2, 4):
        assert (
            bounce(
                bounce_app,
                "postfix_user_unknown.eml",
                make_delivery(subscriber),
                NOW + timedelta(days=day),
            )
            == RECORDED
        )
        if day < 4:
            assert status_of(subscriber) == "active"
    assert status_of(subscriber) == "bounced"
    assert bounces.score_of(subscriber, NOW + timedelta(days=4)) == 3.0


def test_hard_bounces_spread_over_weeks_never_mark_the_reader_bounced(
    bounce_app: Flask,
) -> None:
    subscriber, _list = reader()
    for week in range(6):
        bounce(
            bounce_app,
            "exim_permanent.eml",
            make_delivery(subscriber),
            NOW + timedelta(days=8 * week),
        )
    assert status_of(subscriber) == "active"
    assert db.session.scalar(select(func.count(BounceEvent.id))) == 6


def test_soft_bounces_count_half_and_a_delay_then_failure_of_one_message_counts_once(
    bounce_app: Flask,
) -> None:
    subscriber, _list = reader()
    delivery = make_delivery(subscriber)
    bounce(bounce_app, "postfix_delayed_mailbox_full.eml", delivery, NOW)
    assert bounces.score_of(subscriber, NOW) == 0.5
    # The same bounce again (a replay) and then the final failure: still one message.
    bounce(bounce_app, "postfix_delayed_mailbox_full.eml", delivery, NOW)
    bounce(bounce_app, "postfix_user_unknown.eml", delivery, NOW)
    assert bounces.score_of(subscriber, NOW) == 1.0
    assert status_of(subscriber) == "active"


def test_the_bounced_reader_gets_no_more_issues(bounce_app: Flask) -> None:
    from service.delivery.operations import start_send

    subscriber, mailing_list = reader()
    other = make_subscriber("ander@example.nl", lists=[mailing_list])
    for _ in range(3):
        bounce(bounce_app, "gmail_no_such_user.eml", make_delivery(subscriber), NOW)
    send = start_send(
        issue=None,
        lists=[mailing_list],
        subject="s",
        html="<p>h</p>",
        text="t",
        now=NOW + timedelta(days=1),
    )
    recipients = set(
        db.session.scalars(select(Delivery.subscriber_id).filter_by(send_id=send.id))
    )
    assert recipients == {other.id}


def test_a_complaint_suppresses_at_once_and_nothing_brings_the_reader_back(
    bounce_app: Flask,
) -> None:
    subscriber, mailing_list = reader()
    assert bounce(bounce_app, "arf_complaint.eml", make_delivery(subscriber), NOW) == (
        RECORDED
    )
    assert status_of(subscriber) == "complained"
    assert operations.is_suppressed(subscriber.email)
    signup = operations.request_subscription(
        email=subscriber.email,
        name="",
        lists=[mailing_list],
        locale="nl",
        org_name="Sociale Alliantie",
        source="test",
        now=NOW,
    )
    assert not signup.send_confirmation
    with pytest.raises(operations.NotAddable):
        operations.add_subscriber(
            email=subscriber.email,
            name="",
            province="",
            lists=[mailing_list],
            locale="nl",
            consent_source="re-import",
            attested_by="Redactie",
            org_name="Sociale Alliantie",
            now=NOW,
        )
    assert status_of(subscriber) == "complained"


def test_a_complaint_about_a_reader_who_already_left_still_suppresses(
    bounce_app: Flask,
) -> None:
    subscriber, _list = reader()
    delivery = make_delivery(subscriber)
    operations.unsubscribe(subscriber, NOW)
    db.session.commit()
    bounce(bounce_app, "arf_complaint.eml", delivery, NOW)
    assert status_of(subscriber) == "unsubscribed"
    assert operations.is_suppressed(subscriber.email)


@pytest.mark.parametrize("tag", ["d1-0123456789", "", "d1"])
def test_a_forged_or_untagged_bounce_changes_nothing(
    bounce_app: Flask, tag: str
) -> None:
    subscriber, _list = reader("lezer0001@example.nl")
    make_delivery(subscriber)
    raw = (CORPUS / "postfix_user_unknown.eml").read_bytes()
    raw = raw.replace(b"+{TAG}", f"+{tag}".encode() if tag else b"")
    for _ in range(5):
        assert process(raw, ["bounces@postbode.example.nl"], NOW) == UNTAGGED
    assert status_of(subscriber) == "active"
    assert db.session.scalar(select(func.count(BounceEvent.id))) == 0


def test_an_out_of_office_reply_to_the_bounce_address_changes_nothing(
    bounce_app: Flask,
) -> None:
    subscriber, _list = reader()
    delivery = make_delivery(subscriber)
    assert bounce(bounce_app, "out_of_office.eml", delivery, NOW) == NOT_A_BOUNCE
    assert db.session.scalar(select(func.count(BounceEvent.id))) == 0


def test_huge_nested_and_malformed_bounces_are_counted_and_dropped(
    bounce_app: Flask,
) -> None:
    huge = b"Subject: x\r\n\r\n" + b"x" * (1024 * 1024 + 1)
    nested = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(3000)
    )
    assert process(huge, [], NOW) == "rejected: too large"
    assert process(b"From: x\r\n" + nested, [], NOW) == "rejected: too deeply nested"
    assert process(b"\x00\xff", [], NOW) == "rejected: malformed"


def test_erasing_a_reader_removes_their_bounce_events(bounce_app: Flask) -> None:
    subscriber, _list = reader()
    keep, _ = make_subscriber("blijft@example.nl"), None
    for name in ("postfix_user_unknown.eml", "exim_permanent.eml"):
        bounce(bounce_app, name, make_delivery(subscriber), NOW)
    bounce(bounce_app, "qmail_no_mailbox.eml", make_delivery(keep), NOW)
    assert db.session.scalar(select(func.count(BounceEvent.id))) == 3
    operations.erase_subscriber(subscriber)
    db.session.commit()
    db.session.expire_all()
    remaining = db.session.scalars(select(BounceEvent.subscriber_id)).all()
    assert remaining == [keep.id]


def test_a_refusal_while_sending_is_recorded_as_a_hard_bounce(
    bounce_app: Flask,
) -> None:
    subscriber, _list = reader()
    delivery = make_delivery(subscriber)
    bounces.record_refusal(delivery.id, subscriber.id, "550 5.1.1 User unknown", NOW)
    db.session.commit()
    [event] = bounces.events_of(subscriber)
    assert (event.kind, event.source, event.status_code, event.score) == (
        "hard",
        "smtp",
        "5.1.1",
        1.0,
    )


# The admin ---------------------------------------------------------------------------


def test_the_readers_page_shows_the_bounce_log_escaped(
    bounce_app: Flask, client: FlaskClient
) -> None:
    subscriber, _list = reader()
    bounces.record(
        subscriber,
        kind="hard",
        source="dsn",
        now=NOW,
        status_code="5.1.1",
        diagnostic='550 <script>alert("x")</script> no such user',
    )
    db.session.commit()
    login(client, make_user())
    page = client.get(f"/admin/subscribers/{subscriber.id}").get_data(as_text=True)
    assert "Bounces en klachten" in page
    assert "5.1.1" in page
    assert "&lt;script&gt;alert(" in page
    assert "<script>alert" not in page


def test_an_editor_reactivates_a_bounced_reader_with_a_fresh_score(
    bounce_app: Flask, client: FlaskClient
) -> None:
    subscriber, _list = reader()
    for _ in range(3):
        bounce(bounce_app, "postfix_user_unknown.eml", make_delivery(subscriber), NOW)
    assert status_of(subscriber) == "bounced"
    login(client, make_user())
    page = client.get(f"/admin/subscribers/{subscriber.id}").get_data(as_text=True)
    assert "Weer mail sturen" in page
    response = client.post(f"/admin/subscribers/{subscriber.id}/reactivate")
    assert response.status_code == 302
    assert status_of(subscriber) == "active"
    assert bounces.score_of(subscriber, NOW + timedelta(minutes=1)) == 0.0
    [entry] = db.session.scalars(
        select(AuditLog).filter_by(action="subscriber.reactivate")
    ).all()
    assert entry.target == f"subscriber #{subscriber.id}"
    # One more bounce is one, not four.
    bounce(
        bounce_app,
        "postfix_user_unknown.eml",
        make_delivery(subscriber),
        NOW + timedelta(minutes=2),
    )
    assert status_of(subscriber) == "active"


def test_a_complained_reader_cannot_be_reactivated(bounce_app: Flask) -> None:
    subscriber, _list = reader()
    bounce(bounce_app, "arf_complaint.eml", make_delivery(subscriber), NOW)
    with pytest.raises(Conflict):
        bounces.reactivate(subscriber, NOW)


def test_only_staff_may_reactivate(bounce_app: Flask, client: FlaskClient) -> None:
    from service.security import Role

    subscriber, _list = reader()
    subscriber.status = SubscriberStatus.BOUNCED
    db.session.commit()
    login(client, make_user("correspondent@postbode.nl", Role.CORRESPONDENT))
    response = client.post(f"/admin/subscribers/{subscriber.id}/reactivate")
    assert response.status_code == 403
    assert status_of(subscriber) == "bounced"


def test_a_5xx_refusal_by_the_relay_while_sending_counts_as_a_hard_bounce(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP
) -> None:
    send = start_send(editors, [make_audience(3)], utcnow())
    faulty.answer("rcpt", "550 5.1.1 User unknown", to=reader_address(1))
    faulty.answer("rcpt", "451 4.3.0 Try again later", to=reader_address(2))
    send_batches(sending_app, batches=1)
    assert statuses(send)[reader_address(1)] == "failed"
    assert statuses(send)[reader_address(2)] == "deferred"
    events = db.session.execute(
        select(Subscriber.email, BounceEvent.kind, BounceEvent.status_code).join(
            Subscriber, Subscriber.id == BounceEvent.subscriber_id
        )
    ).all()
    # The deferral (4xx) is not a bounce.
    assert events == [(reader_address(1), "hard", "5.1.1")]
