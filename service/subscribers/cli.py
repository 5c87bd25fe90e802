"""`flask subscribers import|export`: readers in and out as CSV."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from service import audit
from service.db import utcnow
from service.errors import DomainError
from service.extensions import db
from service.organisation import current_identity
from service.subscribers import export, importer, operations
from service.subscribers.models import MembershipStatus, SubscriberStatus

subscribers = AppGroup("subscribers", help="Readers: import and export as CSV.")

#: who the audit log and consent records name when a command did it
CLI_ACTOR = "cli"

STATUSES = sorted(
    {str(s) for s in SubscriberStatus} | {str(s) for s in MembershipStatus}
)


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--list", "slug", required=True, help="Slug of the list to add to.")
@click.option(
    "--consent-source",
    default=None,
    help=(
        "Where these people gave consent (e.g. 'paper form, congress 2026-03'). "
        "Without it they are pending and get a confirmation mail."
    ),
)
@click.option(
    "--attested-by",
    default=CLI_ACTOR,
    show_default=True,
    help="Who states the consent, as 'Name <email>'.",
)
def import_command(
    file: Path, slug: str, consent_source: str | None, attested_by: str
) -> None:
    """Import readers from FILE.csv into a list; bad lines are listed at the end."""
    try:
        mailing_list = operations.list_by_slug(slug)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    source = (consent_source or "").strip() or None
    settings = importer.ImportSettings(
        mailing_list=mailing_list,
        attested_by=attested_by,
        consent_source=source,
        file_name=file.name,
        org_name=current_identity().name,
        locale=current_app.config["DEFAULT_LOCALE"],
        now=utcnow(),
    )
    report = importer.ImportReport()
    mailed = 0
    with (
        file.open("rb") as raw,
        click.progressbar(
            length=file.stat().st_size,
            label=f"Importing {file.name}",
            file=sys.stderr,
        ) as bar,
    ):
        # Keep the wrapper referenced: collecting it would close the file.
        text = importer.text_stream(raw)
        rows = importer.read_rows(text)
        done = 0
        try:
            for to_mail in importer.import_batches(rows, settings, report):
                # Commit each batch: an interrupted import keeps what it did, and
                # a rerun skips those readers as already on the list.
                db.session.commit()
                mailed += importer.send_confirmations(to_mail)
                position = raw.tell()
                bar.update(position - done)
                done = position
        except DomainError as error:
            db.session.rollback()
            raise click.ClickException(error.message) from None
        bar.update(file.stat().st_size - done)
    audit.record(
        attested_by,
        "import.subscribers",
        mailing_list.slug,
        file=file.name,
        imported=report.imported,
        added=report.added,
        already=report.already,
        skipped=report.skipped,
        consent_source=source,
    )
    db.session.commit()
    click.echo(
        f"{report.imported} new, {report.added} added to {mailing_list.slug}, "
        f"{report.already} already on the list, {report.skipped} lines skipped"
        f" ({report.suppressed} erased or suppressed)."
    )
    if mailed:
        click.echo(f"{mailed} confirmation mails sent.")
    for problem in sorted(report.problems, key=lambda p: p.line):
        click.echo(f"  line {problem.line}: {problem.reason}")


@subscribers.command("export")
@click.option("--list", "slug", default=None, help="Only readers on this list.")
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--province", default="", help="Only readers in this province.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
def export_command(
    slug: str | None, status: str | None, province: str, output: Path | None
) -> None:
    """Write readers as CSV (formula cells neutralised); the export is audited."""
    try:
        mailing_list = operations.list_by_slug(slug) if slug else None
    except DomainError as error:
        raise click.ClickException(error.message) from None
    wanted = operations.SubscriberFilter(
        status=status or "",
        list_id=mailing_list.id if mailing_list else None,
        province=province,
    )
    query = operations.search_subscribers(wanted)
    count = export.count_rows(query)
    audit.record(
        CLI_ACTOR,
        "export.subscribers",
        mailing_list.slug if mailing_list else "all",
        rows=count,
        status=status,
        province=province or None,
        output=str(output) if output else "stdout",
    )
    db.session.commit()
    lines = export.export_lines(query, mailing_list)
    if output is None:
        for line in lines:
            click.echo(line, nl=False)
        return
    with output.open("w", encoding="utf-8", newline="") as handle:
        handle.writelines(lines)
    click.echo(f"{count} readers written to {output}.", err=True)
