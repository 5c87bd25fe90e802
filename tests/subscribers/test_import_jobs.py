"""Importing an upload in the background: progress, the report, interruption, access."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.audit import AuditLog
from service.db import utcnow
from service.extensions import db
from service.security import Role
from service.subscribers import import_jobs
from service.subscribers.models import (
    ImportJob,
    ImportJobStatus,
    MailingList,
    Subscriber,
    SubscriberStatus,
)
from tests.conftest import Outbox, login, make_user
from tests.subscribers.conftest import page

#: how long a test waits for an import thread: generous, never part of a check
WAIT_SECONDS = 60

CONTENT = (
    "\ufeffE-mailadres;Naam\n"
    "jan@example.nl;Jan\n"
    "kapot;Piet\n"
    "JAN@EXAMPLE.NL;Jan\n"
    "kees@example.nl;Kees\n"
).encode()


def upload(
    client: FlaskClient,
    mailing_list: MailingList,
    content: bytes = CONTENT,
    **fields: str,
) -> object:
    return client.post(
        "/admin/subscribers/import",
        data={
            "file": (io.BytesIO(content), "leden.csv"),
            "list_id": str(mailing_list.id),
            **fields,
        },
        content_type="multipart/form-data",
    )


def upload_and_wait(
    app: Flask, client: FlaskClient, mailing_list: MailingList, **kwargs: object
) -> str:
    """Upload a file, wait for its thread, and return the job page it led to."""
    response = upload(client, mailing_list, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 303, page(response)  # type: ignore[attr-defined]
    location = response.location  # type: ignore[attr-defined]
    assert re.fullmatch(r"/admin/subscribers/import/\d+", location)
    assert import_jobs.wait_for_threads(app, WAIT_SECONDS)
    db.session.commit()  # read what the thread wrote, not an older snapshot
    return location


def table_rows(text: str) -> list[list[str]]:
    """Return the cells of every table row, as a person reads them."""
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", text, flags=re.S)
    ]


def reader(email: str) -> Subscriber | None:
    return db.session.scalar(select(Subscriber).filter_by(email=email))


def audit(action: str) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).filter_by(action=action)))


def make_job(
    mailing_list: MailingList, *, beat_ago: timedelta = timedelta(0), **values: object
) -> ImportJob:
    """Add a running job as another process would have left it."""
    now = utcnow()
    job = ImportJob(
        mailing_list=mailing_list,
        file_name="groot.csv",
        file_size=1000,
        started_by="Redacteur <redacteur@postbode.nl>",
        status=ImportJobStatus.RUNNING,
        created_at=now - beat_ago - timedelta(minutes=1),
        updated_at=now - beat_ago,
        **values,
    )
    db.session.add(job)
    db.session.commit()
    return job


# The upload and its report -----------------------------------------------------------


def test_an_upload_is_imported_in_the_background_and_every_bad_line_listed(
    app: Flask, editor: FlaskClient, newsletter: MailingList, outbox: Outbox
) -> None:
    location = upload_and_wait(app, editor, newsletter)
    response = editor.get(location)
    text = page(response)
    assert response.status_code == 200
    rows = table_rows(text)
    assert ["3", "ongeldig e-mailadres: kapot"] in rows
    assert ["4", "dubbel: dit adres staat al op regel 2"] in rows
    assert "2 bevestigingsmails verstuurd." in text
    assert "http-equiv" not in text  # a finished report does not refresh itself
    assert reader("kees@example.nl").status == SubscriberStatus.PENDING
    assert reader("jan@example.nl").name == "Jan"
    assert len(outbox.to("kees@example.nl")) == 1
    (entry,) = audit("import.subscribers")
    assert entry.actor == "Redacteur <redacteur@postbode.nl>"
    assert entry.target == "nieuwsbrief"
    assert entry.detail["imported"] == 2 and entry.detail["skipped"] == 2
    assert entry.detail["file"] == "leden.csv"


def test_the_stored_upload_is_removed_once_imported(
    app: Flask, editor: FlaskClient, newsletter: MailingList
) -> None:
    upload_and_wait(app, editor, newsletter)
    assert list(import_jobs.upload_folder().iterdir()) == []


def test_the_progress_of_a_finished_job_is_complete(
    app: Flask, editor: FlaskClient, newsletter: MailingList
) -> None:
    location = upload_and_wait(app, editor, newsletter)
    response = editor.get(f"{location}/progress")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {
        "status": "finished",
        "bytes_read": len(CONTENT),
        "bytes_total": len(CONTENT),
        "percent": 100,
        "lines_read": 5,
        "imported": 2,
        "added": 0,
        "already": 0,
        "skipped": 2,
        "mailed": 2,
    }


def test_an_upload_with_a_stated_consent_source_activates_the_people(
    app: Flask, editor: FlaskClient, newsletter: MailingList, outbox: Outbox
) -> None:
    upload_and_wait(
        app,
        editor,
        newsletter,
        content=b"jan@example.nl,Jan\n",
        consent_source="ledenadministratie 2025",
        attest="y",
    )
    jan = reader("jan@example.nl")
    assert jan.status == SubscriberStatus.ACTIVE
    assert jan.consent_records[0].attested_by == "Redacteur <redacteur@postbode.nl>"
    assert jan.consent_records[0].source == "ledenadministratie 2025"
    assert outbox.messages() == []


def test_an_upload_without_addresses_is_refused_at_once_with_a_sentence(
    app: Flask, editor: FlaskClient, newsletter: MailingList
) -> None:
    response = upload(editor, newsletter, b"naam;plaats\nJan;Utrecht\n")
    assert response.status_code == 422
    assert "Geen kolom met e-mailadressen" in page(response)
    assert db.session.scalars(select(ImportJob)).all() == []
    assert list(import_jobs.upload_folder().iterdir()) == []


def test_importing_the_same_file_again_adds_nobody_twice_and_mails_nobody_twice(
    app: Flask, editor: FlaskClient, newsletter: MailingList, outbox: Outbox
) -> None:
    upload_and_wait(app, editor, newsletter)
    location = upload_and_wait(app, editor, newsletter)
    progress = editor.get(f"{location}/progress").get_json()
    assert progress["imported"] == 0 and progress["already"] == 2
    assert progress["mailed"] == 0
    assert len(outbox.to("kees@example.nl")) == 1


def test_the_import_page_lists_recent_uploads_with_where_they_stand(
    app: Flask, editor: FlaskClient, newsletter: MailingList
) -> None:
    location = upload_and_wait(app, editor, newsletter)
    make_job(newsletter, beat_ago=timedelta(minutes=30))
    text = page(editor.get("/admin/subscribers/import"))
    assert f'href="{location}"' in text
    rows = table_rows(text)
    assert any("leden.csv" in row and "klaar" in row for row in rows)
    assert any("groot.csv" in row and "onderbroken" in row for row in rows)


# While it runs, and when its process died --------------------------------------------


def test_a_running_job_shows_a_progress_bar_that_keeps_itself_up_to_date(
    editor: FlaskClient, newsletter: MailingList
) -> None:
    job = make_job(
        newsletter, bytes_read=400, lines_read=5000, imported=4900, skipped=100
    )
    text = page(editor.get(f"/admin/subscribers/import/{job.id}"))
    assert '<progress max="1000" value="400"' in text
    assert (
        f'data-import-progress-url="/admin/subscribers/import/{job.id}/progress"'
        in text
    )
    assert "import-progress.js" in text
    # Without JavaScript the page refreshes itself, and offers a link to do it now.
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in text
    assert f'href="/admin/subscribers/import/{job.id}"' in text
    assert 'data-count="imported">4900<' in text

    progress = editor.get(f"/admin/subscribers/import/{job.id}/progress").get_json()
    assert progress["status"] == "running"
    assert progress["percent"] == 40
    assert progress["lines_read"] == 5000
    assert progress["imported"] == 4900 and progress["skipped"] == 100


def test_a_job_whose_process_died_is_shown_as_interrupted_with_what_it_did(
    editor: FlaskClient, newsletter: MailingList
) -> None:
    job = make_job(
        newsletter,
        beat_ago=import_jobs.STALE_AFTER + timedelta(seconds=1),
        bytes_read=400,
        lines_read=5000,
        imported=4900,
    )
    text = page(editor.get(f"/admin/subscribers/import/{job.id}"))
    assert "onderbroken" in text
    assert 'data-count="imported">4900<' in text
    assert "http-equiv" not in text and "import-progress.js" not in text
    again = f"/admin/subscribers/import?list_id={newsletter.id}"
    assert f'href="{again}"' in text
    progress = editor.get(f"/admin/subscribers/import/{job.id}/progress").get_json()
    assert progress["status"] == "interrupted"
    # Starting again: the form comes with the job's list chosen.
    form = page(editor.get(again))
    assert re.search(rf'<option selected value="{newsletter.id}">', form)


def test_a_new_upload_removes_the_stored_file_of_a_job_whose_process_died(
    app: Flask, editor: FlaskClient, newsletter: MailingList
) -> None:
    dead = make_job(newsletter, beat_ago=timedelta(hours=1))
    alive = make_job(newsletter)
    for job in (dead, alive):
        import_jobs.stored_file(job.id).write_bytes(b"jan@example.nl\n")
    upload(editor, newsletter)
    assert import_jobs.wait_for_threads(app, WAIT_SECONDS)
    assert not import_jobs.stored_file(dead.id).exists()
    assert import_jobs.stored_file(alive.id).exists()


def test_a_job_that_fails_says_so_and_is_written_to_the_audit_log(
    app: Flask, editor: FlaskClient, newsletter: MailingList
) -> None:
    job = make_job(newsletter)  # its stored file is missing: reading it fails
    import_jobs.run_job(app, job.id)
    db.session.commit()
    db.session.refresh(job)
    assert job.status == ImportJobStatus.FAILED
    assert job.finished_at is not None
    text = page(editor.get(f"/admin/subscribers/import/{job.id}"))
    assert "Er ging iets mis bij het importeren." in text
    assert "mislukt" in text
    (entry,) = audit("import.subscribers")
    assert entry.detail["job"] == job.id and "error" in entry.detail


# Who may follow imports --------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/progress"])
def test_correspondents_cannot_follow_an_import(
    client: FlaskClient, newsletter: MailingList, suffix: str
) -> None:
    job = make_job(newsletter, imported=12)
    login(client, make_user("correspondent@postbode.nl", Role.CORRESPONDENT))
    response = client.get(f"/admin/subscribers/import/{job.id}{suffix}")
    assert response.status_code == 403
    assert "groot.csv" not in page(response)


def test_correspondents_cannot_upload(
    client: FlaskClient, newsletter: MailingList
) -> None:
    login(client, make_user("correspondent@postbode.nl", Role.CORRESPONDENT))
    assert upload(client, newsletter).status_code == 403
    assert db.session.scalars(select(ImportJob)).all() == []


def test_visitors_are_sent_to_the_login_instead_of_the_progress(
    client: FlaskClient, newsletter: MailingList
) -> None:
    job = make_job(newsletter)
    response = client.get(f"/admin/subscribers/import/{job.id}/progress")
    assert response.status_code == 302
    assert "/admin/login" in response.location


def test_the_bad_lines_are_told_in_the_language_of_the_editor_who_uploaded(
    app: Flask, editor: FlaskClient, newsletter: MailingList
) -> None:
    editor.get("/admin/subscribers/import?lang=en")  # the choice stays in the session
    location = upload_and_wait(app, editor, newsletter)
    text = page(editor.get(location))
    assert ["3", "invalid e-mail address: kapot"] in table_rows(text)
    assert "Lines read" in text
