"""Starting a send: one delivery per active reader, counted on both databases."""

from __future__ import annotations

from flask import Flask

from service.db import utcnow
from service.extensions import db
from service.subscribers.models import SubscriberStatus
from tests.conftest import make_list, make_subscriber
from tests.delivery.conftest import Editors, start_send


def test_a_send_counts_its_recipients_once_each_and_only_active_ones(
    sending_app: Flask, editors: Editors
) -> None:
    newsletter = make_list("nieuwsbrief", "Nieuwsbrief")
    letter = make_list("lokale-brief", "Lokale brief", position=1)
    for number in range(7):
        make_subscriber(f"nb{number}@example.nl", lists=[newsletter])
    for number in range(3):
        make_subscriber(f"lb{number}@example.nl", lists=[letter])
    # A reader on both lists gets one message; pending and departed readers none.
    make_subscriber("beide@example.nl", lists=[newsletter, letter])
    make_subscriber(
        "wacht@example.nl", lists=[newsletter], status=SubscriberStatus.PENDING
    )
    make_subscriber(
        "weg@example.nl", lists=[newsletter], status=SubscriberStatus.UNSUBSCRIBED
    )
    db.session.commit()
    send = start_send(editors, [newsletter, letter], utcnow())
    assert send.total == 7 + 3 + 1
