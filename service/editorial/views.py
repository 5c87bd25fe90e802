"""Logging in and out, the account page, and the admin's front page."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select

from service.db import utcnow
from service.editorial import accounts, contributions
from service.editorial.forms import LoginForm, PasswordForm
from service.errors import DomainError
from service.extensions import db, limiter
from service.security import ANY_ACCOUNT, STAFF, public, roles
from service.subscribers.models import (
    MailingList,
    Membership,
    MembershipStatus,
    Subscriber,
    SubscriberStatus,
)

bp = Blueprint("accounts", __name__)


def _login_key() -> str:
    return f"login:{(request.form.get('email') or '').strip().lower()[:320]}"


def _safe_next(target: str | None) -> str:
    # Only local paths: "//evil.example" and "https://…" would be open redirects.
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("accounts.dashboard")


@bp.route("/admin/login", methods=["GET", "POST"])
@public
@limiter.limit("10/minute;50/hour", methods=["POST"])
@limiter.limit("10/hour", key_func=_login_key, methods=["POST"])
def login() -> str | tuple[str, int] | Response:
    """Show the login form; on success go where the person was going."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data, utcnow())
        if user is not None:
            db.session.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(_("Dit adres en wachtwoord horen niet bij elkaar."))
    status = 422 if form.errors else 200
    return render_template("admin/login.html", form=form), status


@bp.post("/admin/logout")
@roles(*ANY_ACCOUNT)
def logout() -> Response:
    """End the session."""
    logout_user()
    flash(_("U bent uitgelogd."), "info")
    return redirect(url_for("accounts.login"))


@bp.get("/admin/")
@roles(*ANY_ACCOUNT)
def dashboard() -> str:
    """The admin's front page: the numbers that matter at a glance."""
    counts = dict(
        db.session.execute(
            select(Subscriber.status, func.count()).group_by(Subscriber.status)
        ).all()
    )
    lists = list(db.session.scalars(select(MailingList).order_by(MailingList.position)))
    list_counts = dict(
        db.session.execute(
            select(Membership.list_id, func.count())
            .where(Membership.status == MembershipStatus.ACTIVE)
            .group_by(Membership.list_id)
        ).all()
    )
    return render_template(
        "admin/dashboard.html",
        counts={str(k): v for k, v in counts.items()},
        statuses=list(SubscriberStatus),
        lists=lists,
        list_counts=list_counts,
        show_subscribers=current_user.role in STAFF,
        open_issues=[]
        if current_user.role in STAFF
        else contributions.open_issues(utcnow()),
    )


@bp.route("/admin/account", methods=["GET", "POST"])
@roles(*ANY_ACCOUNT)
def account() -> str | tuple[str, int] | Response:
    """Change one's own password; every other session ends."""
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(
                current_user, form.current.data, form.password.data
            )
        except DomainError as error:
            getattr(form, error.field or "password").errors.append(error.message)
        else:
            db.session.commit()
            login_user(
                current_user._get_current_object()
            )  # this session carries the new version
            flash(
                _("Uw wachtwoord is gewijzigd. Andere sessies zijn beëindigd."),
                "success",
            )
            return redirect(url_for("accounts.account"))
    status = 422 if form.errors else 200
    return render_template("admin/account.html", form=form), status
