"""The admin's pages about readers: list, search, one reader, add, import, export."""

from __future__ import annotations

import tempfile

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from service import audit
from service.db import utcnow
from service.delivery import bounces
from service.errors import DomainError
from service.extensions import db
from service.organisation import current_identity
from service.security import STAFF, roles
from service.subscribers import export, import_jobs, notices, operations
from service.subscribers.forms import (
    AddSubscriberForm,
    ButtonForm,
    EraseSubscriberForm,
    ExportForm,
    ImportForm,
    SubscriberFilterForm,
)
from service.subscribers.models import ImportJob, MailingList, Subscriber

bp = Blueprint("subscribers_admin", __name__, url_prefix="/admin/subscribers")

PAGE_SIZE = 50


def _actor() -> str:
    """Return the current account as "Name <email>", as audit and consent record it."""
    return f"{current_user.display_name} <{current_user.email}>"


def _reader(subscriber_id: int) -> Subscriber:
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        abort(404)
    return subscriber


def _bounce_context(subscriber: Subscriber) -> dict[str, object]:
    """Return the reader's bounce log and score for their page."""
    return {
        "bounce_log": bounces.events_of(subscriber),
        "bounce_score": format_decimal(bounces.score_of(subscriber, utcnow())),
        "bounce_threshold": format_decimal(current_app.config["BOUNCE_THRESHOLD"]),
    }


def _list_choices() -> list[SelectChoice]:
    return [SelectChoice(m.id, m.name) for m in operations.all_lists()]


def _filters(values: dict[str, str]) -> operations.SubscriberFilter:
    """Read the filters from the query string or the export form."""
    raw_list = (values.get("list_id") or "").strip()
    return operations.SubscriberFilter(
        q=(values.get("q") or "").strip()[:200],
        status=(values.get("status") or "").strip(),
        list_id=int(raw_list) if raw_list.isdigit() else None,
        province=(values.get("province") or "").strip(),
    )


@bp.get("/")
@roles(*STAFF)
def index() -> str:
    """A searchable, filterable, paginated list of readers."""
    form = SubscriberFilterForm(request.args)
    lists = operations.all_lists()
    form.list_id.choices = [SelectChoice("", _("alle"))] + [
        SelectChoice(str(m.id), m.name) for m in lists
    ]
    form.province.choices = [SelectChoice("", _("alle"))] + [
        SelectChoice(p, p) for p in operations.provinces_in_use()
    ]
    wanted = _filters(request.args)
    subscribers = db.paginate(
        operations.search_subscribers(wanted), per_page=PAGE_SIZE, error_out=False
    )
    arguments = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "admin/subscribers/index.html",
        form=form,
        subscribers=subscribers,
        arguments=arguments,
        export_form=ExportForm(data=request.args),
    )


@bp.get("/<int:subscriber_id>")
@roles(*STAFF)
def show(subscriber_id: int) -> str:
    """One reader: profile, lists, the consent history and what happened."""
    subscriber = _reader(subscriber_id)
    return render_template(
        "admin/subscribers/show.html",
        subscriber=subscriber,
        button=ButtonForm(),
        erase_form=EraseSubscriberForm(),
        **_bounce_context(subscriber),
    )


@bp.route("/add", methods=["GET", "POST"])
@roles(*STAFF)
def add() -> str | tuple[str, int] | Response:
    """Add a reader by hand; the editor attests the consent, or a mail asks for it."""
    form = AddSubscriberForm()
    form.lists.choices = _list_choices()
    if form.validate_on_submit():
        source = (form.consent_source.data or "").strip() if form.attest.data else ""
        try:
            outcome = operations.add_subscriber(
                email=form.email.data,
                name=form.name.data or "",
                province=form.province.data or "",
                lists=operations.lists_by_ids(form.lists.data or []),
                locale=current_app.config["DEFAULT_LOCALE"],
                consent_source=source or None,
                attested_by=_actor(),
                org_name=current_identity().name,
                now=utcnow(),
            )
        except DomainError as error:
            db.session.rollback()
            getattr(form, error.field or "email").errors.append(error.message)
        else:
            subscriber = outcome.subscriber
            assert subscriber is not None
            audit.record(_actor(), "subscriber.add", f"subscriber #{subscriber.id}")
            db.session.commit()
            if outcome.send_confirmation:
                notices.send_confirmation(subscriber)
                flash(_("Toegevoegd; er is een bevestigingsmail verstuurd."), "success")
            else:
                flash(_("Toegevoegd."), "success")
            return redirect(url_for(".show", subscriber_id=subscriber.id))
    status = 422 if form.errors else 200
    return render_template("admin/subscribers/add.html", form=form), status


@bp.post("/<int:subscriber_id>/unsubscribe")
@roles(*STAFF)
def unsubscribe(subscriber_id: int) -> Response:
    """Take a reader off one list, or off all of them."""
    subscriber = _reader(subscriber_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    raw_list = request.form.get("list_id", "")
    list_id = int(raw_list) if raw_list.isdigit() else None
    left = operations.unsubscribe(subscriber, utcnow(), list_id=list_id, via="admin")
    audit.record(
        _actor(), "subscriber.unsubscribe", f"subscriber #{subscriber.id}", lists=left
    )
    db.session.commit()
    flash(_("Afgemeld."), "success")
    return redirect(url_for(".show", subscriber_id=subscriber.id))


@bp.post("/<int:subscriber_id>/reactivate")
@roles(*STAFF)
def reactivate(subscriber_id: int) -> Response:
    """Send mail again to a reader who was marked bounced; the score starts afresh."""
    subscriber = _reader(subscriber_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        bounces.reactivate(subscriber, utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        audit.record(_actor(), "subscriber.reactivate", f"subscriber #{subscriber.id}")
        db.session.commit()
        flash(_("De lezer krijgt weer mail."), "success")
    return redirect(url_for(".show", subscriber_id=subscriber.id))


@bp.post("/<int:subscriber_id>/erase")
@roles(*STAFF)
def erase(subscriber_id: int) -> str | tuple[str, int] | Response:
    """Erase a reader after a deliberate tick; only a hashed suppression remains."""
    subscriber = _reader(subscriber_id)
    form = EraseSubscriberForm()
    if not form.validate_on_submit():
        return render_template(
            "admin/subscribers/show.html",
            subscriber=subscriber,
            button=ButtonForm(),
            erase_form=form,
            **_bounce_context(subscriber),
        ), 422
    # The audit log names the row, never the address of someone erased.
    audit.record(_actor(), "subscriber.erase", f"subscriber #{subscriber.id}")
    operations.erase_subscriber(subscriber)
    db.session.commit()
    flash(_("De lezer is gewist."), "success")
    return redirect(url_for(".index"))


@bp.route("/import", methods=["GET", "POST"])
@roles(*STAFF)
def import_file() -> str | tuple[str, int] | Response:
    """Upload a CSV file to import in the background; a page follows its progress."""
    form = ImportForm()
    form.list_id.choices = _list_choices()
    if request.method == "GET" and request.args.get("list_id", "").isdigit():
        form.list_id.data = int(request.args["list_id"])  # "start again" from a job
    if not form.validate_on_submit():
        return _import_form(form, 422 if form.errors else 200)
    mailing_list = db.session.get(MailingList, form.list_id.data)
    if mailing_list is None:
        abort(400)
    upload = form.file.data
    source = (form.consent_source.data or "").strip() if form.attest.data else ""
    try:
        job = import_jobs.create_job(
            upload.stream,
            upload.filename or "upload.csv",
            mailing_list,
            consent_source=source or None,
            started_by=_actor(),
            locale=str(get_locale()),
            now=utcnow(),
        )
    except DomainError as error:
        db.session.rollback()
        form.file.errors.append(error.message)
        return _import_form(form, 422)
    db.session.commit()
    import_jobs.start(current_app._get_current_object(), job.id)  # type: ignore[attr-defined]
    return redirect(url_for(".import_job", job_id=job.id), 303)


def _import_form(form: ImportForm, status: int) -> tuple[str, int]:
    now = utcnow()
    jobs = [(job, import_jobs.state_of(job, now)) for job in import_jobs.recent_jobs()]
    page = render_template("admin/subscribers/import.html", form=form, jobs=jobs)
    return page, status


def _import_job(job_id: int) -> ImportJob:
    job = db.session.get(ImportJob, job_id)
    if job is None:
        abort(404)
    return job


@bp.get("/import/<int:job_id>")
@roles(*STAFF)
def import_job(job_id: int) -> str:
    """One upload: its progress while it runs, then what was and was not imported."""
    job = _import_job(job_id)
    now = utcnow()
    state = import_jobs.state_of(job, now)
    return render_template(
        "admin/subscribers/import_job.html",
        job=job,
        state=state,
        progress=import_jobs.progress_of(job, now),
        problems=import_jobs.problems_of(job) if state != "running" else [],
    )


@bp.get("/import/<int:job_id>/progress")
@roles(*STAFF)
def import_progress(job_id: int) -> Response:
    """The progress of one upload as JSON, for the page's script."""
    progress = import_jobs.progress_of(_import_job(job_id), utcnow())
    response = jsonify(progress)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/export")
@roles(*STAFF)
def export_csv() -> Response:
    """Download the readers of the current filter as CSV; the export is audited."""
    form = ExportForm()
    if not form.validate_on_submit():
        abort(400)
    wanted = _filters(request.form)
    mailing_list = (
        db.session.get(MailingList, wanted.list_id) if wanted.list_id else None
    )
    query = operations.search_subscribers(wanted)
    count = export.count_rows(query)
    audit.record(
        _actor(),
        "export.subscribers",
        mailing_list.slug if mailing_list else "all",
        rows=count,
        q=wanted.q or None,
        status=wanted.status or None,
        province=wanted.province or None,
    )
    db.session.commit()
    name = f"lezers-{mailing_list.slug if mailing_list else 'selectie'}.csv"
    # Written to a spooled file (memory up to 1 MB, then disk) inside the request,
    # so a large export neither fills memory nor needs the database afterwards.
    spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
    spool.write(b"\xef\xbb\xbf")  # the BOM tells spreadsheets the file is UTF-8
    for line in export.export_lines(query, mailing_list):
        spool.write(line.encode("utf-8"))
    spool.seek(0)
    return send_file(spool, mimetype="text/csv", as_attachment=True, download_name=name)
