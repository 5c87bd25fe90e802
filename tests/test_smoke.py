"""The app starts, migrates and answers its health check."""

from flask.testing import FlaskClient


def test_health_check_answers_ok_when_the_database_answers(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
