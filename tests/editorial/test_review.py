"""Preview, checklist, test send, four-eyes approval and scheduling of an issue."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from html import unescape

from flask import Flask
from flask.testing import FlaskClient

from service.db import utcnow
from service.editorial import operations
from service.editorial.models import Issue, IssueStatus, User
from service.extensions import db
from service.security import Role
from service.subscribers.models import MailingList
from tests.conftest import NOW, Outbox, html_of, login, make_list, make_user
from tests.smtp import SMTPSink

#: far enough ahead that "in the future" holds for years; a Friday, not a holiday
NEXT_YEAR = utcnow().year + 1


def a_friday_in(year: int) -> date:
    """Return the first Friday of June of `year` (never a Dutch public holiday)."""
    day = date(year, 6, 1)
    return day + timedelta(days=(4 - day.weekday()) % 7)


def kings_day(year: int) -> date:
    """Return Koningsdag of `year` (27 April, or the 26th when that is a Sunday)."""
    day = date(year, 4, 27)
    return day - timedelta(days=1) if day.weekday() == 6 else day


def write_issue(editor: User, **article: object) -> Issue:
    """Plan an issue and write one article into it, as `editor`."""
    issue = operations.plan_issue(
        year=NEXT_YEAR,
        theme=None,
        planned_date=a_friday_in(NEXT_YEAR),
        contribution_deadline=None,
        title="Armoede in cijfers",
    )
    issue.preheader = "Wat de nieuwe cijfers zeggen over armoede in Nederland"
    values = {"title": "De cijfers", "body": "Eén op de twintig huishoudens."}
    operations.add_article(issue, editor, NOW, **{**values, **article})
    db.session.commit()
    return issue


def approved_issue(writer: User, approver: User) -> Issue:
    """Return an issue written by `writer` and approved by `approver`."""
    issue = write_issue(writer)
    operations.submit_for_review(issue, writer, NOW)
    operations.approve(issue, approver, NOW)
    db.session.commit()
    return issue


def schedule_data(day: date, clock: str, *lists: MailingList, **extra: str) -> dict:
    return {
        "day": day.isoformat(),
        "clock": clock,
        "lists": [str(item.id) for item in lists],
        **extra,
    }


def submit(client: FlaskClient, url: str, **kwargs: object) -> object:
    """POST a form and read the page it sends the editor to, as a browser would.

    (The test client's follow_redirects would run the second request outside the
    isolated app context; see IsolatedClient.)
    """
    response = client.post(url, **kwargs)
    assert response.status_code in (302, 303), page(response)
    return client.get(response.headers["Location"])


def page(response: object) -> str:
    """Return the page as the editor reads it (entities such as &#39; resolved)."""
    return unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


# Preview and checklist -------------------------------------------------------------


def test_the_preview_shows_the_mail_at_two_widths_with_its_plain_text(
    client: FlaskClient,
) -> None:
    editor = make_user()
    issue = write_issue(editor)
    login(client, editor)
    response = client.get(f"/admin/issues/{issue.id}/preview")
    assert response.status_code == 200
    text = page(response)
    frame = f'src="/admin/issues/{issue.id}/preview.html"'
    assert text.count(frame) == 2
    assert 'class="preview-frame preview-phone" sandbox' in text
    assert 'class="preview-frame preview-desktop" sandbox' in text
    assert "Eén op de twintig huishoudens." in text  # the plain text beside it
    assert "__PB_" not in text
    assert "Webversie in het archief" not in text  # not sent yet


def test_the_preview_html_runs_nothing_under_a_sandbox_csp(
    client: FlaskClient,
) -> None:
    editor = make_user()
    issue = write_issue(editor)
    login(client, editor)
    response = client.get(f"/admin/issues/{issue.id}/preview.html")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == (
        "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; sandbox"
    )
    html = page(response)
    assert "<h1" in html and "Armoede in cijfers" in html
    assert "__PB_UNSUBSCRIBE_URL__" not in html
    assert "/unsubscribe/voorbeeld" in html


def test_the_checklist_says_each_verdict_in_words(client: FlaskClient) -> None:
    editor = make_user()
    issue = write_issue(editor)
    login(client, editor)
    text = page(client.get(f"/admin/issues/{issue.id}/preview"))
    assert "Controle voor verzending" in text
    assert "Lengte van het onderwerp" in text
    assert "Afmeldlink" in text
    assert "in orde" in text
    assert "probleem" not in text


def test_the_checklist_flags_a_missing_alt_text_and_a_long_subject(
    client: FlaskClient,
) -> None:
    editor = make_user()
    issue = write_issue(editor)
    issue.title = "Een titel die zo lang is dat hij op geen enkele telefoon past, echt"
    operations.add_article(
        issue, editor, NOW, title="Foto zonder uitleg", body="Tekst."
    )
    issue.articles[-1].image = _image()
    db.session.commit()
    login(client, editor)
    text = page(client.get(f"/admin/issues/{issue.id}/preview"))
    assert "Geef de afbeelding een alt-tekst bij: “Foto zonder uitleg”." in text
    assert "boven de 60 wordt het op een telefoon afgekapt" in text
    assert "probleem" in text and "let op" in text


def test_the_checklist_flags_an_issue_over_gmails_clipping_limit(
    client: FlaskClient,
) -> None:
    editor = make_user()
    issue = write_issue(editor, body="Een lange alinea over schulden. " * 4000)
    login(client, editor)
    text = page(client.get(f"/admin/issues/{issue.id}/preview"))
    assert "Gmail toont dan maar een deel" in text


def test_markup_typed_in_an_article_is_not_taken_for_a_template_leftover(
    client: FlaskClient,
) -> None:
    editor = make_user()
    issue = write_issue(editor, body="Typ gerust {{ config }} in een tekst.")
    login(client, editor)
    text = page(client.get(f"/admin/issues/{issue.id}/preview"))
    # The sandbox prints it literally; the checklist does point it out.
    assert "{{ config }}" in text
    assert "Gevonden in de HTML-versie" in text
    assert "test-secret-key" not in text


def test_checking_the_links_names_the_one_that_does_not_answer(
    client: FlaskClient, app: Flask
) -> None:
    import threading
    from http.server import ThreadingHTTPServer

    from tests.editorial.test_checks import _Site  # the same tiny local site

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    site = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        editor = make_user()
        issue = write_issue(
            editor,
            body=f"Zie [het rapport]({site}/ok).",
            link_url=f"{site}/weg",
            button_text="Lees meer",
        )
        login(client, editor)
        response = client.post(f"/admin/issues/{issue.id}/check-links")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    text = page(response)
    assert response.status_code == 200
    assert "Elke link werkt" in text
    assert f"1 van de 2 links werken niet: {site}/weg (404)" in text
    assert f"werkt</strong> — {site}/ok (200)" in text


def _image() -> object:
    from service.editorial.models import Image

    image = Image(filename="abc.png", mime_type="image/png", width=1, height=1, size=1)
    db.session.add(image)
    db.session.flush()
    return image


# Test send -------------------------------------------------------------------------


def test_each_chosen_editor_gets_their_own_test_copy(
    client: FlaskClient, outbox: Outbox
) -> None:
    editor = make_user("anna@postbode.nl")
    other = make_user("bram@postbode.nl")
    make_user("cor@postbode.nl", role=Role.CORRESPONDENT)
    issue = write_issue(editor)
    login(client, editor)
    form = page(client.get(f"/admin/issues/{issue.id}/preview"))
    assert "bram@postbode.nl" in form and "cor@postbode.nl" not in form
    response = submit(
        client,
        f"/admin/issues/{issue.id}/test",
        data={"recipients": [str(editor.id), str(other.id)]},
    )
    assert "De testversie is naar 2 redacteuren verstuurd." in page(response)
    for address in ("anna@postbode.nl", "bram@postbode.nl"):
        (message,) = outbox.to(address)
        assert message["Subject"] == "[TEST] Armoede in cijfers"
        assert message["To"].addresses[0].addr_spec == address
        assert "__PB_" not in html_of(message)
    assert outbox.to("cor@postbode.nl") == []


def test_a_test_copy_goes_over_smtp_when_a_server_is_set(
    smtp_app: Flask, smtp_sink: SMTPSink
) -> None:
    client = smtp_app.test_client()
    editor = make_user()
    issue = write_issue(editor)
    login(client, editor)
    client.post(f"/admin/issues/{issue.id}/test", data={"recipients": [editor.id]})
    (received,) = smtp_sink.messages
    assert received.rcpt_tos == [editor.email]
    assert received.message["Subject"] == "[TEST] Armoede in cijfers"


def test_a_test_send_without_a_recipient_says_so_next_to_the_choice(
    client: FlaskClient, outbox: Outbox
) -> None:
    editor = make_user()
    issue = write_issue(editor)
    login(client, editor)
    response = client.post(f"/admin/issues/{issue.id}/test", data={})
    assert response.status_code == 422
    assert "Kies ten minste één redacteur." in page(response)
    assert outbox.messages() == []


# Review and four-eyes approval -----------------------------------------------------


def test_the_last_editor_cannot_approve_and_another_can(app: Flask) -> None:
    anna, bram = make_user("anna@postbode.nl"), make_user("bram@postbode.nl")
    issue = write_issue(anna)
    first, second = app.test_client(), app.test_client()
    login(first, anna)
    login(second, bram)
    response = submit(first, f"/admin/issues/{issue.id}/review")
    assert "Het nummer ligt ter controle." in page(response)
    # The last editor is told why, instead of being offered the button.
    mine = first.get(f"/admin/issues/{issue.id}/preview").get_data(as_text=True)
    theirs = second.get(f"/admin/issues/{issue.id}/preview").get_data(as_text=True)
    assert ">Goedkeuren</button>" not in mine and "(vier ogen)" in mine
    assert ">Goedkeuren</button>" in theirs
    refused = submit(first, f"/admin/issues/{issue.id}/approve")
    assert "Een andere redacteur moet het goedkeuren (vier ogen)." in page(refused)
    assert issue.status == IssueStatus.IN_REVIEW
    accepted = submit(second, f"/admin/issues/{issue.id}/approve")
    text = page(accepted)
    assert "Goedgekeurd. Het nummer kan nu worden ingepland." in text
    assert "door Bram op" in text
    assert issue.status == IssueStatus.APPROVED
    assert issue.approved_hash == operations.content_hash(operations.render(issue))


def test_an_issue_without_articles_cannot_go_to_review(client: FlaskClient) -> None:
    editor = make_user()
    issue = operations.plan_issue(
        year=NEXT_YEAR,
        theme=None,
        planned_date=None,
        contribution_deadline=None,
        title="Leeg",
    )
    login(client, editor)
    response = submit(client, f"/admin/issues/{issue.id}/review")
    assert "Een nummer heeft ten minste één artikel nodig." in page(response)
    assert issue.status == IssueStatus.PLANNED


def test_a_change_after_approval_withdraws_it_and_scheduling_is_refused(
    client: FlaskClient,
) -> None:
    anna, bram = make_user("anna@postbode.nl"), make_user("bram@postbode.nl")
    issue = write_issue(anna)
    login(client, bram)
    client.post(f"/admin/issues/{issue.id}/review")
    client.post(f"/admin/issues/{issue.id}/approve")
    assert issue.status == IssueStatus.APPROVED
    operations.add_article(issue, anna, NOW, title="Nog een stuk", body="Later.")
    db.session.commit()
    text = page(client.get(f"/admin/issues/{issue.id}/preview"))
    assert "Goedkeuring ingetrokken." in text
    assert "Bram keurde dit nummer goed op" in text
    nieuwsbrief = make_list()
    response = submit(
        client,
        f"/admin/issues/{issue.id}/schedule",
        data=schedule_data(a_friday_in(NEXT_YEAR), "09:30", nieuwsbrief),
    )
    assert "Alleen een goedgekeurd nummer kan worden ingepland." in page(response)
    assert issue.status == IssueStatus.IN_REVIEW
    assert issue.send_at is None


# Scheduling ------------------------------------------------------------------------


def test_scheduling_converts_amsterdam_time_and_names_the_weekday(
    client: FlaskClient,
) -> None:
    issue = approved_issue(make_user("anna@postbode.nl"), make_user("b@postbode.nl"))
    nieuwsbrief, other = make_list(), make_list("leden", "Leden")
    login(client, issue.last_editor)
    day = a_friday_in(NEXT_YEAR)
    response = submit(
        client,
        f"/admin/issues/{issue.id}/schedule",
        data=schedule_data(day, "09:30", nieuwsbrief),
    )
    text = page(response)
    assert f"Ingepland voor vrijdag {day.day} juni {NEXT_YEAR} om 09:30." in text
    assert issue.status == IssueStatus.SCHEDULED
    assert issue.send_at == datetime(day.year, 6, day.day, 7, 30)  # CEST is UTC+2
    assert [row.list_id for row in issue.audience] == [nieuwsbrief.id]
    # Rescheduling while scheduled: another time and another list.
    client.post(
        f"/admin/issues/{issue.id}/schedule",
        data=schedule_data(day, "10:00", other),
    )
    assert issue.send_at == datetime(day.year, 6, day.day, 8, 0)
    assert [row.list_id for row in issue.audience] == [other.id]


def test_the_schedule_page_offers_newsletter_lists_only(client: FlaskClient) -> None:
    from service.subscribers.models import ListKind

    issue = approved_issue(make_user("anna@postbode.nl"), make_user("b@postbode.nl"))
    make_list("nieuwsbrief", "Nieuwsbrief")
    make_list("raden", "Gemeenteraden", kind=ListKind.CONTACTS, is_public=False)
    login(client, issue.last_editor)
    text = page(client.get(f"/admin/issues/{issue.id}/schedule"))
    assert "Nieuwsbrief" in text and "Gemeenteraden" not in text
    assert f'value="{a_friday_in(NEXT_YEAR).isoformat()}"' in text  # planned date


def test_scheduling_on_kings_day_warns_and_needs_the_tick(
    client: FlaskClient,
) -> None:
    issue = approved_issue(make_user("anna@postbode.nl"), make_user("b@postbode.nl"))
    nieuwsbrief = make_list()
    login(client, issue.last_editor)
    day = kings_day(NEXT_YEAR)
    response = client.post(
        f"/admin/issues/{issue.id}/schedule",
        data=schedule_data(day, "10:00", nieuwsbrief),
    )
    assert response.status_code == 422
    text = page(response)
    assert "is het Koningsdag, een feestdag" in text
    assert "Toch op dit moment versturen" in text
    assert "Vink dit aan als u toch op dit moment wilt versturen." in text
    assert issue.status == IssueStatus.APPROVED
    client.post(
        f"/admin/issues/{issue.id}/schedule",
        data=schedule_data(day, "10:00", nieuwsbrief, anyway="y"),
    )
    assert issue.status == IssueStatus.SCHEDULED


def test_scheduling_at_eleven_at_night_warns_and_needs_the_tick(
    client: FlaskClient,
) -> None:
    issue = approved_issue(make_user("anna@postbode.nl"), make_user("b@postbode.nl"))
    nieuwsbrief = make_list()
    login(client, issue.last_editor)
    data = schedule_data(a_friday_in(NEXT_YEAR), "23:00", nieuwsbrief)
    response = client.post(f"/admin/issues/{issue.id}/schedule", data=data)
    assert response.status_code == 422
    text = page(response)
    assert "23:00 is 's nachts" in text
    assert "Vink dit aan als u toch op dit moment wilt versturen." in text
    assert issue.status == IssueStatus.APPROVED
    client.post(f"/admin/issues/{issue.id}/schedule", data={**data, "anyway": "y"})
    assert issue.status == IssueStatus.SCHEDULED


def test_a_moment_in_the_past_is_refused_next_to_the_date(
    client: FlaskClient,
) -> None:
    issue = approved_issue(make_user("anna@postbode.nl"), make_user("b@postbode.nl"))
    nieuwsbrief = make_list()
    login(client, issue.last_editor)
    yesterday = (utcnow() - timedelta(days=1)).date()
    response = client.post(
        f"/admin/issues/{issue.id}/schedule",
        data=schedule_data(yesterday, "12:00", nieuwsbrief, anyway="y"),
    )
    assert response.status_code == 422
    assert 'id="day-error">Kies een moment in de toekomst.' in page(response)
    assert issue.status == IssueStatus.APPROVED


def test_scheduling_without_a_list_is_refused_next_to_the_lists(
    client: FlaskClient,
) -> None:
    issue = approved_issue(make_user("anna@postbode.nl"), make_user("b@postbode.nl"))
    make_list()
    login(client, issue.last_editor)
    response = client.post(
        f"/admin/issues/{issue.id}/schedule",
        data=schedule_data(a_friday_in(NEXT_YEAR), "09:30"),
    )
    assert response.status_code == 422
    assert "Kies ten minste één lijst." in page(response)


def test_unscheduling_keeps_the_approval_and_cancelling_ends_the_issue(
    client: FlaskClient,
) -> None:
    issue = approved_issue(make_user("anna@postbode.nl"), make_user("b@postbode.nl"))
    nieuwsbrief = make_list()
    login(client, issue.last_editor)
    client.post(
        f"/admin/issues/{issue.id}/schedule",
        data=schedule_data(a_friday_in(NEXT_YEAR), "09:30", nieuwsbrief),
    )
    preview = page(client.get(f"/admin/issues/{issue.id}/preview"))
    assert "Niet meer inplannen" in preview
    response = submit(client, f"/admin/issues/{issue.id}/unschedule")
    assert "Het blijft goedgekeurd." in page(response)
    assert issue.status == IssueStatus.APPROVED and issue.send_at is None
    response = submit(client, f"/admin/issues/{issue.id}/cancel")
    assert "Het nummer vervalt en wordt niet verstuurd." in page(response)
    assert issue.status == IssueStatus.CANCELLED


def test_correspondents_cannot_reach_the_review_pages(client: FlaskClient) -> None:
    issue = write_issue(make_user())
    login(client, make_user("cor@postbode.nl", role=Role.CORRESPONDENT))
    assert client.get(f"/admin/issues/{issue.id}/preview").status_code == 403
    assert client.post(f"/admin/issues/{issue.id}/approve").status_code == 403


def test_an_editor_reading_english_gets_the_checklist_and_moment_in_english(
    client: FlaskClient,
) -> None:
    issue = approved_issue(make_user("anna@postbode.nl"), make_user("b@postbode.nl"))
    nieuwsbrief = make_list()
    login(client, issue.last_editor)
    text = page(client.get(f"/admin/issues/{issue.id}/preview?lang=en"))
    assert "Checks before sending" in text
    assert "Subject length" in text
    assert "in orde" not in text  # the verdicts are in English too
    day = a_friday_in(NEXT_YEAR)
    response = submit(
        client,
        f"/admin/issues/{issue.id}/schedule",
        data=schedule_data(day, "09:30", nieuwsbrief),
    )
    assert f"Scheduled for Friday {day.day} June {NEXT_YEAR} at 09:30." in page(
        response
    )


def test_a_test_copy_the_mail_server_refuses_is_reported_not_a_crash(
    app: Flask, client: FlaskClient
) -> None:
    from tests.smtp import free_port

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nobody there
    editor = make_user()
    issue = write_issue(editor)
    login(client, editor)
    response = submit(
        client, f"/admin/issues/{issue.id}/test", data={"recipients": [editor.id]}
    )
    text = page(response)
    assert "De mailserver nam de testversie niet aan voor: Redacteur." in text
    assert "De testversie is naar" not in text
