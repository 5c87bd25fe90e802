"""The pre-send checklist, tested on plain values without an app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from service.editorial import checks
from service.editorial.checks import Verdict
from service.mail.message import RenderedEmail
from service.rendering import (
    SLOT_PREFERENCES_URL,
    SLOT_UNSUBSCRIBE_URL,
    ArticleContent,
    IssueContent,
)

GOOD_HTML = (
    '<!doctype html><html lang="nl"><head><title>Armoede in cijfers</title>'
    "<style>.a { width:100%} @media (min-width:480px) { .b { width:100% }}</style>"
    "</head><body><!--[if mso]>{{ niets }}<![endif]-->"
    '<h1>Armoede in cijfers</h1><img src="https://postbode.nl/media/a.png" alt="Een'
    ' grafiek">'
    '<a href="https://example.org/rapport">Lees het rapport</a> · '
    f'<a href="{SLOT_PREFERENCES_URL}">Voorkeuren</a> · '
    f'<a href="{SLOT_UNSUBSCRIBE_URL}">Afmelden</a></body></html>'
)
GOOD_TEXT = f"Armoede in cijfers\n\nAfmelden: {SLOT_UNSUBSCRIBE_URL}\n"


def good_email(**changes: str) -> RenderedEmail:
    return replace(
        RenderedEmail(subject="Armoede in cijfers", html=GOOD_HTML, text=GOOD_TEXT),
        **changes,
    )


def good_content(**changes: object) -> IssueContent:
    article = ArticleContent(
        title="Cijfers",
        html="<p>Tekst</p>",
        text="Tekst",
        image_url="https://postbode.nl/media/a.png",
        image_alt="Een grafiek",
    )
    content = IssueContent(
        year=2026,
        number=2,
        title="Armoede in cijfers",
        preheader="Wat de nieuwe cijfers van het CBS zeggen over armoede in 2026",
        theme="Verarming",
        intro_html="",
        intro_text="",
        articles=(article,),
        web_url="https://postbode.nl/archive/2026/2-armoede",
    )
    return replace(content, **changes)


def verdicts(email: RenderedEmail, content: IssueContent) -> dict[str, Verdict]:
    return {c.name: c.verdict for c in checks.run_checks(email, content, "nl")}


def test_a_well_made_issue_passes_every_check() -> None:
    assert set(verdicts(good_email(), good_content()).values()) == {Verdict.OK}


def test_a_subject_over_sixty_characters_is_flagged_with_its_length() -> None:
    subject = "Een onderwerp dat veel te lang is om op een telefoon te passen, echt"
    result = checks.check_subject(good_email(subject=subject))
    assert result.verdict == Verdict.WARNING
    assert f"{len(subject)} tekens" in result.detail


def test_an_empty_subject_is_a_problem() -> None:
    assert checks.check_subject(good_email(subject=" ")).verdict == Verdict.PROBLEM


@pytest.mark.parametrize("preheader", ["", "Kort", "x" * 131])
def test_a_preheader_outside_forty_to_one_hundred_thirty_is_flagged(
    preheader: str,
) -> None:
    result = checks.check_preheader(good_content(preheader=preheader))
    assert result.verdict == Verdict.WARNING


def test_an_article_image_without_alt_text_is_named() -> None:
    article = replace(good_content().articles[0], title="Schulden", image_alt=" ")
    result = checks.check_alt_texts(good_email(), good_content(articles=(article,)))
    assert result.verdict == Verdict.PROBLEM
    assert "“Schulden”" in result.detail


def test_an_img_in_the_html_without_alt_is_flagged() -> None:
    html = GOOD_HTML.replace(
        "</body>", '<img src="https://elders.example/foto.jpg"></body>'
    )
    result = checks.check_alt_texts(good_email(html=html), good_content())
    assert result.verdict == Verdict.PROBLEM
    assert "https://elders.example/foto.jpg" in result.detail


def test_html_over_gmails_clipping_limit_is_a_problem() -> None:
    html = GOOD_HTML.replace("</body>", "<p>" + "x" * 103 * 1024 + "</p></body>")
    result = checks.check_size(good_email(html=html))
    assert result.verdict == Verdict.PROBLEM
    assert "Gmail" in result.detail


def test_html_close_to_the_limit_is_a_warning() -> None:
    html = GOOD_HTML.replace("</body>", "<p>" + "x" * 95 * 1024 + "</p></body>")
    assert checks.check_size(good_email(html=html)).verdict == Verdict.WARNING


def test_a_missing_unsubscribe_link_is_a_problem_and_says_where() -> None:
    text = GOOD_TEXT.replace(SLOT_UNSUBSCRIBE_URL, "")
    result = checks.check_unsubscribe(good_email(text=text))
    assert result.verdict == Verdict.PROBLEM
    assert "de platte tekst" in result.detail
    assert "HTML" not in result.detail


def test_a_leftover_from_the_template_is_reported_with_where_it_is() -> None:
    html = GOOD_HTML.replace("Lees het rapport", "Lees {{ article.titel }}")
    text = GOOD_TEXT.replace("Armoede in cijfers", "Door None")
    result = checks.check_leftovers(good_email(html=html, text=text))
    assert result.verdict == Verdict.PROBLEM
    assert "de HTML-versie" in result.detail
    assert "Lees {{ article.titel }}" in result.detail
    assert "de platte tekst" in result.detail
    assert "Door None" in result.detail


def test_style_sheets_and_outlook_comments_are_no_leftovers() -> None:
    # GOOD_HTML has "100%}" in its CSS and "{{" inside a conditional comment.
    assert checks.check_leftovers(good_email()).verdict == Verdict.OK


def test_a_wrong_language_or_an_empty_title_is_a_problem() -> None:
    english = good_email(html=GOOD_HTML.replace('lang="nl"', 'lang="en"'))
    untitled = good_email(
        html=GOOD_HTML.replace("Armoede in cijfers</title>", "</title>")
    )
    assert checks.check_language_and_title(english, "nl").verdict == Verdict.PROBLEM
    assert checks.check_language_and_title(english, "en").verdict == Verdict.OK
    result = checks.check_language_and_title(untitled, "nl")
    assert result.verdict == Verdict.PROBLEM
    assert "<title>" in result.detail


def test_google_fonts_and_a_one_pixel_image_are_flagged() -> None:
    font = '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=X">'
    html = GOOD_HTML.replace("</head>", font + "</head>").replace(
        "</body>",
        '<img src="https://tracker.example/o.gif" width="1" height="1" alt=""></body>',
    )
    result = checks.check_external_requests(good_email(html=html))
    assert result.verdict == Verdict.WARNING
    assert "fonts.googleapis.com" in result.detail
    assert "tracker.example" in result.detail


def test_an_import_in_a_style_sheet_is_flagged() -> None:
    html = GOOD_HTML.replace(
        "<style>", "<style>@import url('https://fonts.googleapis.com/css2');"
    )
    result = checks.check_external_requests(good_email(html=html))
    assert result.verdict == Verdict.WARNING


def test_the_links_to_check_leave_out_reader_slots_and_skipped_addresses() -> None:
    html = GOOD_HTML.replace(
        "</body>",
        '<a href="https://example.org/rapport">nog eens</a>'
        '<a href="https://postbode.nl/archive/x">web</a>'
        '<a href="mailto:redactie@postbode.nl">mail</a></body>',
    )
    links = checks.links_of(
        good_email(html=html), skip=["https://postbode.nl/archive/x"]
    )
    assert links == ["https://example.org/rapport"]


class _Site(BaseHTTPRequestHandler):
    """A tiny site: /ok answers, /weg is gone, HEAD is refused on /alleen-get."""

    def do_HEAD(self) -> None:  # noqa: N802 - the http.server interface
        if self.path == "/alleen-get":
            self.send_response(405)
        else:
            self.send_response(200 if self.path == "/ok" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        status = 200 if self.path in ("/ok", "/alleen-get") else 404
        body = b"hallo" if status == 200 else b"weg"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep the test output quiet."""


@pytest.fixture
def site() -> Iterator[str]:
    """A local web server on a free loopback port; yields its base address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_links_that_answer_pass_and_a_404_is_named(site: str) -> None:
    urls = [f"{site}/ok", f"{site}/weg", f"{site}/alleen-get"]
    results = checks.check_links(urls, timeout=2)
    assert [r.status for r in results] == [200, 404, 200]
    line = checks.links_verdict(results)
    assert line.verdict == Verdict.PROBLEM
    assert f"1 van de 3 links werken niet: {site}/weg (404)" in line.detail


def test_a_link_to_a_closed_port_is_reported_as_not_answering(site: str) -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    address = f"http://127.0.0.1:{closed.server_address[1]}/ok"
    closed.server_close()
    (result,) = checks.check_links([address], timeout=2)
    assert not result.answers
    assert result.error
