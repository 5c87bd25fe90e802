"""Correspondents send in contributions, editors decide, and deadlines are reminded."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from PIL import Image as PILImage
from sqlalchemy import func, select

from service.db import utcnow
from service.editorial import contributions, operations
from service.editorial.models import (
    Contribution,
    ContributionStatus,
    Image,
    Issue,
    IssueStatus,
    User,
)
from service.extensions import db
from service.security import Role
from tests.conftest import NOW, Outbox, login, make_user, text_of


def today() -> date:
    """Return today's date in Amsterdam, as the pages count deadlines."""
    return contributions.local_today(utcnow())


def plan(deadline: date, title: str = "Verschulding") -> Issue:
    """Add an issue to the year plan with a contribution deadline."""
    issue = operations.plan_issue(
        year=deadline.year,
        theme=None,
        planned_date=None,
        contribution_deadline=deadline,
        title=title,
    )
    db.session.commit()
    return issue


def correspondent(email: str = "anna@postbode.nl") -> User:
    """Add a correspondent account."""
    return make_user(email, role=Role.CORRESPONDENT)


def png() -> bytes:
    """Return a small PNG made in memory."""
    buffer = io.BytesIO()
    PILImage.new("RGB", (40, 30), (179, 38, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def submit(
    client: FlaskClient, issue: Issue, *, image: bool = False, alt: str = ""
) -> object:
    """Post the contribution form as a correspondent's browser does."""
    data: dict[str, object] = {
        "title": "Schuldhulp in Drenthe",
        "body": "De wachtlijsten worden **korter**.",
        "image_alt": alt,
    }
    if image:
        data["image"] = (io.BytesIO(png()), "wachtkamer.png")
    return client.post(
        f"/admin/contributions/issue/{issue.id}/new",
        data=data,
        content_type="multipart/form-data",
    )


def contribution_for(issue: Issue, author: User) -> Contribution:
    """Add a submitted contribution directly, as if sent in before."""
    contribution = contributions.submit(
        issue, author, utcnow(), title="Voedselbank Assen", body="Een *drukke* winter."
    )
    db.session.commit()
    return contribution


# Correspondents ---------------------------------------------------------------------


def test_a_correspondent_sees_the_open_issues_and_how_many_days_are_left(
    client: FlaskClient,
) -> None:
    plan(today() + timedelta(days=5), "Verschulding")
    plan(today() - timedelta(days=1), "Armoede")
    login(client, correspondent())
    page = client.get("/admin/contributions/").get_data(as_text=True)
    assert "Verschulding" in page
    assert "nog 5 dagen" in page
    assert "Armoede" not in page  # its deadline passed yesterday
    front = client.get("/admin/").get_data(as_text=True)
    assert "nog 5 dagen" in front
    assert "Bijdragen" in front  # in the menu


def test_the_deadline_day_itself_is_still_open(client: FlaskClient) -> None:
    plan(today(), "Lokaal sociaal beleid")
    login(client, correspondent())
    page = client.get("/admin/contributions/").get_data(as_text=True)
    assert "Lokaal sociaal beleid" in page
    assert "vandaag" in page


def test_a_correspondent_sends_in_a_contribution_with_an_image_and_sees_it_submitted(
    client: FlaskClient,
) -> None:
    issue = plan(today() + timedelta(days=3))
    login(client, correspondent())
    response = submit(client, issue, image=True, alt="Een volle wachtkamer")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Schuldhulp in Drenthe" in page
    assert "ingediend" in page
    assert "<strong>korter</strong>" in page
    assert 'alt="Een volle wachtkamer"' in page
    overview = client.get("/admin/contributions/").get_data(as_text=True)
    assert "Schuldhulp in Drenthe" in overview


def test_an_image_without_alt_text_is_refused_next_to_the_field(
    client: FlaskClient,
) -> None:
    issue = plan(today() + timedelta(days=3))
    login(client, correspondent())
    response = submit(client, issue, image=True, alt="  ")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Beschrijf de afbeelding in een korte zin" in page
    assert "De wachtlijsten worden" in page  # the text typed is still there
    assert db.session.scalar(select(func.count()).select_from(Contribution)) == 0
    assert db.session.scalar(select(func.count()).select_from(Image)) == 0


def test_a_submission_after_the_deadline_is_refused_with_a_clear_sentence(
    client: FlaskClient,
) -> None:
    issue = plan(today() - timedelta(days=1))
    login(client, correspondent())
    response = submit(client, issue)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "De deadline voor dit nummer is verstreken" in page
    assert "Schuldhulp in Drenthe" in page  # nothing typed is lost
    assert db.session.scalar(select(func.count()).select_from(Contribution)) == 0


def test_a_correspondent_sees_no_readers_and_cannot_decide(
    client: FlaskClient,
) -> None:
    issue = plan(today() + timedelta(days=3))
    anna, bert = correspondent(), correspondent("bert@postbode.nl")
    theirs = contribution_for(issue, bert)
    login(client, anna)
    assert client.get("/admin/subscribers/").status_code == 403
    assert client.get(f"/admin/contributions/issue/{issue.id}").status_code == 403
    accept = client.post(f"/admin/contributions/{theirs.id}/accept")
    assert accept.status_code == 403
    send_back = client.post(
        f"/admin/contributions/{theirs.id}/return", data={"return-note": "Nee."}
    )
    assert send_back.status_code == 403
    assert client.get(f"/admin/contributions/{theirs.id}").status_code == 404
    assert (
        db.session.get(Contribution, theirs.id).status == ContributionStatus.SUBMITTED
    )


# Editors ----------------------------------------------------------------------------


def test_an_accepted_contribution_becomes_the_last_article_credited_to_its_author(
    app: Flask, client: FlaskClient, outbox: Outbox
) -> None:
    issue = plan(today() + timedelta(days=3))
    operations.add_article(issue, make_user(), NOW, title="Inleiding", body="Eerst.")
    db.session.commit()
    anna = correspondent()
    contribution = contribution_for(issue, anna)
    login(client, make_user("eva@postbode.nl"))
    listing = client.get("/admin/contributions/").get_data(as_text=True)
    assert "Voedselbank Assen" in listing  # among the new ones
    response = client.post(
        f"/admin/contributions/{contribution.id}/accept",
        data={"accept-note": "Mooi stuk."},
    )
    assert response.status_code == 302
    articles = db.session.get(Issue, issue.id).articles
    assert [a.title for a in articles] == ["Inleiding", "Voedselbank Assen"]
    assert articles[-1].author == anna.display_name
    assert articles[-1].contribution_id == contribution.id
    [mail] = outbox.to(anna.email)
    assert "overgenomen" in mail["Subject"]
    assert "Mooi stuk." in text_of(mail)
    client.post("/admin/logout")
    login(client, anna)
    assert "overgenomen" in client.get("/admin/contributions/").get_data(as_text=True)


def test_a_returned_contribution_carries_the_editors_note_to_its_author(
    client: FlaskClient, outbox: Outbox
) -> None:
    issue = plan(today() + timedelta(days=3))
    anna = correspondent()
    contribution = contribution_for(issue, anna)
    login(client, make_user("eva@postbode.nl"))
    empty = client.post(
        f"/admin/contributions/{contribution.id}/return", data={"return-note": ""}
    )
    assert empty.status_code == 422
    assert "Schrijf erbij waarom" in empty.get_data(as_text=True)
    response = client.post(
        f"/admin/contributions/{contribution.id}/return",
        data={"return-note": "Graag korter, hoogstens 300 woorden."},
    )
    assert response.status_code == 302
    assert db.session.get(Issue, issue.id).articles == []
    [mail] = outbox.to(anna.email)
    assert "teruggestuurd" in mail["Subject"]
    assert "Graag korter, hoogstens 300 woorden." in text_of(mail)
    client.post("/admin/logout")
    login(client, anna)
    page = client.get("/admin/contributions/").get_data(as_text=True)
    assert "teruggestuurd" in page
    assert "Graag korter, hoogstens 300 woorden." in page


def test_an_editor_sees_the_contributions_of_one_issue(client: FlaskClient) -> None:
    issue = plan(today() + timedelta(days=3), "Verschulding")
    other = plan(today() + timedelta(days=30), "Armoede")
    contribution_for(issue, correspondent())
    login(client, make_user())
    page = client.get(f"/admin/contributions/issue/{issue.id}").get_data(as_text=True)
    assert "Voedselbank Assen" in page
    assert "Anna" in page
    elsewhere = client.get(f"/admin/contributions/issue/{other.id}")
    assert "Voedselbank Assen" not in elsewhere.get_data(as_text=True)


def test_a_contribution_is_decided_only_once(client: FlaskClient) -> None:
    issue = plan(today() + timedelta(days=3))
    contribution = contribution_for(issue, correspondent())
    login(client, make_user())
    client.post(f"/admin/contributions/{contribution.id}/accept")
    again = client.post(f"/admin/contributions/{contribution.id}/accept")
    assert again.status_code == 302
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "Over deze bijdrage is al besloten." in page
    assert len(db.session.get(Issue, issue.id).articles) == 1


def test_accepting_into_an_approved_issue_withdraws_the_approval(
    client: FlaskClient,
) -> None:
    issue = plan(today() + timedelta(days=3))
    writer, approver = make_user(), make_user("eva@postbode.nl")
    operations.add_article(issue, writer, NOW, title="Inleiding", body="Eerst.")
    issue.title = "Verschulding"
    operations.submit_for_review(issue, writer, NOW)
    db.session.commit()
    contribution = contribution_for(issue, correspondent())
    operations.approve(issue, approver, NOW)
    db.session.commit()
    # An approved issue no longer takes contributions from correspondents, but one
    # sent in before may still be taken in by an editor.
    login(client, approver)
    response = client.post(f"/admin/contributions/{contribution.id}/accept")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "De goedkeuring is ingetrokken" in page
    assert db.session.get(Issue, issue.id).status == IssueStatus.IN_REVIEW


# The reminder -----------------------------------------------------------------------


def test_the_reminder_reaches_every_active_correspondent_once(
    app: Flask, outbox: Outbox
) -> None:
    near = plan(date(2026, 3, 6), "Verschulding")  # four days after NOW
    plan(date(2026, 4, 20), "Armoede")  # far off
    anna, bert = correspondent(), correspondent("bert@postbode.nl")
    gone = correspondent("gone@postbode.nl")
    gone.is_active = False
    make_user()  # editors get no reminder
    db.session.commit()
    sent = contributions.remind_correspondents(NOW)
    db.session.commit()
    assert [(s.issue.id, sorted(s.recipients)) for s in sent] == [
        (near.id, [anna.email, bert.email])
    ]
    assert [m["X-Postbode-Envelope-To"] for m in outbox.messages()] == [
        anna.email,
        bert.email,
    ]
    mail = outbox.to(anna.email)[0]
    assert "Verschulding" in mail["Subject"]
    assert "vrijdag 6 maart 2026" in text_of(mail)
    assert f"/admin/contributions/issue/{near.id}/new" in text_of(mail)
    assert db.session.get(Issue, near.id).reminder_sent_at == NOW
    assert contributions.remind_correspondents(NOW + timedelta(hours=1)) == []
    assert len(outbox.messages()) == 2


def test_an_english_correspondent_reads_the_deadline_day_first(
    app: Flask, outbox: Outbox
) -> None:
    plan(date(2026, 3, 6), "Verschulding")
    anna = correspondent()
    anna.locale = "en"
    db.session.commit()
    contributions.remind_correspondents(NOW)
    [mail] = outbox.to(anna.email)
    assert mail["Subject"].startswith("Deadline Friday, 6 March 2026: contributions")
    assert "A reminder: you can send in contributions" in text_of(mail)
    assert "March 6" not in text_of(mail)


def test_no_reminder_for_a_passed_deadline_or_a_cancelled_issue(app: Flask) -> None:
    plan(date(2026, 3, 1), "Gisteren")
    cancelled = plan(date(2026, 3, 5), "Vervallen")
    operations.cancel(cancelled)
    correspondent()
    db.session.commit()
    assert contributions.remind_correspondents(NOW) == []


def test_flask_issues_remind_says_what_it_sent(
    app: Flask, runner: FlaskCliRunner, outbox: Outbox
) -> None:
    plan(today() + timedelta(days=2), "Verschulding")
    correspondent()
    result = runner.invoke(args=["issues", "remind"])
    assert result.exit_code == 0, result.output
    assert "reminded 1 correspondent(s)" in result.output
    assert len(outbox.messages()) == 1
    again = runner.invoke(args=["issues", "remind"])
    assert "No reminders due." in again.output
    assert len(outbox.messages()) == 1


def test_deadlines_are_counted_in_amsterdam_time(app: Flask) -> None:
    # 23:30 UTC on 1 March is already 2 March in Amsterdam.
    issue = plan(date(2026, 3, 2))
    late_evening = datetime(2026, 3, 1, 23, 30)
    assert contributions.days_left(issue, late_evening) == 0
    assert contributions.is_open(issue, late_evening)
    assert not contributions.is_open(issue, datetime(2026, 3, 2, 23, 30))
