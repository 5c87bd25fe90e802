"""The year plan, themes, and composing an issue and its articles."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from wtforms import SelectChoice

from service.db import utcnow
from service.delivery.models import Send
from service.editorial import operations
from service.editorial.images import store_image
from service.editorial.issue_forms import (
    ArticleForm,
    IssueForm,
    PlanIssueForm,
    ThemeForm,
    YearTargetForm,
)
from service.editorial.models import (
    EDITABLE,
    Article,
    Contribution,
    ContributionStatus,
    IssueStatus,
    Theme,
)
from service.errors import DomainError, NotFound
from service.extensions import db
from service.security import STAFF, roles

bp = Blueprint("issues", __name__)


def _today_year() -> int:
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).year


def _theme_choices() -> list[SelectChoice]:
    return [SelectChoice(0, _("— geen thema —"))] + [
        SelectChoice(t.id, t.name) for t in operations.themes()
    ]


def _theme(theme_id: int | None) -> Theme | None:
    return db.session.get(Theme, theme_id) if theme_id else None


def _field_error(form: object, error: DomainError) -> None:
    field = getattr(form, error.field or "", None)
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "error")


def _user() -> object:
    return current_user._get_current_object()  # type: ignore[attr-defined]


@bp.get("/admin/plan/")
@roles(*STAFF)
def plan_now() -> Response:
    """Open the plan of the current year."""
    return redirect(url_for("issues.plan", year=_today_year()))


@bp.get("/admin/plan/<int:year>")
@roles(*STAFF)
def plan(year: int) -> str:
    """Show the year's issues on a timeline with their status and deadlines."""
    year_plan = operations.year_plan(year)
    db.session.commit()
    issues = operations.issues_of(year)
    waiting = dict(
        db.session.execute(
            select(Contribution.issue_id, func.count())
            .where(Contribution.status == ContributionStatus.SUBMITTED)
            .group_by(Contribution.issue_id)
        ).all()
    )
    active = [i for i in issues if i.status != IssueStatus.CANCELLED]
    form = YearTargetForm(target_issues=year_plan.target_issues)
    return render_template(
        "admin/issues/plan.html",
        year=year,
        year_plan=year_plan,
        issues=issues,
        active_count=len(active),
        waiting=waiting,
        form=form,
    )


@bp.post("/admin/plan/<int:year>/target")
@roles(*STAFF)
def plan_target(year: int) -> Response:
    """Change how many issues the board intends this year."""
    form = YearTargetForm()
    if form.validate_on_submit():
        operations.year_plan(year).target_issues = form.target_issues.data
        db.session.commit()
        flash(_("Het aantal nummers is aangepast."), "success")
    else:
        flash(_("Kies een aantal van 1 tot 52."), "error")
    return redirect(url_for("issues.plan", year=year))


@bp.route("/admin/issues/new", methods=["GET", "POST"])
@roles(*STAFF)
def new() -> str | tuple[str, int] | Response:
    """Add an issue to the plan of a year."""
    year = request.args.get("year", type=int) or _today_year()
    form = PlanIssueForm()
    form.theme.choices = _theme_choices()
    if form.validate_on_submit():
        try:
            issue = operations.plan_issue(
                year=year,
                theme=_theme(form.theme.data),
                planned_date=form.planned_date.data,
                contribution_deadline=form.contribution_deadline.data,
                title=form.title.data or "",
            )
        except DomainError as error:
            _field_error(form, error)
        else:
            db.session.commit()
            flash(_("Nummer %(n)s staat in het jaarplan.", n=issue.number), "success")
            return redirect(url_for("issues.plan", year=year))
    status = 422 if form.errors else 200
    return render_template("admin/issues/new.html", form=form, year=year), status


def _issue_form(issue: object) -> IssueForm:
    form = IssueForm(obj=issue)
    form.theme.choices = _theme_choices()
    if request.method == "GET":
        form.theme.data = issue.theme_id or 0  # type: ignore[attr-defined]
    return form


def _save_issue(issue: object, form: IssueForm) -> list[str]:
    return operations.save_issue(
        issue,  # type: ignore[arg-type]
        _user(),  # type: ignore[arg-type]
        utcnow(),
        based_on=int(form.version.data or 0),
        title=form.title.data or "",
        preheader=form.preheader.data or "",
        intro=form.intro.data or "",
        theme=_theme(form.theme.data),
        planned_date=form.planned_date.data,
        contribution_deadline=form.contribution_deadline.data,
    )


def _saved_at(moment: datetime) -> str:
    return format_datetime(moment, "HH:mm")


@bp.route("/admin/issues/<int:issue_id>", methods=["GET", "POST"])
@roles(*STAFF)
def edit(issue_id: int) -> str | tuple[str, int] | Response:
    """Compose an issue: its own text and the ordered list of articles."""
    issue = operations.get_issue(issue_id)
    form = _issue_form(issue)
    conflict = None
    if request.method == "POST" and issue.status not in EDITABLE:
        flash(_("Dit nummer kan niet meer worden gewijzigd."), "error")
        return redirect(url_for("issues.edit", issue_id=issue.id))
    if form.validate_on_submit():
        try:
            notices = _save_issue(issue, form)
        except operations.StaleVersion as error:
            conflict = error.message
        except DomainError as error:
            _field_error(form, error)
        else:
            db.session.commit()
            for notice in notices:
                flash(notice, "warning")
            flash(_("Opgeslagen."), "success")
            return redirect(url_for("issues.edit", issue_id=issue.id))
    status = 409 if conflict else 422 if form.errors else 200
    if request.method == "GET":
        form.version.data = str(issue.version)
    return render_template(
        "admin/issues/edit.html",
        issue=issue,
        form=form,
        conflict=conflict,
        editable=issue.status in EDITABLE,
        current_version=issue.version,
        send_id=db.session.scalar(
            select(Send.id).where(Send.issue_id == issue.id).order_by(Send.id.desc())
        ),
    ), status


@bp.post("/admin/issues/<int:issue_id>/autosave")
@roles(*STAFF)
def autosave(issue_id: int) -> tuple[Response, int]:
    """Save the issue's text in the background; answer JSON."""
    issue = operations.get_issue(issue_id)
    form = _issue_form(issue)
    if not form.validate_on_submit():
        message = " ".join(e for errors in form.errors.values() for e in errors)
        return jsonify(error={"status": 422, "message": message}), 422
    try:
        notices = _save_issue(issue, form)
    except DomainError as error:
        return jsonify(
            error={"status": error.status, "message": error.message}
        ), error.status
    db.session.commit()
    return jsonify(
        version=issue.version,
        saved_at=_saved_at(utcnow()),
        notices=notices,
    ), 200


def _article(issue_id: int, article_id: int) -> Article:
    article = db.session.get(Article, article_id)
    if article is None or article.issue_id != issue_id:
        raise NotFound(_("Dit artikel bestaat niet (meer)."))
    return article


def _article_values(form: ArticleForm) -> dict[str, object]:
    values: dict[str, object] = {
        "title": form.title.data.strip(),
        "body": form.body.data or "",
        "author": (form.author.data or "").strip(),
        "image_alt": (form.image_alt.data or "").strip(),
        "link_url": (form.link_url.data or "").strip(),
        "button_text": (form.button_text.data or "").strip(),
    }
    upload = form.image.data
    if upload and getattr(upload, "filename", ""):
        image = store_image(upload.read(), upload.filename, _user())  # type: ignore[arg-type]
        values["image_id"] = image.id
    return values


def _check_alt(form: ArticleForm, has_image: bool) -> bool:
    if has_image and not (form.image_alt.data or "").strip():
        form.image_alt.errors = [
            *form.image_alt.errors,
            _("Beschrijf de afbeelding voor wie haar niet kan zien."),
        ]
        return False
    return True


@bp.route("/admin/issues/<int:issue_id>/articles/new", methods=["GET", "POST"])
@roles(*STAFF)
def new_article(issue_id: int) -> str | tuple[str, int] | Response:
    """Write a new article at the end of the issue."""
    issue = operations.get_issue(issue_id)
    form = ArticleForm()
    if request.method == "GET":
        form.version.data = str(issue.version)
    if form.validate_on_submit():
        upload = form.image.data
        if _check_alt(form, bool(upload and getattr(upload, "filename", ""))):
            try:
                operations.check_version(issue, int(form.version.data or 0))
                article = operations.add_article(
                    issue, _user(), utcnow(), **_article_values(form)
                )
            except DomainError as error:
                _field_error(form, error)
            else:
                db.session.commit()
                flash(_("Het artikel is toegevoegd."), "success")
                return redirect(
                    url_for("issues.edit", issue_id=issue.id, _anchor=f"a{article.id}")
                )
    status = 422 if form.errors else 200
    return render_template(
        "admin/issues/article.html", issue=issue, article=None, form=form
    ), status


@bp.route(
    "/admin/issues/<int:issue_id>/articles/<int:article_id>", methods=["GET", "POST"]
)
@roles(*STAFF)
def edit_article(issue_id: int, article_id: int) -> str | tuple[str, int] | Response:
    """Change one article; a stale save keeps the text and says so."""
    article = _article(issue_id, article_id)
    issue = article.issue
    form = ArticleForm(obj=article)
    conflict = None
    if request.method == "GET":
        form.version.data = str(issue.version)
    if form.validate_on_submit():
        upload = form.image.data
        has_image = bool(upload and getattr(upload, "filename", "")) or bool(
            article.image_id
        )
        if _check_alt(form, has_image):
            try:
                notices = operations.save_article(
                    article,
                    _user(),
                    utcnow(),
                    based_on=int(form.version.data or 0),
                    **_article_values(form),
                )
            except operations.StaleVersion as error:
                conflict = error.message
            except DomainError as error:
                _field_error(form, error)
            else:
                db.session.commit()
                for notice in notices:
                    flash(notice, "warning")
                flash(_("Het artikel is opgeslagen."), "success")
                return redirect(
                    url_for("issues.edit", issue_id=issue.id, _anchor=f"a{article.id}")
                )
    status = 409 if conflict else 422 if form.errors else 200
    return render_template(
        "admin/issues/article.html",
        issue=issue,
        article=article,
        form=form,
        conflict=conflict,
    ), status


@bp.post("/admin/issues/<int:issue_id>/articles/<int:article_id>/autosave")
@roles(*STAFF)
def autosave_article(issue_id: int, article_id: int) -> tuple[Response, int]:
    """Save an article's text in the background (the image is saved with the form)."""
    article = _article(issue_id, article_id)
    form = ArticleForm()
    if not form.validate_on_submit():
        message = " ".join(e for errors in form.errors.values() for e in errors)
        return jsonify(error={"status": 422, "message": message}), 422
    values = _article_values(form)
    values.pop("image_id", None)
    try:
        notices = operations.save_article(
            article, _user(), utcnow(), based_on=int(form.version.data or 0), **values
        )
    except DomainError as error:
        return jsonify(
            error={"status": error.status, "message": error.message}
        ), error.status
    db.session.commit()
    return jsonify(
        version=article.issue.version, saved_at=_saved_at(utcnow()), notices=notices
    ), 200


def _after_change(issue_id: int, notices: list[str], done: str) -> Response:
    db.session.commit()
    for notice in notices:
        flash(notice, "warning")
    flash(done, "success")
    return redirect(url_for("issues.edit", issue_id=issue_id))


@bp.post("/admin/issues/<int:issue_id>/articles/<int:article_id>/move")
@roles(*STAFF)
def move_article(issue_id: int, article_id: int) -> Response:
    """Move an article one place up or down."""
    article = _article(issue_id, article_id)
    step = -1 if request.form.get("direction") == "up" else 1
    notices = operations.move_article(article, step, _user(), utcnow())
    return _after_change(issue_id, notices, _("De volgorde is aangepast."))


@bp.post("/admin/issues/<int:issue_id>/articles/<int:article_id>/duplicate")
@roles(*STAFF)
def duplicate_article(issue_id: int, article_id: int) -> Response:
    """Put a copy of the article right after it."""
    article = _article(issue_id, article_id)
    operations.duplicate_article(article, _user(), utcnow())
    return _after_change(issue_id, [], _("Het artikel is gekopieerd."))


@bp.post("/admin/issues/<int:issue_id>/articles/<int:article_id>/delete")
@roles(*STAFF)
def delete_article(issue_id: int, article_id: int) -> Response:
    """Remove an article from the issue."""
    article = _article(issue_id, article_id)
    title = article.title
    notices = operations.remove_article(article, _user(), utcnow())
    return _after_change(
        issue_id, notices, _("“%(title)s” is verwijderd.", title=title)
    )


@bp.get("/admin/themes/")
@roles(*STAFF)
def themes() -> str:
    """List the themes with their issues."""
    counts = dict(
        db.session.execute(
            select(operations.Issue.theme_id, func.count()).group_by(
                operations.Issue.theme_id
            )
        ).all()
    )
    return render_template(
        "admin/issues/themes.html", themes=operations.themes(), counts=counts
    )


@bp.route("/admin/themes/new", methods=["GET", "POST"])
@bp.route("/admin/themes/<int:theme_id>", methods=["GET", "POST"])
@roles(*STAFF)
def theme(theme_id: int | None = None) -> str | tuple[str, int] | Response:
    """Add or change a theme."""
    existing = db.session.get(Theme, theme_id) if theme_id else None
    if theme_id and existing is None:
        raise NotFound(_("Dit thema bestaat niet."))
    form = ThemeForm(obj=existing)
    if form.validate_on_submit():
        try:
            operations.save_theme(
                existing, name=form.name.data, description=form.description.data or ""
            )
        except DomainError as error:
            _field_error(form, error)
        else:
            db.session.commit()
            flash(_("Het thema is opgeslagen."), "success")
            return redirect(url_for("issues.themes"))
    status = 422 if form.errors else 200
    return render_template("admin/issues/theme.html", form=form, theme=existing), status
