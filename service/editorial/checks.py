"""The pre-send checklist: pure checks on a rendered issue and its content.

Every check takes plain values (a RenderedEmail, the IssueContent it came from) and
returns a CheckResult with a verdict and a sentence for the editor. Nothing here
needs an app, a database or a request; flask_babel's gettext falls back to the
Dutch source text when no app is active, so the module is tested on its own.
Only `check_links` touches the network, and only when an editor asks for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from html.parser import HTMLParser
from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from flask_babel import gettext as _

from service.mail.message import RenderedEmail
from service.rendering import SLOT_UNSUBSCRIBE_URL, SLOTS, IssueContent

#: Subjects longer than this are cut off on most phones.
SUBJECT_IDEAL = 60
#: The preview line shows best between these lengths; shorter lets the body leak in.
PREHEADER_RANGE = (40, 130)
#: Gmail clips a message whose HTML is larger than 102 KB behind "[Bericht ingekort]".
GMAIL_CLIP_BYTES = 102 * 1024
#: Warn from this size on: personalised links and tracking still add a little.
SIZE_WARNING_BYTES = 90 * 1024
#: What a Jinja template leaves behind when a value is missing or markup slipped in.
LEFTOVERS = ("{{", "}}", "{%", "%}", "None", "Undefined")
#: Hosts whose mere loading tells a third party that a reader opened the mail.
EXTERNAL_FONT_HOSTS = (
    "fonts.googleapis.com",
    "fonts.gstatic.com",
    "use.typekit.net",
    "fonts.bunny.net",
    "fast.fonts.net",
)
LINK_TIMEOUT = 5.0
LINK_WORKERS = 8


class Verdict(StrEnum):
    """How a line of the checklist came out."""

    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"


@dataclass(frozen=True)
class CheckResult:
    """One line of the checklist: what was checked, the verdict and why."""

    name: str
    title: str
    verdict: Verdict
    detail: str


@dataclass(frozen=True)
class LinkResult:
    """The answer one link gave: an HTTP status, or the error that stopped it."""

    url: str
    status: int | None
    error: str = ""

    @property
    def answers(self) -> bool:
        """Tell whether the link led to a page (2xx or 3xx after redirects)."""
        return self.status is not None and self.status < 400


class _Anatomy(HTMLParser):
    """Collect what the checks look at in one pass over the HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = ""
        self.title = ""
        self.images: list[dict[str, str | None]] = []
        self.stylesheets: list[str] = []
        self.styles: list[str] = []
        self.hrefs: list[str] = []
        #: visible text and attribute values, where template leftovers would show
        self.visible: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang") or ""
        elif tag == "img":
            self.images.append(values)
        elif tag == "link" and "stylesheet" in (values.get("rel") or "").lower():
            self.stylesheets.append(values.get("href") or "")
        elif tag == "a" and values.get("href"):
            self.hrefs.append(values["href"] or "")
        for name, value in attrs:
            if name == "style" and value:
                self.styles.append(value)
            elif value and name in ("href", "src", "alt", "title"):
                self.visible.append(value)
        if tag not in ("img", "link", "meta", "br", "hr", "input"):
            self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._in:
            while self._in and self._in.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        current = self._in[-1] if self._in else ""
        if current == "title":
            self.title += data
        elif current == "style":
            self.styles.append(data)
        elif current != "script":
            self.visible.append(data)


def anatomy(html: str) -> _Anatomy:
    """Parse the HTML of a mail once for the checks."""
    parser = _Anatomy()
    parser.feed(html)
    parser.close()
    return parser


def check_subject(email: RenderedEmail) -> CheckResult:
    """Check that the subject is there and fits on a phone (≤ 60 characters)."""
    title = _("Lengte van het onderwerp")
    length = len(email.subject)
    if not email.subject.strip():
        return CheckResult(
            "subject", title, Verdict.PROBLEM, _("Het onderwerp is leeg.")
        )
    if length > SUBJECT_IDEAL:
        return CheckResult(
            "subject",
            title,
            Verdict.WARNING,
            _(
                "Het onderwerp is %(length)s tekens lang; boven de %(ideal)s wordt "
                "het op een telefoon afgekapt.",
                length=length,
                ideal=SUBJECT_IDEAL,
            ),
        )
    return CheckResult(
        "subject",
        title,
        Verdict.OK,
        _("Het onderwerp is %(length)s tekens lang.", length=length),
    )


def check_preheader(content: IssueContent) -> CheckResult:
    """Check that the preview line is between 40 and 130 characters."""
    title = _("Lengte van de voorvertoningsregel")
    low, high = PREHEADER_RANGE
    length = len(content.preheader.strip())
    if length == 0:
        detail = _(
            "Er is geen voorvertoningsregel; mailprogramma's tonen dan de eerste "
            "regels van de mail."
        )
        return CheckResult("preheader", title, Verdict.WARNING, detail)
    if length < low or length > high:
        detail = _(
            "De voorvertoningsregel is %(length)s tekens lang; tussen %(low)s en "
            "%(high)s leest het best.",
            length=length,
            low=low,
            high=high,
        )
        return CheckResult("preheader", title, Verdict.WARNING, detail)
    return CheckResult(
        "preheader",
        title,
        Verdict.OK,
        _("De voorvertoningsregel is %(length)s tekens lang.", length=length),
    )


def check_alt_texts(email: RenderedEmail, content: IssueContent) -> CheckResult:
    """Check that every article image and every <img> carries an alt text."""
    title = _("Alt-tekst bij elke afbeelding")
    missing = [
        article.title or _("(zonder titel)")
        for article in content.articles
        if article.image_url and not article.image_alt.strip()
    ]
    bare = [
        image.get("src") or "?"
        for image in anatomy(email.html).images
        if image.get("alt") is None
    ]
    if missing or bare:
        parts = []
        if missing:
            parts.append(
                _(
                    "Geef de afbeelding een alt-tekst bij: %(titles)s.",
                    titles=", ".join(f"“{t}”" for t in missing),
                )
            )
        if bare:
            parts.append(
                _(
                    "%(count)s afbeelding(en) in de HTML zonder alt-attribuut: "
                    "%(sources)s.",
                    count=len(bare),
                    sources=", ".join(bare[:3]),
                )
            )
        return CheckResult("alt", title, Verdict.PROBLEM, " ".join(parts))
    return CheckResult(
        "alt", title, Verdict.OK, _("Elke afbeelding heeft een alt-tekst.")
    )


def check_size(email: RenderedEmail) -> CheckResult:
    """Check the HTML against Gmail's clipping limit of 102 KB."""
    title = _("Omvang (Gmail kort af boven 102 KB)")
    size = len(email.html.encode("utf-8"))
    # Whole kilobytes, rounded up, so "102 KB" never hides a clipped mail.
    kilobytes = -(-size // 1024)
    if size > GMAIL_CLIP_BYTES:
        verdict = Verdict.PROBLEM
        detail = _(
            "De HTML is %(kb)s KB; Gmail toont dan maar een deel, met het "
            "afmeldlink onder “Bericht ingekort”. Maak de nieuwsbrief korter.",
            kb=kilobytes,
        )
    elif size > SIZE_WARNING_BYTES:
        verdict = Verdict.WARNING
        detail = _("De HTML is %(kb)s KB, dicht bij de grens van 102 KB.", kb=kilobytes)
    else:
        verdict = Verdict.OK
        detail = _("De HTML is %(kb)s KB.", kb=kilobytes)
    return CheckResult("size", title, verdict, detail)


def check_unsubscribe(email: RenderedEmail) -> CheckResult:
    """Check that the per-reader unsubscribe link is in the HTML and the text."""
    title = _("Afmeldlink")
    in_html = SLOT_UNSUBSCRIBE_URL in anatomy(email.html).hrefs
    in_text = SLOT_UNSUBSCRIBE_URL in email.text
    if in_html and in_text:
        return CheckResult(
            "unsubscribe",
            title,
            Verdict.OK,
            _("De afmeldlink staat in de HTML en in de platte tekst."),
        )
    if not in_html and not in_text:
        where = _("de HTML-versie en de platte tekst")
    elif not in_html:
        where = _("de HTML-versie")
    else:
        where = _("de platte tekst")
    return CheckResult(
        "unsubscribe",
        title,
        Verdict.PROBLEM,
        _(
            "De afmeldlink ontbreekt in %(where)s. Zonder afmeldlink mag de "
            "nieuwsbrief niet weg.",
            where=where,
        ),
    )


def _leftovers_in(text: str) -> list[str]:
    """Return each leftover found in `text` with a little context around it."""
    found = []
    for marker in LEFTOVERS:
        # "None" and "Undefined" only as whole words: "Nonetheless" is fine.
        pattern = rf"\b{marker}\b" if marker.isalpha() else re.escape(marker)
        for match in re.finditer(pattern, text):
            start, end = max(match.start() - 25, 0), min(match.end() + 25, len(text))
            snippet = " ".join(text[start:end].split())
            found.append(f"“…{snippet}…”")
    return found


def check_leftovers(email: RenderedEmail) -> CheckResult:
    """Check that nothing of the template language is left, and say where."""
    title = _("Niets over van de sjabloontaal")
    # Style sheets and comments are left out: minified CSS ("width:100%}") and
    # Outlook's conditional comments legitimately contain these characters.
    visible = "\n".join(anatomy(email.html).visible)
    places = [
        (_("het onderwerp"), _leftovers_in(email.subject)),
        (_("de HTML-versie"), _leftovers_in(visible)),
        (_("de platte tekst"), _leftovers_in(email.text)),
    ]
    found = [
        _("in %(place)s: %(snippets)s", place=place, snippets=", ".join(hits[:3]))
        for place, hits in places
        if hits
    ]
    if found:
        return CheckResult(
            "leftovers",
            title,
            Verdict.PROBLEM,
            _("Gevonden %(where)s.", where="; ".join(found)),
        )
    return CheckResult(
        "leftovers",
        title,
        Verdict.OK,
        _("Er staat niets meer van het sjabloon in de mail."),
    )


def check_language_and_title(email: RenderedEmail, locale: str) -> CheckResult:
    """Check `<html lang>` against the locale and that `<title>` is not empty."""
    title = _("Taal en titel van de HTML")
    parsed = anatomy(email.html)
    problems = []
    if parsed.lang.split("-")[0].lower() != locale.split("_")[0].lower():
        problems.append(
            _(
                "lang is “%(found)s” in plaats van “%(wanted)s”; schermlezers lezen "
                "de tekst dan met de verkeerde uitspraak.",
                found=parsed.lang,
                wanted=locale,
            )
        )
    if not parsed.title.strip():
        problems.append(_("De <title> is leeg."))
    if problems:
        return CheckResult("lang", title, Verdict.PROBLEM, " ".join(problems))
    return CheckResult(
        "lang",
        title,
        Verdict.OK,
        _(
            "lang=“%(lang)s”, titel “%(title)s”.",
            lang=parsed.lang,
            title=parsed.title.strip(),
        ),
    )


def _is_pixel(image: dict[str, str | None]) -> bool:
    """Tell whether an <img> is a 1×1 image, the shape of a tracking pixel."""
    width = (image.get("width") or "").strip().removesuffix("px")
    height = (image.get("height") or "").strip().removesuffix("px")
    if width == "1" and height == "1":
        return True
    style = (image.get("style") or "").replace(" ", "").lower()
    return "width:1px" in style and "height:1px" in style


def check_external_requests(email: RenderedEmail) -> CheckResult:
    """Check that opening the mail loads no external fonts and no tracking pixel."""
    title = _("Geen externe lettertypen of volgpixels")
    parsed = anatomy(email.html)
    found = [href for href in parsed.stylesheets if href.startswith(("http", "//"))]
    for style in parsed.styles:
        found += re.findall(r"@import\s+(?:url\()?\s*['\"]?([^'\"\);\s]+)", style)
        found += [
            host
            for host in EXTERNAL_FONT_HOSTS
            if host in style and not any(host in f for f in found)
        ]
    pixels = [image.get("src") or "?" for image in parsed.images if _is_pixel(image)]
    if found or pixels:
        parts = []
        if found:
            parts.append(
                _(
                    "Externe stijl of lettertype: %(urls)s.",
                    urls=", ".join(found[:3]),
                )
            )
        if pixels:
            parts.append(
                _("Afbeelding van 1×1 pixel: %(urls)s.", urls=", ".join(pixels[:3]))
            )
        parts.append(_("Bij het openen ziet een derde partij dan wie de mail leest."))
        return CheckResult("external", title, Verdict.WARNING, " ".join(parts))
    return CheckResult(
        "external",
        title,
        Verdict.OK,
        _("Het openen van de mail laadt geen lettertypen of pixels van derden."),
    )


def run_checks(
    email: RenderedEmail, content: IssueContent, locale: str
) -> list[CheckResult]:
    """Return the checklist for a rendered issue, in the order editors read it."""
    return [
        check_subject(email),
        check_preheader(content),
        check_alt_texts(email, content),
        check_size(email),
        check_unsubscribe(email),
        check_leftovers(email),
        check_language_and_title(email, locale),
        check_external_requests(email),
    ]


# Links ------------------------------------------------------------------------------


def links_of(email: RenderedEmail, skip: Iterable[str] = ()) -> list[str]:
    """Return the distinct web links of a mail, in order, without the reader slots."""
    skipped = set(skip)
    seen: dict[str, None] = {}
    for href in anatomy(email.html).hrefs:
        if href.startswith(("http://", "https://")) and href not in skipped:
            if not any(slot in href for slot in SLOTS):
                seen.setdefault(href, None)
    return list(seen)


def _ask(url: str, method: str, timeout: float) -> int:
    """Return the HTTP status `url` answers `method` with (after redirects)."""
    request = Request(url, method=method, headers={"User-Agent": "Postbode-linkcheck"})
    try:
        with urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except HTTPError as error:
        error.close()
        return int(error.code)


def check_link(url: str, timeout: float = LINK_TIMEOUT) -> LinkResult:
    """Ask one link with HEAD, falling back to GET for servers that refuse HEAD."""
    try:
        status = _ask(url, "HEAD", timeout)
        if status >= 400:
            # Many servers answer HEAD with 403, 405 or even 404 while GET works.
            status = _ask(url, "GET", timeout)
    except (URLError, OSError, ValueError, HTTPException) as error:
        reason = getattr(error, "reason", error)
        return LinkResult(url, None, str(reason))
    return LinkResult(url, status)


def check_links(
    urls: list[str],
    timeout: float = LINK_TIMEOUT,
    ask: Callable[[str, float], LinkResult] = check_link,
) -> list[LinkResult]:
    """Check links a few at a time, so one slow site does not hold up the rest."""
    if not urls:
        return []
    with ThreadPoolExecutor(max_workers=min(LINK_WORKERS, len(urls))) as pool:
        return list(pool.map(lambda url: ask(url, timeout), urls))


def links_verdict(results: list[LinkResult]) -> CheckResult:
    """Summarise checked links as one line of the checklist."""
    title = _("Elke link werkt")
    broken = [result for result in results if not result.answers]
    if not results:
        return CheckResult(
            "links", title, Verdict.OK, _("Deze nieuwsbrief bevat geen links.")
        )
    if broken:
        return CheckResult(
            "links",
            title,
            Verdict.PROBLEM,
            _(
                "%(broken)s van de %(total)s links werken niet: %(urls)s.",
                broken=len(broken),
                total=len(results),
                urls=", ".join(f"{r.url} ({r.status or r.error})" for r in broken[:5]),
            ),
        )
    return CheckResult(
        "links",
        title,
        Verdict.OK,
        _("Alle %(total)s links werken.", total=len(results)),
    )
