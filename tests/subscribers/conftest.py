"""Fixtures shared by the admin's reader pages and the CSV import's tests."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.extensions import db
from service.security import Role
from service.subscribers.models import MailingList
from tests.conftest import login, make_list, make_user


@pytest.fixture
def editor(app: Flask, client: FlaskClient) -> FlaskClient:
    """The client, logged in as an editor."""
    login(client, make_user("redacteur@postbode.nl", Role.EDITOR))
    return client


@pytest.fixture
def newsletter(app: Flask) -> MailingList:
    """The public list "Nieuwsbrief", committed."""
    mailing_list = make_list("nieuwsbrief", "Nieuwsbrief")
    db.session.commit()
    return mailing_list


def page(response: object) -> str:
    """Return a response's body as text."""
    return response.get_data(as_text=True)  # type: ignore[attr-defined]
