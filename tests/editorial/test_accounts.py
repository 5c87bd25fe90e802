"""Accounts: logging in and out, changing a password, the commands that make them."""

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from service import create_app
from service.editorial.models import User
from service.extensions import db
from tests.conftest import PASSWORD, login, make_user, settings


def test_a_wrong_password_is_refused_with_a_clear_message(client: FlaskClient) -> None:
    user = make_user()
    response = client.post(
        "/admin/login", data={"email": user.email, "password": "verkeerd wachtwoord"}
    )
    assert response.status_code == 422
    assert "Dit adres en wachtwoord horen niet bij elkaar." in response.get_data(
        as_text=True
    )
    assert client.get("/admin/").status_code == 302


def test_login_returns_to_the_page_asked_for_but_never_elsewhere(
    client: FlaskClient,
) -> None:
    user = make_user()
    data = {"email": user.email, "password": PASSWORD}
    inside = client.post("/admin/login?next=/admin/outbox/", data=data)
    assert inside.headers["Location"] == "/admin/outbox/"
    client.post("/admin/logout")
    outside = client.post("/admin/login?next=//evil.example/", data=data)
    assert outside.headers["Location"] == "/admin/"


def test_logging_out_ends_the_session(client: FlaskClient) -> None:
    login(client, make_user())
    assert client.get("/admin/").status_code == 200
    client.post("/admin/logout")
    assert client.get("/admin/").status_code == 302


def test_changing_the_password_ends_every_other_session(app: Flask) -> None:
    user = make_user()
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, user)
    login(phone, user)
    response = laptop.post(
        "/admin/account",
        data={
            "current": PASSWORD,
            "password": "een nieuw wachtwoord",
            "repeat": "een nieuw wachtwoord",
        },
    )
    assert response.status_code == 302
    assert laptop.get("/admin/").status_code == 200  # this session goes on
    assert phone.get("/admin/").status_code == 302  # the other one ended
    login(phone, user, "een nieuw wachtwoord")


def test_a_too_short_new_password_is_explained_next_to_the_field(
    client: FlaskClient,
) -> None:
    login(client, make_user())
    response = client.post(
        "/admin/account",
        data={"current": PASSWORD, "password": "kort", "repeat": "kort"},
    )
    assert response.status_code == 422
    assert "minstens 10 tekens" in response.get_data(as_text=True)


def test_logins_are_rate_limited(database_url: str, tmp_path: Path) -> None:
    app = create_app(
        settings(tmp_path, database_url, RATELIMIT_ENABLED=True),
        environ={},
        instance_path=tmp_path,
    )
    with app.app_context():
        user = make_user()
        client = app.test_client()
        codes = [
            client.post(
                "/admin/login", data={"email": user.email, "password": "gok"}
            ).status_code
            for _ in range(11)
        ]
        assert codes[:10] == [422] * 10
        assert codes[10] == 429
        db.session.remove()
        db.engine.dispose()


def test_users_create_prints_a_generated_password_once(
    app: Flask, runner: FlaskCliRunner
) -> None:
    result = runner.invoke(
        args=["users", "create", "Hub@SocialeAlliantie.nl", "--role", "editor"]
    )
    assert result.exit_code == 0, result.output
    password = result.output.split("Password (shown once): ")[1].strip()
    user = db.session.scalar(select(User).filter_by(email="hub@socialealliantie.nl"))
    assert user.role == "editor"
    client = app.test_client()
    login(client, user, password)


def test_users_create_refuses_a_taken_address(runner: FlaskCliRunner) -> None:
    make_user("raf@socialealliantie.nl")
    result = runner.invoke(args=["users", "create", "raf@socialealliantie.nl"])
    assert result.exit_code != 0
    assert "Er bestaat al een account met dit adres." in result.output


def test_the_demo_seeds_an_empty_database_once(
    app: Flask, runner: FlaskCliRunner
) -> None:
    result = runner.invoke(args=["demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output
    from service.subscribers.models import MailingList, Subscriber

    names = [m.name for m in db.session.scalars(select(MailingList))]
    assert "Lokale brief gemeenteraden — meedenken" in names
    assert len(db.session.scalars(select(Subscriber)).all()) == 200
    again = runner.invoke(args=["demo", "--if-empty"])
    assert again.exit_code == 0 and again.output == ""
    assert runner.invoke(args=["demo"]).exit_code != 0
