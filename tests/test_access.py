"""Every route declares who may use it, and each role gets what the table says."""

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.security import PUBLIC, Role, access_of
from tests.conftest import login, make_user

#: The table of access: endpoint -> who may use it. A new route must be added here.
ACCESS = {
    "static": PUBLIC,
    "healthz": PUBLIC,
    "subscribers.subscribe": PUBLIC,
    "subscribers.check_inbox": PUBLIC,
    "subscribers.confirm": PUBLIC,
    "subscribers.renew": PUBLIC,
    "subscribers.preferences": PUBLIC,
    "subscribers.download_data": PUBLIC,
    "subscribers.erase": PUBLIC,
    "subscribers.unsubscribe": PUBLIC,
    "archive.index": PUBLIC,
    "archive.theme": PUBLIC,
    "archive.feed": PUBLIC,
    "accounts.login": PUBLIC,
    "accounts.logout": {"admin", "editor", "correspondent"},
    "accounts.dashboard": {"admin", "editor", "correspondent"},
    "accounts.account": {"admin", "editor", "correspondent"},
    "outbox.*": {"admin", "editor"},
    "contributions.index": {"admin", "editor", "correspondent"},
    "contributions.submit": {"admin", "editor", "correspondent"},
    "contributions.show": {"admin", "editor", "correspondent"},
    "contributions.*": {"admin", "editor"},
    "issues.*": {"admin", "editor"},
    "sends.*": {"admin", "editor"},
    "stats.*": {"admin", "editor"},
    "webhooks.generic": PUBLIC,
    "webhooks.ses": PUBLIC,
    "media.file": PUBLIC,
    "archive.issue": PUBLIC,
    "tracking.open_pixel": PUBLIC,
    "tracking.click": PUBLIC,
    "subscribers_admin.*": {"admin", "editor"},
    "subscribers_admin.import_job": {"admin", "editor"},
    "subscribers_admin.import_progress": {"admin", "editor"},
    "review.*": {"admin", "editor"},
}


def expected_access(endpoint: str) -> object:
    if endpoint in ACCESS:
        return ACCESS[endpoint]
    prefix = endpoint.split(".")[0] + ".*"
    return ACCESS.get(prefix)


def test_every_route_declares_its_access_as_the_table_says(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        declared = access_of(app, rule.endpoint)
        assert declared is not None, f"{rule.rule} ({rule.endpoint}) declares no access"
        expected = expected_access(rule.endpoint)
        assert expected is not None, f"{rule.endpoint} is missing from the ACCESS table"
        if expected == PUBLIC:
            assert declared == PUBLIC, rule.endpoint
        else:
            assert {str(r) for r in declared} == expected, rule.endpoint


def _admin_get_rules(app: Flask) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.rule.startswith("/admin"):
            continue
        if rule.endpoint == "accounts.login":
            continue
        # Fill path arguments with a value; a 404 behind the check is fine.
        paths.append((re.sub(r"<(?:[^:>]+:)?[^>]+>", "1", rule.rule), rule.endpoint))
    return paths


def test_anonymous_visitors_are_sent_to_the_login_page(
    app: Flask, client: FlaskClient
) -> None:
    for path, endpoint in _admin_get_rules(app):
        response = client.get(path)
        assert response.status_code == 302, endpoint
        assert "/admin/login" in response.headers["Location"]


@pytest.mark.parametrize("role", list(Role))
def test_each_role_reaches_exactly_its_admin_pages(
    app: Flask, client: FlaskClient, role: Role
) -> None:
    login(client, make_user(f"{role}@postbode.nl", role))
    for path, endpoint in _admin_get_rules(app):
        status = client.get(path).status_code
        allowed = role.value in expected_access(endpoint)
        if allowed:
            assert status != 403, f"{role} refused {endpoint}"
        else:
            assert status == 403, f"{role} reached {endpoint} ({status})"


def test_a_route_without_a_declaration_is_refused(app: Flask) -> None:
    @app.get("/forgotten")
    def forgotten() -> str:
        return "secret"

    response = app.test_client().get("/forgotten")
    assert response.status_code == 403
    assert b"secret" not in response.data
