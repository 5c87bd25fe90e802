"""The test harness: a fresh app on a real database, a real SMTP server, factories.

Every test that uses `app` runs on a real SQLite file, and once more on PostgreSQL
when TEST_DATABASE_URL is set (those runs are skipped, with the reason, when not).
The schema always comes from the migrations, never from create_all().
"""

from __future__ import annotations

import contextvars
import os
import shutil
import ssl
from collections.abc import Iterator
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import argon2.profiles
import pytest
from flask import Flask, has_app_context
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from service import create_app
from service.editorial.accounts import create_user
from service.editorial.models import User
from service.extensions import db
from service.security import Role
from service.subscribers.models import (
    ListKind,
    MailingList,
    Membership,
    MembershipStatus,
    Subscriber,
    SubscriberStatus,
)
from service.tracking.recorder import EXTENSION as TRACKING_RECORDER
from tests.delivery.faults import FaultySMTP
from tests.delivery.imap_server import self_signed_certificate
from tests.smtp import SMTPSink

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
SKIP_POSTGRES = (
    "PostgreSQL run skipped: TEST_DATABASE_URL is not set "
    "(e.g. postgresql://postgres@127.0.0.1:5432/test; .ci/run sets it)"
)
PASSWORD = "correct horse battery"
#: a fixed moment for tests that pass `now` in
NOW = datetime(2026, 3, 2, 9, 30)


def settings(instance: Path, database_url: str, **extra: Any) -> dict[str, Any]:
    """Return the overrides every test app starts from."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-0123456789",
        "SECRET_KEY_FALLBACKS": [],
        "BASE_URL": "http://localhost",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "MAIL_OUTBOX_DIR": str(instance / "outbox"),
        "MAIL_DEFAULT_SENDER": "nieuwsbrief@postbode.nl",
        "MAIL_NEWSLETTER_SENDER": "nieuwsbrief@postbode.nl",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        # The cheapest argon2id: the same code path, without 64 MiB per login.
        "ARGON2_PARAMETERS": argon2.profiles.CHEAPEST,
        **extra,
    }


def postgres_url() -> str:
    """Return TEST_DATABASE_URL in SQLAlchemy's psycopg form."""
    url = TEST_DATABASE_URL
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file once; each test gets a copy of it."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.sqlite3"
    app = create_app(
        settings(folder, f"sqlite:///{path}"), environ={}, instance_path=folder
    )
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Migrate a schema of this run's own in the PostgreSQL test database.

    A schema per run (dropped at the end) leaves the database's other schemas alone
    and lets two test runs share one server without touching each other's rows.
    """
    schema = f"postbode_test_{os.getpid()}"
    server = create_engine(postgres_url())
    with server.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in postgres_url() else "?"
    url = f"{postgres_url()}{separator}options=-csearch_path%3D{schema}"
    folder = tmp_path_factory.mktemp("pg")
    app = create_app(settings(folder, url), environ={}, instance_path=folder)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    with server.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    server.dispose()


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = [t.name for t in db.metadata.sorted_tables]
    with engine.begin() as connection:
        connection.execute(
            text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        )
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or the PostgreSQL test database."""
    if request.param == "sqlite":
        path = tmp_path / "postbode.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    if not TEST_DATABASE_URL:
        pytest.skip(SKIP_POSTGRES)
    url = request.getfixturevalue("postgres_schema")
    yield url
    _truncate_all(url)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """A fresh app on a fresh database, inside an app context."""
    instance = tmp_path / "instance"
    application = create_app(
        settings(instance, database_url), environ={}, instance_path=instance
    )
    application.test_client_class = IsolatedClient
    with application.app_context():
        yield application
        # The tracking flusher writes from a thread of its own: stop it before the
        # database is emptied for the next test, or the two deadlock on PostgreSQL.
        recorder = application.extensions.get(TRACKING_RECORDER)
        if recorder is not None:
            recorder.stop()
        db.session.remove()
        db.engine.dispose()


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The `app` fixture keeps an app context pushed for factories and assertions; Flask
    would reuse it for requests, sharing `g` (and so the logged-in user) and the
    database session between requests and clients. Each request here starts from an
    empty context instead. What the test set up is committed first, and what it holds
    is expired afterwards so it reads what the request wrote.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:  # noqa: D102
        if not has_app_context():  # a redirect being followed: already isolated
            return super().open(*args, **kwargs)
        db.session.commit()
        response = contextvars.Context().run(super().open, *args, **kwargs)
        db.session.expire_all()
        return response


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """The test client of `app` (see IsolatedClient)."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """The CLI runner of `app`."""
    return app.test_cli_runner()


@pytest.fixture
def smtp_sink() -> Iterator[SMTPSink]:
    """A real SMTP server on a free port that keeps what it receives."""
    sink = SMTPSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_app(app: Flask, smtp_sink: SMTPSink) -> Flask:
    """`app` sending over SMTP to `smtp_sink` instead of the outbox."""
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_sink.port)
    return app


@pytest.fixture
def outbox(app: Flask) -> Outbox:
    """The dev outbox of `app`, read as parsed messages."""
    return Outbox(Path(app.config["MAIL_OUTBOX_DIR"]))


class Outbox:
    """The .eml files the outbox transport wrote, oldest first."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def messages(self) -> list[EmailMessage]:
        if not self.directory.is_dir():
            return []
        parser = BytesParser(policy=policy.default)
        return [
            parser.parsebytes(path.read_bytes())  # type: ignore[misc]
            for path in sorted(self.directory.glob("*.eml"))
        ]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages() if m["X-Postbode-Envelope-To"] == address]


def text_of(message: EmailMessage) -> str:
    """Return the plain-text part of a message."""
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def html_of(message: EmailMessage) -> str:
    """Return the HTML part of a message."""
    part = message.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else ""


# Factories ---------------------------------------------------------------------------


def make_list(
    slug: str = "nieuwsbrief",
    name: str = "Nieuwsbrief",
    *,
    is_public: bool = True,
    kind: ListKind = ListKind.NEWSLETTER,
    position: int = 0,
) -> MailingList:
    """Add a list and flush it."""
    mailing_list = MailingList(
        slug=slug, name=name, is_public=is_public, kind=kind, position=position
    )
    db.session.add(mailing_list)
    db.session.flush()
    return mailing_list


def make_subscriber(
    email: str = "lezer@example.nl",
    *,
    name: str = "",
    lists: list[MailingList] | None = None,
    status: SubscriberStatus = SubscriberStatus.ACTIVE,
    province: str = "",
) -> Subscriber:
    """Add a subscriber, active on `lists` (or pending when status is pending)."""
    membership_status = {
        SubscriberStatus.ACTIVE: MembershipStatus.ACTIVE,
        SubscriberStatus.PENDING: MembershipStatus.PENDING,
    }.get(status, MembershipStatus.UNSUBSCRIBED)
    subscriber = Subscriber(email=email, name=name, status=status, province=province)
    for mailing_list in lists or []:
        subscriber.memberships.append(
            Membership(mailing_list=mailing_list, status=membership_status)
        )
    db.session.add(subscriber)
    db.session.flush()
    return subscriber


def make_user(email: str = "redacteur@postbode.nl", role: Role = Role.EDITOR) -> User:
    """Add an account with the password PASSWORD."""
    user = create_user(email, role, PASSWORD, name=email.split("@")[0].title())
    db.session.commit()
    return user


def login(client: FlaskClient, user: User, password: str = PASSWORD) -> None:
    """Log in through the real login form."""
    response = client.post(
        "/admin/login", data={"email": user.email, "password": password}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultySMTP]:
    """A server that takes mail only after STARTTLS, with a certificate we trust."""
    key_file, cert_file = tmp_path / "key.pem", tmp_path / "cert.pem"
    self_signed_certificate(key_file, cert_file)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # as a CA the client trusts
    faulty = FaultySMTP(tls=context).start()
    yield faulty
    faulty.stop()
