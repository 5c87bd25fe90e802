"""Postbode: a self-hosted newsletter and mailing service."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import argon2.profiles
from flask import Flask, Response, request, session
from flask_login import current_user
from sqlalchemy import text

from config import INSTANCE, ROOT, load_settings
from service.errors import register_error_handlers
from service.extensions import babel, csrf, db, limiter, login_manager, migrate
from service.i18n import current_language, format_locale
from service.mail.mailer import mailer
from service.security import public, register_access_check

LOCALES = ("nl", "en")

# A strict policy: no inline script or style anywhere, no third-party requests.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)
#: sent with every response unless a view set its own
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "SAMEORIGIN"),
)


def create_app(
    overrides: dict[str, Any] | None = None,
    *,
    environ: dict[str, str] | None = None,
    instance_path: str | Path | None = None,
) -> Flask:
    """Build the application: settings first, then each named step."""
    instance = Path(instance_path) if instance_path else INSTANCE
    app = Flask(
        __name__,
        instance_path=str(instance),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    register_settings(app, overrides, environ, instance)
    register_extensions(app)
    register_i18n(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_access_check(app)
    register_security_headers(app)
    register_template_globals(app)
    register_commands(app)
    register_tracking_dispatch(app)
    return app


def register_settings(
    app: Flask,
    overrides: dict[str, Any] | None,
    environ: dict[str, str] | None,
    instance: Path,
) -> None:
    """Load and validate the settings; a bad one stops start-up (ConfigError)."""
    app.config.update(load_settings(environ, instance=instance))
    app.config.update(
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        # argon2id as RFC 9106 recommends where memory is limited (64 MiB, t=3, p=4).
        ARGON2_PARAMETERS=argon2.profiles.RFC_9106_LOW_MEMORY,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["PREFERRED_URL_SCHEME"] == "https",
        REMEMBER_COOKIE_SECURE=app.config["PREFERRED_URL_SCHEME"] == "https",
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE=app.config["DEFAULT_LOCALE"],
        BABEL_DEFAULT_TIMEZONE=app.config["TIMEZONE"],
        BABEL_TRANSLATION_DIRECTORIES=str(ROOT / "service" / "translations"),
    )
    app.config.update(overrides or {})
    if not app.debug and not app.testing:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )


def register_extensions(app: Flask) -> None:
    """Bind the database, migrations, CSRF, login, rate limits and the mailer."""
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    mailer.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None  # the login page explains itself

    from service.editorial.models import User

    import_models()

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        # The session carries the password version: a changed password ends it.
        user_id, _, version = session_id.partition(":")
        if not (user_id.isdigit() and version.isdigit()):
            return None
        user = db.session.get(User, int(user_id))
        if user is None or not user.is_active or user.session_version != int(version):
            return None
        return user


def import_models() -> None:
    """Import every model module so their tables are known to migrations and tests."""
    import service.audit  # noqa: F401
    import service.delivery.bounce_models  # noqa: F401
    import service.delivery.models  # noqa: F401
    import service.editorial.models  # noqa: F401
    import service.organisation  # noqa: F401
    import service.subscribers.models  # noqa: F401
    import service.tracking.models  # noqa: F401


def select_locale() -> str:
    """Pick the locale of the chosen language (en formats dates as en_GB)."""
    return format_locale(select_language())


def select_language() -> str:
    """Pick the language: an explicit choice, then the account's, then the default."""
    from flask import current_app, has_request_context

    if not has_request_context():  # CLI and clock: mails choose their own locale
        return current_app.config["DEFAULT_LOCALE"]
    chosen = request.args.get("lang")
    if chosen in LOCALES:
        session["lang"] = chosen
        return chosen
    if session.get("lang") in LOCALES:
        return session["lang"]
    if current_user and current_user.is_authenticated:
        return current_user.locale
    return current_app.config["DEFAULT_LOCALE"]


def register_i18n(app: Flask) -> None:
    """Serve pages in Dutch by default, English when chosen."""
    babel.init_app(app, locale_selector=select_locale)


def register_blueprints(app: Flask) -> None:
    """Attach the public pages, the admin and the health check."""
    from service.archive.views import bp as archive_bp
    from service.delivery.views import bp as sends_bp
    from service.delivery.webhooks import bp as webhooks_bp
    from service.editorial.contribution_views import bp as contributions_bp
    from service.editorial.issue_views import bp as issues_bp
    from service.editorial.media import bp as media_bp
    from service.editorial.review_views import bp as review_bp
    from service.editorial.views import bp as accounts_bp
    from service.mail.views import bp as outbox_bp
    from service.subscribers.admin import bp as subscribers_admin_bp
    from service.subscribers.views import bp as subscribers_bp
    from service.tracking.stats_views import bp as stats_bp
    from service.tracking.views import bp as tracking_bp

    app.register_blueprint(subscribers_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(subscribers_admin_bp)
    app.register_blueprint(outbox_bp)
    app.register_blueprint(archive_bp)
    app.register_blueprint(media_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(contributions_bp)
    app.register_blueprint(issues_bp)
    app.register_blueprint(sends_bp)
    app.register_blueprint(webhooks_bp)
    # Importing the views also connects tracking's personal-data receiver.
    app.register_blueprint(tracking_bp)
    app.register_blueprint(stats_bp)
    public(app.view_functions["static"])

    @app.get("/healthz")
    @public
    @limiter.exempt
    def healthz() -> tuple[dict[str, str], int]:
        try:
            db.session.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any database failure means unhealthy
            return {"status": "database unavailable"}, 503
        return {"status": "ok"}, 200


def register_security_headers(app: Flask) -> None:
    """Send a strict CSP and the usual hardening headers with every response."""

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS:
            response.headers.setdefault(name, value)
        return response


def register_tracking_dispatch(app: Flask) -> None:
    """Answer genuine pixel and click requests in front of Flask (see dispatch)."""
    from service.tracking.dispatch import TrackingDispatch

    app.wsgi_app = TrackingDispatch(  # type: ignore[method-assign]
        app, app.wsgi_app, SECURITY_HEADERS
    )


def register_template_globals(app: Flask) -> None:
    """Give every template the organisation and the current language."""
    from service.labels import label
    from service.organisation import current_identity

    app.add_template_global(label)

    @app.context_processor
    def inject() -> dict[str, Any]:
        language = current_language()
        return {
            "organisation": current_identity(),
            "current_locale": language,
            "other_locale": "en" if language == "nl" else "nl",
        }


def register_commands(app: Flask) -> None:
    """Add the `flask` command groups."""
    from service.cli import register

    register(app)
