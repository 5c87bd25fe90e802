"""Pure e-mail rendering: a template folder and values in, a RenderedEmail out.

Each e-mail lives in `templates/email/<name>/` as `subject.txt`, `body.mjml`
(Jinja, then MJML compiled in-process by mjml-python) and `body.txt`. The
environment is sandboxed and autoescapes the MJML, so values can never inject
markup or reach Python objects.
No database, no request: callers pass everything in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape
from mjml import mjml2html

from service.mail.message import RenderedEmail


def make_email_environment(
    template_root: Path,
    gettext: Callable[..., str],
    ngettext: Callable[..., str],
) -> SandboxedEnvironment:
    """Return the sandboxed Jinja environment for e-mails, with translations."""
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(template_root)),
        autoescape=select_autoescape(enabled_extensions=("mjml", "html")),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


def render_email(
    env: SandboxedEnvironment, name: str, context: dict[str, Any]
) -> RenderedEmail:
    """Render `templates/email/<name>/` with `context` into subject, HTML and text."""
    subject = env.get_template(f"email/{name}/subject.txt").render(context)
    mjml_source = env.get_template(f"email/{name}/body.mjml").render(context)
    text = env.get_template(f"email/{name}/body.txt").render(context)
    return RenderedEmail(
        subject=" ".join(subject.split()),
        html=mjml2html(mjml_source),
        text=text.strip() + "\n",
    )


# Issues -----------------------------------------------------------------------------

#: Per-reader values are left as these markers in the frozen HTML and text and filled
#: in by `personalise`; they survive MJML and contain nothing HTML or URLs escape.
SLOT_UNSUBSCRIBE_URL = "__PB_UNSUBSCRIBE_URL__"
SLOT_PREFERENCES_URL = "__PB_PREFERENCES_URL__"
#: the end of each tracking URL in personal mode: a consenting reader's signed piece,
#: empty for everyone else (service/tracking)
SLOT_READER = "__PB_READER__"
SLOTS = (SLOT_UNSUBSCRIBE_URL, SLOT_PREFERENCES_URL, SLOT_READER)


@dataclass(frozen=True)
class ArticleContent:
    """One article as the templates need it: clean HTML, plain text, absolute URLs."""

    title: str
    html: str
    text: str
    image_url: str = ""
    image_alt: str = ""
    link_url: str = ""
    button_text: str = ""
    author: str = ""


@dataclass(frozen=True)
class IssueContent:
    """Everything an issue mail shows, as plain values (no database objects)."""

    year: int
    number: int
    title: str
    preheader: str
    theme: str
    intro_html: str
    intro_text: str
    articles: tuple[ArticleContent, ...]
    web_url: str
    references: tuple[str, ...] = field(default_factory=tuple)


def render_issue(
    env: SandboxedEnvironment, content: IssueContent, organisation: object, locale: str
) -> RenderedEmail:
    """Render an issue once into subject, HTML and text, with per-reader slots."""
    return render_email(
        env,
        "issue",
        {
            "issue": content,
            "organisation": organisation,
            "locale": locale,
            "unsubscribe_url": SLOT_UNSUBSCRIBE_URL,
            "preferences_url": SLOT_PREFERENCES_URL,
        },
    )


def personalise(email: RenderedEmail, values: dict[str, str]) -> RenderedEmail:
    """Fill the slots of a frozen e-mail for one reader (plain string replacement)."""
    html, text = email.html, email.text
    for slot, value in values.items():
        html = html.replace(slot, escape(value))
        text = text.replace(slot, value)
    return RenderedEmail(subject=email.subject, html=html, text=text)
