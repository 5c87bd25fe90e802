"""The app's one sandboxed e-mail environment, and rendering a mail in a language."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import gettext, ngettext
from jinja2.sandbox import SandboxedEnvironment

from config import ROOT
from service.i18n import force_language
from service.mail.message import RenderedEmail
from service.rendering import make_email_environment, render_email


def email_environment() -> SandboxedEnvironment:
    """Return the app's e-mail environment, built once (templates compile once)."""
    env = current_app.extensions.get("postbode_email_env")
    if env is None:
        env = make_email_environment(ROOT / "templates", gettext, ngettext)
        current_app.extensions["postbode_email_env"] = env
    return env


def render_mail(name: str, locale: str, context: dict[str, Any]) -> RenderedEmail:
    """Render `templates/email/<name>/` in `locale` (the reader's, not the page's)."""
    with force_language(locale):
        return render_email(email_environment(), name, {"locale": locale, **context})
