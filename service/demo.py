"""The demo that `make run` seeds into an empty database: the Sociale Alliantie."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from faker import Faker
from flask import current_app
from sqlalchemy import select

from service import demo_texts
from service.editorial import accounts
from service.editorial.calendar import dutch_holidays
from service.editorial.models import (
    Article,
    Issue,
    IssueAudience,
    IssueStatus,
    Theme,
    User,
    YearPlan,
)
from service.editorial.operations import slugify
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
    seed_editorial_year(now, newsletter=lists[0])
    return DemoAccount(email=admin.email, password=password)


#: Cheap argon2 settings for the demo's editors and correspondents. Their passwords
#: are 96 random bits that nobody ever sees, so the hash cost adds no safety, while
#: the full cost takes most of a second per account. A real login would rehash.
_DEMO_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

#: the day of the week issues go out (Thursday), and at what time (Europe/Amsterdam)
SEND_WEEKDAY = 3
SEND_TIME = time(10, 0)
#: contributions are due this many days before an issue goes out
DEADLINE_DAYS = 10


def _demo_account(email: str, name: str, role: Role) -> User:
    """Add an account with a random password that is never shown."""
    user = User(
        email=email,
        name=name,
        role=role,
        password_hash=_DEMO_HASHER.hash(secrets.token_urlsafe(12)),
    )
    db.session.add(user)
    return user


def publication_dates(year: int, count: int) -> list[date]:
    """Return `count` Thursdays spread over the year, avoiding public holidays."""
    holidays = dutch_holidays(year)
    first, span = date(year, 1, 20), 330
    dates = []
    for index in range(count):
        day = first + timedelta(days=round(index * span / max(count - 1, 1)))
        while day.weekday() != SEND_WEEKDAY or day in holidays:
            day += timedelta(days=1)
        dates.append(day)
    return dates


def _utc(day: date, zone: ZoneInfo) -> datetime:
    """Return SEND_TIME on `day` in `zone` as a stored (naive) UTC moment."""
    local = datetime.combine(day, SEND_TIME, tzinfo=zone)
    return local.astimezone(UTC).replace(tzinfo=None)


def seed_editorial_year(now: datetime, newsletter: MailingList) -> None:
    """Add the editors, themes, and last year's and this year's issues.

    Last year is entirely sent. This year, the issues whose day has passed are sent
    (at least the first), the next one is being written, and the rest is planned.
    """
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    today = now.replace(tzinfo=UTC).astimezone(zone).date()
    editors = [
        _demo_account(email, name, Role.EDITOR) for email, name in demo_texts.EDITORS
    ]
    for email, name in demo_texts.CORRESPONDENTS:
        _demo_account(email, name, Role.CORRESPONDENT)
    themes = [
        Theme(
            slug=t.slug,
            name=t.name,
            description=t.description,
            created_at=now - timedelta(days=500),
        )
        for t in demo_texts.THEMES
    ]
    db.session.add_all(themes)
    db.session.flush()

    count = current_app.config["ISSUES_PER_YEAR"]
    for year in (today.year - 1, today.year):
        db.session.add(
            YearPlan(
                year=year,
                target_issues=count,
                note="Brief aan de gemeenteraden in april/mei; voorstellen aan de "
                "Tweede Kamer in het najaar.",
            )
        )
        dates = publication_dates(year, count)
        # Issues before `in_progress` are sent, it is being written, later ones wait.
        in_progress = count
        if year == today.year:
            # The demo always shows one sent issue, even when seeded in January.
            dates[0] = min(dates[0], max(today - timedelta(days=1), date(year, 1, 1)))
            upcoming = [i for i, day in enumerate(dates) if day >= today]
            in_progress = max(upcoming[0] if upcoming else count - 1, 1)
        for index, day in enumerate(dates):
            variant = 0 if year == today.year else 1
            text = demo_texts.ISSUES[index % len(demo_texts.ISSUES)][variant]
            if index < in_progress:
                status = IssueStatus.SENT
            elif index == in_progress:
                status = IssueStatus.DRAFT
            else:
                status = IssueStatus.PLANNED
            _seed_issue(
                year=year,
                number=index + 1,
                theme=themes[index % len(themes)],
                text=text,
                day=day,
                status=status,
                editors=editors,
                newsletter=newsletter,
                sent_at=min(_utc(day, zone), now - timedelta(hours=1)),
            )
    db.session.flush()


def _seed_issue(
    *,
    year: int,
    number: int,
    theme: Theme,
    text: demo_texts.DemoIssue,
    day: date,
    status: IssueStatus,
    editors: list[User],
    newsletter: MailingList,
    sent_at: datetime,
) -> None:
    """Add one issue of the demo year in `status`, with its articles when written."""
    writer, reviewer = editors[number % 4], editors[(number + 1) % 4]
    issue = Issue(
        year=year,
        number=number,
        theme=theme,
        title=text.title,
        slug=slugify(text.title),
        status=status,
        planned_date=day,
        contribution_deadline=day - timedelta(days=DEADLINE_DAYS),
    )
    if status != IssueStatus.PLANNED:
        issue.preheader = text.preheader
        issue.intro = text.intro
        issue.last_editor = writer
        shown = text.articles if status == IssueStatus.SENT else text.articles[:2]
        for position, article in enumerate(shown):
            issue.articles.append(
                Article(
                    position=position,
                    title=article.title,
                    body=article.body,
                    author=article.author,
                    link_url=article.link_url,
                    button_text=article.button_text,
                )
            )
    if status == IssueStatus.SENT:
        issue.approved_by = reviewer
        issue.approved_at = sent_at - timedelta(days=2)
        issue.send_at = sent_at
        issue.sent_at = sent_at
        issue.updated_at = issue.approved_at
        issue.audience.append(IssueAudience(list_id=newsletter.id))
    db.session.add(issue)
