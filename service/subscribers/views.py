"""The reader's pages: signup, confirmation, preferences, leaving."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from wtforms import SelectChoice

from service.archive.operations import latest_sent_issue
from service.db import utcnow
from service.errors import DomainError, ExpiredToken, InvalidToken
from service.extensions import csrf, db, limiter
from service.i18n import current_language
from service.mail.transport import MailError
from service.organisation import current_identity
from service.security import public
from service.subscribers import notices, operations, tokens
from service.subscribers.consent import consent_text
from service.subscribers.forms import (
    ButtonForm,
    ConfirmEraseForm,
    PreferencesForm,
    SignupForm,
)
from service.subscribers.models import MembershipStatus, Subscriber

bp = Blueprint("subscribers", __name__)


def _email_key() -> str:
    """Rate-limit key: the address typed, so one address cannot be flooded."""
    raw = (request.form.get("email") or "").strip().lower()
    return f"signup-address:{raw[:320]}"


def _reader(token: str, purpose: str) -> tuple[Subscriber, dict]:
    try:
        payload = tokens.read_token(notices.keys(), purpose, token)
    except InvalidToken:
        raise InvalidToken(
            _("Deze link is ongeldig. Gebruik de link uit de laatste mail van ons.")
        ) from None
    uid = payload.get("u")
    if not isinstance(uid, str):
        raise InvalidToken(_("Deze link is ongeldig."))
    return operations.find_subscriber(uid), payload


def _tracking_offered() -> bool:
    """Tell whether the pages offer the personal-tracking choice (personal mode)."""
    return current_app.config["TRACKING_MODE"] == "personal"


class MailUnavailable(DomainError):
    """The confirmation mail could not be handed to the mail server."""

    status = 503


def _mail_confirmation(subscriber: Subscriber) -> None:
    """Send the confirmation link, or say plainly that it could not go out.

    The signup is kept, but the hourly limit is lifted again, so trying once more
    in a few minutes sends the link instead of silently sending nothing.
    """
    try:
        notices.send_confirmation(subscriber)
    except MailError:
        current_app.logger.exception(
            "confirmation mail to reader %s failed", subscriber.id
        )
        subscriber.confirmation_sent_at = None
        db.session.commit()
        raise MailUnavailable(
            _(
                "Uw aanmelding is ontvangen, maar de bevestigingsmail kon nu niet "
                "worden verstuurd. Probeer het over een paar minuten opnieuw."
            )
        ) from None


def _signup_form() -> SignupForm:
    form = SignupForm()
    form.lists.choices = [SelectChoice(m.id, m.name) for m in operations.public_lists()]
    return form


@bp.route("/", methods=["GET", "POST"])
@bp.route("/subscribe", methods=["GET", "POST"])
@public
@limiter.limit("20/hour;5/minute", methods=["POST"])
@limiter.limit("5/hour", key_func=_email_key, methods=["POST"])
def subscribe() -> str | Response:
    """Show the signup page; on POST record the signup and mail a confirmation link."""
    form = _signup_form()
    if request.method == "GET" and len(form.lists.choices) == 1:
        form.lists.data = [form.lists.choices[0].value]
    identity = current_identity()
    locale = current_language()
    shown = consent_text(identity.name, locale)
    if form.validate_on_submit():
        outcome = operations.request_subscription(
            email=form.email.data,
            name=form.name.data or "",
            lists=operations.lists_by_ids(form.lists.data),
            locale=locale,
            org_name=identity.name,
            source=request.base_url,
            now=utcnow(),
            ip=request.remote_addr if current_app.config["CONSENT_RECORD_IP"] else None,
            tracking_consent=form.tracking.data if _tracking_offered() else None,
        )
        db.session.commit()
        if outcome.send_confirmation and outcome.subscriber is not None:
            _mail_confirmation(outcome.subscriber)
        return redirect(url_for("subscribers.check_inbox"))
    if form.website.errors:
        # A bot filled in the honeypot: answer as if all went well, record nothing.
        return redirect(url_for("subscribers.check_inbox"))
    status = 422 if form.errors else 200
    descriptions = {m.id: m.description for m in operations.public_lists()}
    return render_template(
        "subscribers/subscribe.html",
        form=form,
        consent=shown,
        tracking_offered=_tracking_offered(),
        list_descriptions=descriptions,
        latest=latest_sent_issue(),
    ), status


@bp.get("/subscribe/thanks")
@public
def check_inbox() -> str:
    """Tell the reader to look for the confirmation mail (the same for everyone)."""
    return render_template("subscribers/check_inbox.html")


@bp.route("/subscribe/confirm/<token>", methods=["GET", "POST"])
@public
def confirm(token: str) -> str | tuple[str, int]:
    """GET shows a button (link scanners confirm nobody); POST confirms."""
    max_age = current_app.config["CONFIRM_TOKEN_MAX_AGE_DAYS"] * 86400
    try:
        payload = tokens.read_token(
            notices.keys(), tokens.CONFIRM, token, max_age_seconds=max_age, now=utcnow()
        )
    except ExpiredToken:
        return render_template(
            "subscribers/confirm_expired.html", form=ButtonForm(), token=token
        ), 410
    except InvalidToken:
        raise InvalidToken(
            _("Deze bevestigingslink is ongeldig. Meld u opnieuw aan.")
        ) from None
    subscriber = operations.find_subscriber(str(payload.get("u")))
    form = ButtonForm()
    if request.method == "GET" or not form.validate_on_submit():
        used = subscriber.confirmation_nonce != payload.get("n")
        return render_template(
            "subscribers/confirm.html", form=form, subscriber=subscriber, used=used
        )
    lists = operations.confirm_subscription(subscriber, str(payload.get("n")), utcnow())
    db.session.commit()
    if lists:
        try:
            notices.send_welcome(subscriber, lists)
        except MailError:
            # The confirmation counts; only the courtesy mail is missing.
            current_app.logger.exception(
                "welcome mail to reader %s failed", subscriber.id
            )
    return render_template(
        "subscribers/confirmed.html",
        lists=lists,
        preferences_url=notices.preferences_url(subscriber),
    )


@bp.post("/subscribe/confirm/<token>/renew")
@public
@limiter.limit("10/hour")
def renew(token: str) -> Response:
    """Send a new confirmation link in place of an expired one."""
    form = ButtonForm()
    if form.validate_on_submit():
        try:
            payload = tokens.read_token(notices.keys(), tokens.CONFIRM, token)
        except InvalidToken:
            raise InvalidToken(
                _("Deze bevestigingslink is ongeldig. Meld u opnieuw aan.")
            ) from None
        subscriber = operations.find_subscriber(str(payload.get("u")))
        if operations.renew_confirmation(subscriber, utcnow()):
            db.session.commit()
            _mail_confirmation(subscriber)
    return redirect(url_for("subscribers.check_inbox"))


def _preferences_form(subscriber: Subscriber) -> PreferencesForm:
    form = PreferencesForm()
    form.lists.choices = [SelectChoice(m.id, m.name) for m in operations.public_lists()]
    if request.method == "GET":
        form.name.data = subscriber.name
        form.locale.data = subscriber.locale
        form.lists.data = [
            m.list_id
            for m in subscriber.memberships
            if m.status == MembershipStatus.ACTIVE
        ]
        form.tracking.data = subscriber.tracking_consent
    return form


@bp.route("/preferences/<token>", methods=["GET", "POST"])
@public
def preferences(token: str) -> str | tuple[str, int] | Response:
    """Let a reader change name, language and lists, download or erase their data."""
    subscriber, _payload = _reader(token, tokens.PREFERENCES)
    form = _preferences_form(subscriber)
    if form.validate_on_submit():
        operations.update_preferences(
            subscriber,
            name=form.name.data or "",
            lists=operations.lists_by_ids(form.lists.data or []),
            locale=form.locale.data,
            org_name=current_identity().name,
            source=request.base_url.rsplit("/", 1)[0],
            now=utcnow(),
            tracking_consent=form.tracking.data if _tracking_offered() else None,
        )
        db.session.commit()
        return redirect(url_for("subscribers.preferences", token=token, saved=1))
    status = 422 if form.errors else 200
    return render_template(
        "subscribers/preferences.html",
        form=form,
        subscriber=subscriber,
        token=token,
        saved=request.args.get("saved") == "1",
        tracking_offered=_tracking_offered(),
        button=ButtonForm(),
    ), status


@bp.post("/preferences/<token>/data")
@public
def download_data(token: str) -> Response:
    """Give the reader everything we hold about them as a JSON file."""
    subscriber, _payload = _reader(token, tokens.PREFERENCES)
    if not ButtonForm().validate_on_submit():
        abort(400)
    operations.record_event(subscriber, "data-downloaded", utcnow())
    data = operations.personal_data(subscriber)
    db.session.commit()
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="mijn-gegevens.json"'},
    )


@bp.route("/preferences/<token>/erase", methods=["GET", "POST"])
@public
def erase(token: str) -> str | tuple[str, int]:
    """Ask for a deliberate tick, then erase the reader."""
    subscriber, _payload = _reader(token, tokens.PREFERENCES)
    form = ConfirmEraseForm()
    if form.validate_on_submit():
        operations.erase_subscriber(subscriber)
        db.session.commit()
        return render_template("subscribers/erased.html")
    status = 422 if form.errors else 200
    return render_template("subscribers/erase.html", form=form, token=token), status


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@public
@csrf.exempt
def unsubscribe(token: str) -> str | tuple[str, int] | Response:
    """GET shows a button and changes nothing; POST leaves (also RFC 8058 one-click).

    The POST needs no CSRF token or cookie: the signed token in the URL is the
    authority, and mail clients send the one-click POST without either (RFC 8058 §3.2).
    """
    subscriber, payload = _reader(token, tokens.UNSUBSCRIBE)
    list_id = payload.get("l") if isinstance(payload.get("l"), int) else None
    membership_list = None
    if list_id is not None:
        membership_list = next(
            (m.mailing_list for m in subscriber.memberships if m.list_id == list_id),
            None,
        )
    if request.method == "GET":
        return render_template(
            "subscribers/unsubscribe.html",
            subscriber=subscriber,
            mailing_list=membership_list,
            token=token,
            preferences_url=notices.preferences_url(subscriber),
        )
    everything = request.form.get("scope") == "all"
    operations.unsubscribe(
        subscriber,
        utcnow(),
        list_id=None if everything else list_id,
        via="one-click"
        if request.form.get("List-Unsubscribe") == "One-Click"
        else "link",
    )
    db.session.commit()
    if request.form.get("List-Unsubscribe") == "One-Click":
        return Response(_("U bent afgemeld.") + "\n", mimetype="text/plain")
    return render_template(
        "subscribers/unsubscribed.html",
        mailing_list=None if everything else membership_list,
        preferences_url=notices.preferences_url(subscriber),
    )
