"""The demo that `make run` seeds into an empty database: the Sociale Alliantie."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from faker import Faker
from sqlalchemy import select

from service.editorial import accounts
from service.editorial.models import User
from service.extensions import db
from service.organisation import Organisation
from service.security import Role
from service.subscribers.consent import CURRENT_VERSION, consent_text, text_hash
from service.subscribers.models import (
    ConsentMethod,
    ConsentRecord,
    ListKind,
    MailingList,
    Membership,
    MembershipStatus,
    Subscriber,
    SubscriberStatus,
)

ORG_NAME = "Sociale Alliantie"
# From the network's own werkprogramma (shared/seed/werkprogramma-2015.txt).
ORG_ADDRESS = "\n".join(
    (
        "Stimulansz",
        "t.a.v. Ger Ramaekers / Sociale Alliantie",
        "Postbus 2758",
        "3500 GT Utrecht",
    )
)

PROVINCES = (
    "Drenthe", "Flevoland", "Friesland", "Gelderland", "Groningen", "Limburg",
    "Noord-Brabant", "Noord-Holland", "Overijssel", "Utrecht", "Zeeland",
    "Zuid-Holland",
)  # fmt: skip

LISTS = (
    (
        "nieuwsbrief",
        "Nieuwsbrief",
        "Zes tot acht keer per jaar een themanummer over armoede, verschulding en "
        "sociaal beleid.",
    ),
    (
        "lokale-brief",
        "Lokale brief gemeenteraden — meedenken",
        "Voor lokale groepen die willen meeschrijven aan de brief aan de gemeenteraden "
        "in april/mei.",
    ),
    (
        "correspondenten",
        "Correspondenten",
        "Voor wie wil schrijven voor de nieuwsbrief als provinciaal correspondent.",
    ),
)


@dataclass(frozen=True)
class DemoAccount:
    """The admin account the demo made, with its password to print once."""

    email: str
    password: str


def database_is_empty() -> bool:
    """Tell whether the demo may seed: no accounts and no lists yet."""
    has_user = db.session.scalar(select(User.id).limit(1)) is not None
    has_list = db.session.scalar(select(MailingList.id).limit(1)) is not None
    return not (has_user or has_list)


def seed_demo(now: datetime, subscribers: int = 200, seed: int = 2015) -> DemoAccount:
    """Fill an empty database with the Sociale Alliantie, its lists and readers."""
    rng = random.Random(seed)
    fake = Faker("nl_NL")
    fake.seed_instance(seed)

    db.session.add(
        Organisation(
            name=ORG_NAME,
            postal_address=ORG_ADDRESS,
            website="https://www.socialealliantie.nl",
        )
    )
    lists = []
    for position, (slug, name, description) in enumerate(LISTS):
        mailing_list = MailingList(
            slug=slug,
            name=name,
            description=description,
            kind=ListKind.NEWSLETTER,
            is_public=True,
            position=position,
            created_at=now - timedelta(days=400),
        )
        db.session.add(mailing_list)
        lists.append(mailing_list)
    db.session.flush()

    shown = consent_text(ORG_NAME, "nl")
    seen: set[str] = set()
    while len(seen) < subscribers:
        first, last = fake.first_name(), fake.last_name()
        email = (
            f"{first}.{last}".lower().replace(" ", "")
            + f"{rng.randint(1, 99)}@example.nl"
        )
        if email in seen:
            continue
        seen.add(email)
        joined = now - timedelta(days=rng.randint(1, 700), minutes=rng.randint(0, 1440))
        roll = rng.random()
        status = (
            SubscriberStatus.ACTIVE
            if roll < 0.82
            else SubscriberStatus.PENDING
            if roll < 0.9
            else SubscriberStatus.UNSUBSCRIBED
        )
        reader = Subscriber(
            email=email,
            name=f"{first} {last}",
            status=status,
            province=rng.choice(PROVINCES),
            created_at=joined,
        )
        chosen = [lists[0]] + [m for m in lists[1:] if rng.random() < 0.15]
        for mailing_list in chosen:
            confirmed = joined + timedelta(minutes=rng.randint(2, 600))
            member_status = {
                SubscriberStatus.ACTIVE: MembershipStatus.ACTIVE,
                SubscriberStatus.PENDING: MembershipStatus.PENDING,
                SubscriberStatus.UNSUBSCRIBED: MembershipStatus.UNSUBSCRIBED,
            }[status]
            reader.memberships.append(
                Membership(
                    mailing_list=mailing_list,
                    status=member_status,
                    created_at=joined,
                    confirmed_at=confirmed
                    if status != SubscriberStatus.PENDING
                    else None,
                    unsubscribed_at=now - timedelta(days=3)
                    if status == SubscriberStatus.UNSUBSCRIBED
                    else None,
                )
            )
            reader.consent_records.append(
                ConsentRecord(
                    list_id=mailing_list.id,
                    list_name=mailing_list.name,
                    text_version=CURRENT_VERSION,
                    text_hash=text_hash(shown),
                    source="http://127.0.0.1:5000/subscribe",
                    method=ConsentMethod.DOUBLE_OPT_IN,
                    requested_at=joined,
                    confirmed_at=confirmed
                    if status != SubscriberStatus.PENDING
                    else None,
                    confirmation_method="link"
                    if status != SubscriberStatus.PENDING
                    else None,
                )
            )
        db.session.add(reader)

    password = accounts.generate_password()
    admin = accounts.create_user(
        "redactie@socialealliantie.nl", Role.ADMIN, password, name="Redactie (beheer)"
    )
    db.session.flush()
    return DemoAccount(email=admin.email, password=password)
