"""Planning the year and composing an issue, through the real admin pages."""

from __future__ import annotations

import io
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image as PILImage
from sqlalchemy import select

from service.db import utcnow
from service.editorial import operations
from service.editorial.models import Issue, IssueStatus, Theme, User
from service.extensions import db
from service.security import Role
from tests.conftest import login, make_user


@pytest.fixture
def editor(client: FlaskClient) -> User:
    user = make_user("peter@socialealliantie.nl", Role.EDITOR)
    login(client, user)
    return user


@pytest.fixture
def issue(app: Flask) -> Issue:
    theme = operations.save_theme(None, name="Verschulding", description="Schulden.")
    planned = operations.plan_issue(
        year=2026,
        theme=theme,
        planned_date=date(2026, 3, 6),
        contribution_deadline=date(2026, 2, 24),
        title="Schulden",
    )
    db.session.commit()
    return planned


def png(width: int = 2400, height: int = 1200) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def issue_form(issue: Issue, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "version": issue.version,
        "title": issue.title,
        "preheader": issue.preheader,
        "theme": issue.theme_id or 0,
        "intro": issue.intro,
        "planned_date": issue.planned_date.isoformat() if issue.planned_date else "",
        "contribution_deadline": issue.contribution_deadline.isoformat()
        if issue.contribution_deadline
        else "",
    }
    data.update(changes)
    return data


def test_the_year_plan_shows_issues_themes_and_what_is_missing(
    client: FlaskClient, editor: User, issue: Issue
) -> None:
    page = client.get("/admin/plan/2026").get_data(as_text=True)
    assert "Jaarplan 2026" in page
    assert "Nummer 1 · Schulden" in page
    assert "Verschulding" in page
    assert "bijdragen tot 24 februari" in page
    assert "Er ontbreken nog 6 nummers." in page


def test_the_number_of_issues_a_year_is_a_setting_of_the_plan(
    client: FlaskClient, editor: User, issue: Issue
) -> None:
    client.post("/admin/plan/2026/target", data={"target_issues": 8})
    page = client.get("/admin/plan/2026").get_data(as_text=True)
    assert "van de 8 die de redactie dit jaar wil maken" in page


def test_planning_an_issue_gives_it_the_next_number_and_checks_the_deadline(
    client: FlaskClient, editor: User, issue: Issue
) -> None:
    refused = client.post(
        "/admin/issues/new?year=2026",
        data={"title": "Werk", "theme": 0, "planned_date": "2026-05-01",
              "contribution_deadline": "2026-05-10"},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "vóór de verschijningsdatum" in refused.get_data(as_text=True)
    client.post(
        "/admin/issues/new?year=2026",
        data={"title": "Werk", "theme": 0, "planned_date": "2026-05-01",
              "contribution_deadline": "2026-04-20"},
    )  # fmt: skip
    numbers = db.session.scalars(select(Issue.number).filter_by(year=2026)).all()
    assert sorted(numbers) == [1, 2]


def test_an_editor_writes_the_issue_and_it_becomes_a_draft(
    client: FlaskClient, editor: User, issue: Issue
) -> None:
    response = client.post(
        f"/admin/issues/{issue.id}",
        data=issue_form(issue, title="Schulden en armoede", intro="Welkom **lezer**."),
    )
    assert response.status_code == 302
    db.session.refresh(issue)
    assert issue.title == "Schulden en armoede"
    assert issue.slug == "schulden-en-armoede"
    assert issue.status == IssueStatus.DRAFT
    assert issue.version == 2
    assert issue.last_editor_id == editor.id


def test_a_save_based_on_an_older_version_keeps_the_text_and_explains(
    app: Flask, client: FlaskClient, editor: User, issue: Issue
) -> None:
    other = make_user("ger@socialealliantie.nl", Role.EDITOR)
    stale = issue_form(issue, title="Mijn titel")
    operations.save_issue(
        issue, other, utcnow(), based_on=issue.version, title="Titel van Ger",
        preheader="", intro="", theme=None, planned_date=None,
        contribution_deadline=None,
    )  # fmt: skip
    db.session.commit()
    response = client.post(f"/admin/issues/{issue.id}", data=stale)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Ger heeft dit nummer intussen gewijzigd" in page
    assert 'value="Mijn titel"' in page  # the editor's own text is still there
    db.session.refresh(issue)
    assert issue.title == "Titel van Ger"


def test_autosave_answers_with_the_new_version_and_refuses_a_stale_one(
    client: FlaskClient, editor: User, issue: Issue
) -> None:
    saved = client.post(
        f"/admin/issues/{issue.id}/autosave", data=issue_form(issue, intro="Eerste")
    )
    assert saved.status_code == 200
    assert saved.get_json()["version"] == 2
    stale = client.post(
        f"/admin/issues/{issue.id}/autosave",
        data=issue_form(issue, version=1, intro="Tweede"),
    )
    assert stale.status_code == 409
    assert "intussen gewijzigd" in stale.get_json()["error"]["message"]
    db.session.refresh(issue)
    assert issue.intro == "Eerste"


def _article(client: FlaskClient, issue: Issue, title: str, **extra: object):  # noqa: ANN202
    db.session.refresh(issue)
    data = {"version": issue.version, "title": title, "body": "Tekst.", **extra}
    return client.post(
        f"/admin/issues/{issue.id}/articles/new",
        data=data,
        content_type="multipart/form-data",
    )


def test_articles_are_added_reordered_duplicated_and_removed(
    client: FlaskClient, editor: User, issue: Issue
) -> None:
    for title in ("Een", "Twee", "Drie"):
        assert _article(client, issue, title).status_code == 302
    db.session.refresh(issue)
    first, second, third = issue.articles
    client.post(
        f"/admin/issues/{issue.id}/articles/{third.id}/move", data={"direction": "up"}
    )
    client.post(f"/admin/issues/{issue.id}/articles/{first.id}/duplicate")
    response = client.post(f"/admin/issues/{issue.id}/articles/{second.id}/delete")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "“Twee” is verwijderd." in page
    db.session.refresh(issue)
    assert [a.title for a in issue.articles] == ["Een", "Een (kopie)", "Drie"]
    assert [a.position for a in issue.articles] == [0, 1, 2]


def test_an_image_is_scaled_for_email_and_needs_a_description(
    app: Flask, client: FlaskClient, editor: User, issue: Issue
) -> None:
    refused = _article(client, issue, "Met foto", image=(io.BytesIO(png()), "foto.png"))
    assert refused.status_code == 422
    assert "Beschrijf de afbeelding" in refused.get_data(as_text=True)

    done = _article(
        client,
        issue,
        "Met foto",
        image=(io.BytesIO(png()), "foto.png"),
        image_alt="Een rode vlakte",
    )
    assert done.status_code == 302
    db.session.refresh(issue)
    image = issue.articles[0].image
    assert (image.width, image.height) == (1200, 600)
    served = client.get(f"/media/{image.filename}")
    assert served.status_code == 200
    assert "immutable" in served.headers["Cache-Control"]
    served.close()
    assert f"/media/{image.filename}" in operations.render(issue).html


def test_a_file_that_is_not_an_image_is_refused_with_a_clear_message(
    client: FlaskClient, editor: User, issue: Issue
) -> None:
    response = _article(
        client,
        issue,
        "Geen foto",
        image=(io.BytesIO(b"%PDF-1.4 not an image"), "brief.png"),
        image_alt="x",
    )
    assert response.status_code == 422
    assert "Dit bestand is geen afbeelding." in response.get_data(as_text=True)


def test_changing_an_approved_issue_withdraws_the_approval(
    client: FlaskClient, editor: User, issue: Issue
) -> None:
    _article(client, issue, "Een")
    other = make_user("hub@socialealliantie.nl", Role.EDITOR)
    db.session.refresh(issue)
    operations.submit_for_review(issue, editor, utcnow())
    operations.approve(issue, other, utcnow())
    db.session.commit()
    response = client.post(
        f"/admin/issues/{issue.id}", data=issue_form(issue, title="Nieuwe titel")
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "De goedkeuring is ingetrokken" in page
    db.session.refresh(issue)
    assert issue.status == IssueStatus.IN_REVIEW
    assert issue.approved_hash is None


def test_themes_are_added_and_renamed(client: FlaskClient, editor: User) -> None:
    client.post("/admin/themes/new", data={"name": "Lokaal sociaal beleid"})
    theme = db.session.scalar(select(Theme))
    assert theme.slug == "lokaal-sociaal-beleid"
    client.post(f"/admin/themes/{theme.id}", data={"name": "Lokaal beleid"})
    db.session.refresh(theme)
    assert (theme.name, theme.slug) == ("Lokaal beleid", "lokaal-sociaal-beleid")
    duplicate = client.post("/admin/themes/new", data={"name": "Lokaal sociaal beleid"})
    assert duplicate.status_code == 422
