"""Importing an uploaded CSV file in the background, with its state in the database.

The upload is stored under the instance folder and read by a thread of the web
process that received it, so the editor's request ends at once. Everything another
process needs lives in the `ImportJob` row: the counts are committed together with
each batch they describe, so the progress and the report can be shown by any web
process, and what the page says was imported is what the database holds.

A process that dies (a restart, a crash, a deploy) takes its thread along. Its job
then stops beating: a running job whose `updated_at` is older than STALE_AFTER is
shown as interrupted, with what was imported until then. Starting again with the
same file is safe: the importer counts readers already on the list as such.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import insert, select

from service import audit
from service.db import utcnow
from service.errors import DomainError
from service.extensions import db
from service.organisation import current_identity
from service.subscribers import importer
from service.subscribers.models import (
    ImportJob,
    ImportJobStatus,
    ImportProblem,
    MailingList,
)

log = logging.getLogger(__name__)

#: a running job not updated for this long lost its process. A batch takes seconds
#: and mails are sent MAIL_GROUP at a time, each group beating, so a live job beats
#: far more often than this.
STALE_AFTER = timedelta(minutes=5)
#: confirmation mails sent between two heartbeats (over SMTP, a few seconds)
MAIL_GROUP = 100
#: the folder under the instance folder where uploads wait for their thread
FOLDER = "imports"
#: the extension key under which each app keeps its import threads
EXTENSION = "postbode.import_jobs"

RowOrProblem = importer.Row | importer.RowProblem

_STORED_NAME = re.compile(r"import-(\d+)\.csv")
_THREADS_LOCK = threading.Lock()


def upload_folder() -> Path:
    """Return the folder of stored uploads, created readable by this user only."""
    folder = Path(current_app.instance_path) / FOLDER
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def stored_file(job_id: int) -> Path:
    """Return where the upload of a job is kept while it is imported."""
    return upload_folder() / f"import-{job_id}.csv"


def is_interrupted(job: ImportJob, now: datetime) -> bool:
    """Tell whether a running job stopped beating: its process is gone."""
    return job.status == ImportJobStatus.RUNNING and job.updated_at < now - STALE_AFTER


def state_of(job: ImportJob, now: datetime) -> str:
    """Return running, finished, failed, or interrupted (running, but dead)."""
    return "interrupted" if is_interrupted(job, now) else str(job.status)


def progress_of(job: ImportJob, now: datetime) -> dict[str, Any]:
    """Return the job's progress as the progress endpoint answers it."""
    total = job.file_size
    done = total if job.status == ImportJobStatus.FINISHED else job.bytes_read
    done = min(done, total)
    return {
        "status": state_of(job, now),
        "bytes_read": done,
        "bytes_total": total,
        "percent": int(100 * done / total) if total else 100,
        "lines_read": job.lines_read,
        "imported": job.imported,
        "added": job.added,
        "already": job.already,
        "skipped": job.skipped,
        "mailed": job.mailed,
    }


def recent_jobs(limit: int = 10) -> list[ImportJob]:
    """Return the latest uploads, newest first."""
    return list(
        db.session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(limit))
    )


def problems_of(job: ImportJob) -> list[ImportProblem]:
    """Return the lines of a job that were not imported, in file order."""
    return list(
        db.session.scalars(
            select(ImportProblem)
            .where(ImportProblem.job_id == job.id)
            .order_by(ImportProblem.line, ImportProblem.id)
        )
    )


def check_file(path: Path) -> None:
    """Read the first record, raising ImportFileError if the file cannot be imported.

    An empty file, or one without an address column, is told to the editor on the
    upload form at once instead of on a job page a moment later.
    """
    with path.open("rb") as raw, importer.text_stream(raw) as text:
        next(importer.read_rows(text), None)


def create_job(
    upload: IO[bytes],
    file_name: str,
    mailing_list: MailingList,
    *,
    consent_source: str | None,
    started_by: str,
    locale: str,
    now: datetime,
) -> ImportJob:
    """Check and store an upload and add its running job; `start` it after commit.

    Raises importer.ImportFileError when the file as a whole cannot be imported.
    """
    remove_leftovers(now)
    job = ImportJob(
        mailing_list=mailing_list,
        file_name=file_name[:255],
        consent_source=consent_source,
        started_by=started_by,
        locale=locale,
        status=ImportJobStatus.RUNNING,
        created_at=now,
        updated_at=now,
    )
    db.session.add(job)
    db.session.flush()
    path = stored_file(job.id)
    # 0600: the file holds people's addresses; only the service reads it.
    with open(path, "wb", opener=_private) as stored:
        shutil.copyfileobj(upload, stored, 1024 * 1024)
    try:
        check_file(path)
    except importer.ImportFileError:
        path.unlink()  # the caller rolls the job back
        raise
    job.file_size = path.stat().st_size
    return job


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def remove_leftovers(now: datetime) -> None:
    """Delete stored uploads whose job is over or whose process died."""
    for path in upload_folder().iterdir():
        match = _STORED_NAME.fullmatch(path.name)
        if match is None:
            continue
        job = db.session.get(ImportJob, int(match.group(1)))
        if (
            job is None
            or job.status != ImportJobStatus.RUNNING
            or is_interrupted(job, now)
        ):
            path.unlink(missing_ok=True)


def start(app: Flask, job_id: int) -> threading.Thread:
    """Run a committed job in a thread of this process, with an app context of its own.

    A daemon thread: stopping the process stops the import, which is then shown as
    interrupted; it does not hold up a restart.
    """
    thread = threading.Thread(
        target=run_job, args=(app, job_id), name=f"import-{job_id}", daemon=True
    )
    with _THREADS_LOCK:  # requests of a threaded server may start jobs at once
        threads: list[threading.Thread] = app.extensions.setdefault(EXTENSION, [])
        threads[:] = [t for t in threads if t.is_alive()]
        threads.append(thread)
    thread.start()
    return thread


def wait_for_threads(app: Flask, timeout: float) -> bool:
    """Wait until this process's import threads are done; False if some still run."""
    with _THREADS_LOCK:
        threads = list(app.extensions.get(EXTENSION, []))
    for thread in threads:
        thread.join(timeout)
    return not any(t.is_alive() for t in threads)


def run_job(app: Flask, job_id: int) -> None:
    """Import a job's stored file, recording progress, report and audit entry."""
    with app.app_context():
        path = stored_file(job_id)
        job = db.session.get(ImportJob, job_id)
        if job is None or job.status != ImportJobStatus.RUNNING:
            path.unlink(missing_ok=True)
            return
        locale = job.locale
        try:
            with force_locale(locale):
                _import(job, path)
        except Exception as error:  # the editor reads what happened on the job page
            db.session.rollback()
            if isinstance(error, DomainError):
                message = error.message
            else:
                log.exception("import job %s failed", job_id)
                with force_locale(locale):
                    message = _(
                        "Er ging iets mis bij het importeren. Wat tot dan toe is "
                        "ingelezen blijft staan; probeer het opnieuw of vraag de "
                        "beheerder in het logboek te kijken."
                    )
            _fail(job_id, message)
        finally:
            path.unlink(missing_ok=True)
            db.session.remove()


class _Reading:
    """Pass the importer's rows through, remembering the last line number read."""

    def __init__(self) -> None:
        self.line = 0

    def count(self, rows: Iterable[RowOrProblem]) -> Iterator[RowOrProblem]:
        """Yield the rows unchanged."""
        for row in rows:
            self.line = row.line
            yield row


def _import(job: ImportJob, path: Path) -> None:
    mailing_list = job.mailing_list
    settings = importer.ImportSettings(
        mailing_list=mailing_list,
        attested_by=job.started_by,
        consent_source=job.consent_source,
        file_name=job.file_name,
        org_name=current_identity().name,
        locale=current_app.config["DEFAULT_LOCALE"],
        now=utcnow(),
    )
    report = importer.ImportReport()
    reading = _Reading()
    recorded = 0  #: problems of the report already written as rows
    with path.open("rb") as raw, importer.text_stream(raw) as text:
        rows = reading.count(importer.read_rows(text))
        for to_mail in importer.import_batches(rows, settings, report):
            # The batch and the counts describing it are committed together.
            recorded = _record(job, report, recorded)
            job.lines_read = reading.line
            job.bytes_read = raw.tell()
            job.updated_at = utcnow()
            db.session.commit()
            for start_at in range(0, len(to_mail), MAIL_GROUP):
                group = to_mail[start_at : start_at + MAIL_GROUP]
                job.mailed += importer.send_confirmations(group)
                job.updated_at = utcnow()
                db.session.commit()
    _record(job, report, recorded)
    now = utcnow()
    job.lines_read = reading.line
    job.bytes_read = job.file_size
    job.move_to(ImportJobStatus.FINISHED)
    job.updated_at = now
    job.finished_at = now
    _audit(job)
    db.session.commit()


def _record(job: ImportJob, report: importer.ImportReport, recorded: int) -> int:
    """Copy the report's counts to the job and add its new problems; return how many."""
    job.imported = report.imported
    job.added = report.added
    job.already = report.already
    job.skipped = report.skipped
    new = report.problems[recorded:]
    if new:
        db.session.execute(
            insert(ImportProblem),
            [{"job_id": job.id, "line": p.line, "reason": p.reason} for p in new],
        )
    return recorded + len(new)


def _fail(job_id: int, message: str) -> None:
    """Mark a job failed; the batches committed before the error stay imported."""
    job = db.session.get(ImportJob, job_id)
    if job is None:
        return
    now = utcnow()
    job.move_to(ImportJobStatus.FAILED)
    job.error = message
    job.updated_at = now
    job.finished_at = now
    _audit(job)
    db.session.commit()


def _audit(job: ImportJob) -> None:
    audit.record(
        job.started_by,
        "import.subscribers",
        job.mailing_list.slug,
        file=job.file_name,
        imported=job.imported,
        added=job.added,
        already=job.already,
        skipped=job.skipped,
        consent_source=job.consent_source,
        job=job.id,
        **({"error": job.error} if job.error else {}),
    )
