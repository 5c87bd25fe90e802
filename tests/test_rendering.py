"""Rendering an issue: pure, golden, safe, and within what mail clients accept.

The golden files pin the rendered mail. After a deliberate change of the templates,
regenerate them with `UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_rendering.py` and
read the diff before committing it.
"""

from __future__ import annotations

import gettext as gettext_module
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from config import ROOT
from service.markup import plain_text, render_markdown
from service.organisation import Identity
from service.rendering import (
    SLOT_PREFERENCES_URL,
    SLOT_UNSUBSCRIBE_URL,
    ArticleContent,
    IssueContent,
    make_email_environment,
    personalise,
    render_issue,
)

GOLDEN = Path(__file__).parent / "golden"
ORGANISATION = Identity(
    name="Sociale Alliantie",
    postal_address="Postbus 2758\n3500 GT Utrecht",
    website="https://www.socialealliantie.nl",
)
_null = gettext_module.NullTranslations()
ENV = make_email_environment(ROOT / "templates", _null.gettext, _null.ngettext)


def article(
    title: str, body: str, references: list[str] | None = None, **extra: str
) -> ArticleContent:
    return ArticleContent(
        title=title,
        html=render_markdown(body),
        text=plain_text(body, references if references is not None else []),
        **extra,
    )


def content(
    *articles: ArticleContent,
    title: str = "Schulden en armoede",
    references: tuple[str, ...] = (),
) -> IssueContent:
    return IssueContent(
        year=2026,
        number=3,
        title=title,
        preheader="Wat gemeenten kunnen doen tegen schulden",
        theme="Verschulding",
        intro_html=render_markdown("Welkom bij dit **themanummer**."),
        intro_text=plain_text("Welkom bij dit **themanummer**."),
        articles=articles,
        web_url="https://nieuwsbrief.example.nl/archive/2026/3-schulden-en-armoede",
        references=references,
    )


_links: list[str] = []
TYPICAL_ARTICLES = (
    article(
        "Vroegsignalering werkt",
        "Gemeenten die **vroeg** ingrijpen voorkomen schulden.\n\n"
        "- huur\n- energie\n- zorgverzekering\n\n"
        "Lees [het onderzoek](https://www.example.nl/onderzoek).",
        _links,
        author="Ger Ramaekers",
        image_url="https://nieuwsbrief.example.nl/media/abc.jpg",
        image_alt="Een keukentafel vol brieven",
        link_url="https://www.example.nl/vroegsignalering",
        button_text="Lees het hele verhaal",
    ),
    article("Uit de provincie", "Limburg meldt: " + "ervaringen van deelnemers. " * 40),
    article("Agenda", "## Alliantiedag\n\nOp 12 maart in Utrecht."),
)
TYPICAL = content(*TYPICAL_ARTICLES, references=tuple(_links))


def test_a_typical_issue_matches_the_golden_files() -> None:
    rendered = render_issue(ENV, TYPICAL, ORGANISATION, "nl")
    for name, actual in (("issue.html", rendered.html), ("issue.txt", rendered.text)):
        path = GOLDEN / name
        if os.environ.get("UPDATE_GOLDEN"):
            path.write_text(actual)
        assert actual == path.read_text(), f"{name} changed: see the module docstring"


def test_the_mail_is_small_titled_in_dutch_and_makes_no_outside_requests() -> None:
    rendered = render_issue(ENV, TYPICAL, ORGANISATION, "nl")
    assert len(rendered.html.encode()) < 102 * 1024  # Gmail clips above this
    assert 'lang="nl"' in rendered.html
    assert re.search(r"<title>\S", rendered.html)
    assert "fonts.googleapis" not in rendered.html and "@import" not in rendered.html
    for tag in re.findall(r"<img[^>]*>", rendered.html):
        assert re.search(r'alt="[^"]+"', tag), tag


def test_the_plain_text_is_written_for_people() -> None:
    text = render_issue(ENV, TYPICAL, ORGANISATION, "nl").text
    assert "Vroegsignalering werkt\n----------------------" in text
    assert "- huur\n- energie" in text
    assert "Lees het hele verhaal: https://www.example.nl/vroegsignalering" in text
    assert "<" not in text.replace("<script>", "")
    assert f"Afmelden: {SLOT_UNSUBSCRIBE_URL}" in text


def test_personalising_fills_only_the_slots() -> None:
    rendered = render_issue(ENV, TYPICAL, ORGANISATION, "nl")
    mine = personalise(
        rendered,
        {
            SLOT_UNSUBSCRIBE_URL: "https://x.nl/unsubscribe/abc?a=1&b=2",
            SLOT_PREFERENCES_URL: "https://x.nl/preferences/abc",
        },
    )
    assert "__PB_" not in mine.html and "__PB_" not in mine.text
    assert 'href="https://x.nl/unsubscribe/abc?a=1&amp;b=2"' in mine.html
    assert "https://x.nl/unsubscribe/abc?a=1&b=2" in mine.text
    assert mine.subject == rendered.subject


XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[klik](javascript:alert(1))",
    "<svg/onload=alert(1)>",
    '"><iframe src=//evil.example>',
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<BODY ONLOAD=alert('XSS')>",
    "<style>@import'//evil.example/x.css';</style>",
    '<div style="background:url(javascript:alert(1))">',
]
INJECTION = [
    "{{ config }}",
    "{{ ''.__class__.__mro__ }}",
    "{% include '/etc/passwd' %}",
    "{{ self._TemplateReference__context }}",
]


class _Elements(HTMLParser):
    """Collect every element and attribute a browser would build from the HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


def elements(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("payload", XSS + INJECTION)
def test_hostile_titles_and_bodies_never_become_markup_or_code(payload: str) -> None:
    hostile = content(article(payload, payload, author=payload), title=payload)
    rendered = render_issue(ENV, hostile, ORGANISATION, "nl")
    found = elements(rendered.html)
    assert not {"script", "iframe", "svg", "object", "embed"} & set(found.tags)
    for name, value in found.attributes:
        assert not name.startswith("on"), name
        if name in ("href", "src", "style", "background", "action", "formaction"):
            assert "javascript:" not in value.lower(), (name, value)
    # Template syntax typed by an editor is shown as text, never evaluated.
    assert "root:" not in rendered.html and "root:" not in rendered.text
    assert "<Config" not in rendered.html and "object'>" not in rendered.html
    if payload in INJECTION:
        assert payload in rendered.text
