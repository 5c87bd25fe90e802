"""Pure e-mail rendering: a template folder and values in, a RenderedEmail out.

Each e-mail lives in `templates/email/<name>/` as `subject.txt`, `body.mjml`
(Jinja, then MJML compiled in-process by mjml-python) and `body.txt`. The
environment is sandboxed and autoescapes the MJML, so values can never inject
markup or reach Python objects.
No database, no request: callers pass everything in.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
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
