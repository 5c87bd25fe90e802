"""Pure text-to-HTML: Markdown without raw HTML, then cleaned by nh3 (ammonia).

Editors and correspondents write Markdown. Raw HTML is never rendered, and the result
is cleaned against an allowlist that e-mail clients handle well, once when saved and
again when an issue is rendered, so no stored or injected markup can reach a reader.
"""

from __future__ import annotations

import html as html_module
import re
import textwrap
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

#: tags that survive in articles; headings are shifted down (h1 -> h3) for the layout
ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "a", "ul", "ol", "li",
    "h3", "h4", "blockquote", "hr", "code", "pre",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
ALLOWED_SCHEMES = {"http", "https", "mailto"}

_markdown = MarkdownIt("commonmark", {"html": False, "typographer": True})
_HEADING = re.compile(r"<(/?)h([1-6])>")


def clean_html(html: str) -> str:
    """Return `html` with only the e-mail-safe tags, attributes and URL schemes."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def _shift_headings(html: str) -> str:
    def shift(match: re.Match[str]) -> str:
        level = min(int(match.group(2)) + 2, 4)
        return f"<{match.group(1)}h{level}>"

    return _HEADING.sub(shift, html)


@lru_cache(maxsize=1024)
def render_markdown(text: str) -> str:
    """Return clean HTML for Markdown typed by an editor or correspondent.

    Pure, so cached: an issue is rendered again for its preview, its checks, its
    approval hash and its send, and an unchanged article need not be parsed again.
    """
    return clean_html(_shift_headings(_markdown.render(text or "")))


def plain_text(text: str, references: list[str] | None = None) -> str:
    """Return Markdown as readable plain text.

    Links become "text [n]" and their URLs are appended to `references` (numbered
    from 1 across calls), so the mail can list them at the end; without a list the
    URL follows the text in brackets.
    """
    html = render_markdown(text)

    def link(match: re.Match[str]) -> str:
        url, label = html_module.unescape(match.group(1)), match.group(2)
        if references is None:
            return f"{label} ({url})"
        if url not in references:
            references.append(url)
        return f"{label} [{references.index(url) + 1}]"

    html = re.sub(r'<a href="([^"]*)"[^>]*>(.*?)</a>', link, html)
    html = re.sub(r"\s*<li>", "\n- ", html)
    html = re.sub(r"</li>", "", html)
    html = re.sub(r"<h[34]>(.*?)</h[34]>", lambda m: m.group(1).upper() + "\n", html)
    html = re.sub(r"</(p|ul|ol|blockquote|pre)>|<br>|<hr>", "\n", html)
    text_only = html_module.unescape(nh3.clean(html, tags=set()))
    lines = [_wrap(line.rstrip()) for line in text_only.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


#: plain-text lines are wrapped for reading, as mail programs show them as they are
WIDTH = 72


def _wrap(line: str) -> str:
    indent = "  " if line.startswith("- ") else ""
    return (
        textwrap.fill(
            line,
            WIDTH,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        if line
        else line
    )
