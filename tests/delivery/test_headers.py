"""The headers of newsletter messages as a receiving server sees them."""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import dkim
import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.db import utcnow
from service.delivery import verp
from service.extensions import db
from service.subscribers.models import MembershipStatus, Subscriber
from tests.conftest import make_list, make_subscriber
from tests.delivery.conftest import (
    BASE_URL,
    Editors,
    deliveries,
    send_batches,
    start_send,
)
from tests.delivery.faults import Accepted, FaultySMTP

SELECTOR = "postbode2026"
DOMAIN = "postbode.nl"
BOUNCES = "bounces@postbode.nl"
#: one name that needs encoding in To:, one reader without a name
READERS = {"zoe@example.nl": "Zoë van der Berg-Ünal", "piet@example.nl": ""}


@dataclass(frozen=True)
class SigningKey:
    """A DKIM key pair made for this test run, and its DNS TXT record."""

    private_key_file: Path
    txt_record: bytes


@pytest.fixture(scope="session")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    """Generate a 2048-bit RSA key with openssl (`cryptography` is not installed)."""
    folder = tmp_path_factory.mktemp("dkim")
    private = folder / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(private), "2048"],
        check=True,
        capture_output=True,
    )
    public_der = subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)
    return SigningKey(private, record)


@dataclass(frozen=True)
class Received:
    """What the server received for each reader, and the send it came from."""

    messages: dict[str, Accepted]
    delivery_ids: dict[str, int]


@pytest.fixture
def received(
    sending_app: Flask, editors: Editors, faulty: FaultySMTP, dkim_key: SigningKey
) -> Received:
    """Send an issue to two readers with bounces (VERP) and DKIM configured."""
    sending_app.config.update(
        BOUNCE_ADDRESS=BOUNCES,
        DKIM_DOMAIN=DOMAIN,
        DKIM_SELECTOR=SELECTOR,
        DKIM_PRIVATE_KEY_FILE=str(dkim_key.private_key_file),
    )
    mailing_list = make_list()
    for address, name in READERS.items():
        make_subscriber(address, name=name, lists=[mailing_list])
    db.session.commit()
    send = start_send(editors, [mailing_list], utcnow())
    send_batches(sending_app)
    messages = {}
    for address in READERS:
        [message] = faulty.to(address)
        messages[address] = message
    ids = {address: row.id for address, row in deliveries(send).items()}
    return Received(messages, ids)


def dns_with(key: SigningKey) -> object:
    """Return a DNS lookup for dkimpy that knows only the test key's record."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        expected = f"{SELECTOR}._domainkey.{DOMAIN}.".encode()
        return key.txt_record if name == expected else None

    return lookup


@pytest.mark.parametrize("address", list(READERS))
def test_every_message_carries_the_one_click_pair_the_list_id_and_one_own_to(
    received: Received, address: str
) -> None:
    message = received.messages[address].parsed()

    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://") and unsubscribe.endswith(">")
    assert urlsplit(unsubscribe.strip("<>")).netloc == urlsplit(BASE_URL).netloc
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"] == "Nieuwsbrief <nieuwsbrief.postbode.example.nl>"
    assert message["Precedence"] == "bulk"
    assert address not in message["Feedback-ID"]
    [to] = message.get_all("To")
    assert [a.addr_spec for a in to.addresses] == [address]
    assert to.addresses[0].display_name == READERS[address]
    assert message["Message-ID"].endswith(f"@{DOMAIN}>")


def test_message_ids_differ_per_reader(received: Received) -> None:
    ids = {m.parsed()["Message-ID"] for m in received.messages.values()}
    assert len(ids) == len(READERS)


@pytest.mark.parametrize("address", list(READERS))
def test_no_line_is_longer_than_998_octets_and_the_strict_parser_accepts_it(
    received: Received, address: str
) -> None:
    raw = received.messages[address].raw
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998  # RFC 5322 §2.1.1

    strict = received.messages[address].parsed(strict=True)
    for name, value in strict.items():
        assert str(value), name  # each header parses without a defect
    parts = [part.get_content() for part in strict.walk() if not part.is_multipart()]
    assert len(parts) == 2 and "De cijfers" in parts[0]


def test_the_unsubscribe_header_unsubscribes_with_one_click(
    received: Received, client: FlaskClient
) -> None:
    address = "zoe@example.nl"
    url = received.messages[address].parsed()["List-Unsubscribe"].strip("<>")

    # RFC 8058 §3.2: the mail client POSTs this body, with no cookie or token.
    response = client.post(
        urlsplit(url).path,
        data={"List-Unsubscribe": "One-Click"},
        base_url=BASE_URL,
    )

    assert response.status_code == 200
    reader = db.session.query(Subscriber).filter_by(email=address).one()
    assert {m.status for m in reader.memberships} == {MembershipStatus.UNSUBSCRIBED}
    other = db.session.query(Subscriber).filter_by(email="piet@example.nl").one()
    assert {m.status for m in other.memberships} == {MembershipStatus.ACTIVE}


@pytest.mark.parametrize("address", list(READERS))
def test_the_envelope_sender_is_a_signed_bounce_address_naming_the_delivery(
    received: Received, sending_app: Flask, address: str
) -> None:
    envelope_from = received.messages[address].mail_from

    assert envelope_from.startswith("bounces+") and envelope_from.endswith(
        "@postbode.nl"
    )
    secrets = [sending_app.config["SECRET_KEY"]]
    assert verp.delivery_of(envelope_from, secrets) == received.delivery_ids[address]
    assert verp.delivery_of(envelope_from, ["another-secret-key"]) is None


@pytest.mark.parametrize("address", list(READERS))
def test_the_dkim_signature_verifies_and_breaks_when_the_subject_changes(
    received: Received, dkim_key: SigningKey, address: str
) -> None:
    raw = received.messages[address].raw
    lookup = dns_with(dkim_key)

    assert dkim.verify(raw, dnsfunc=lookup)
    signature = received.messages[address].parsed()["DKIM-Signature"]
    signed = {
        h.strip().lower() for h in signature.split("h=")[1].split(";")[0].split(":")
    }
    assert {"from", "to", "subject", "date", "message-id"} <= signed
    assert {"list-unsubscribe", "list-unsubscribe-post"} <= signed

    tampered = raw.replace(b"Subject: ", b"Subject: Re: ", 1)
    assert tampered != raw
    assert not dkim.verify(tampered, dnsfunc=lookup)
