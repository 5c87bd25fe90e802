"""Time rendering a 10-article issue, against its parts, in one run.

    .venv/bin/python bench/render.py [--runs 200]

Prints one table: the whole render (Markdown + nh3 + Jinja + MJML, what an editor's
preview and a send pay once per issue), and, as baselines measured in the same run,
Jinja alone (the MJML source) and mjml-python alone (compiling that source), plus
personalising the frozen result for one reader (what a send pays per recipient).
"""

from __future__ import annotations

import argparse
import gettext
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mjml import mjml2html  # noqa: E402

from config import ROOT  # noqa: E402
from service.markup import plain_text, render_markdown  # noqa: E402
from service.organisation import Identity  # noqa: E402
from service.rendering import (  # noqa: E402
    SLOT_PREFERENCES_URL,
    SLOT_UNSUBSCRIBE_URL,
    ArticleContent,
    IssueContent,
    make_email_environment,
    personalise,
    render_issue,
)

BODY = (
    "Gemeenten die **vroeg** ingrijpen voorkomen schulden. Dat blijkt uit "
    "[onderzoek](https://www.example.nl/onderzoek) onder veertig gemeenten.\n\n"
    "- huur\n- energie\n- zorgverzekering\n\n"
    + "Deelnemers vertellen over hun ervaringen met de schuldhulp. "
    * 12
)


def issue_content() -> IssueContent:
    """Return a realistic issue of ten articles as the renderer receives it."""
    references: list[str] = []
    articles = tuple(
        ArticleContent(
            title=f"Artikel {n}: wat werkt tegen schulden",
            html=render_markdown(BODY),
            text=plain_text(BODY, references),
            author="Ger Ramaekers",
            image_url=f"https://nieuwsbrief.example.nl/media/{n:032x}.jpg",
            image_alt="Een keukentafel vol brieven",
            link_url="https://www.example.nl/lees-meer",
            button_text="Lees verder",
        )
        for n in range(10)
    )
    return IssueContent(
        year=2026,
        number=3,
        title="Schulden en armoede",
        preheader="Wat gemeenten kunnen doen tegen schulden",
        theme="Verschulding",
        intro_html=render_markdown("Welkom bij dit **themanummer**."),
        intro_text=plain_text("Welkom bij dit **themanummer**."),
        articles=articles,
        web_url="https://nieuwsbrief.example.nl/archive/2026/3-schulden-en-armoede",
        references=tuple(references),
    )


def measure(runs: int, work: Callable[[], object]) -> tuple[float, float]:
    """Return the median and 95th percentile in milliseconds of `runs` calls."""
    work()  # warm caches (template compilation) once, as a running service has
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    runs = parser.parse_args().runs

    null = gettext.NullTranslations()
    env = make_email_environment(ROOT / "templates", null.gettext, null.ngettext)
    organisation = Identity("Sociale Alliantie", "Postbus 2758\n3500 GT Utrecht", "")

    def content_and_render() -> object:
        return render_issue(env, issue_content(), organisation, "nl")

    def cold_render() -> object:
        render_markdown.cache_clear()  # every article parsed and cleaned anew
        return content_and_render()

    content = issue_content()
    context = {
        "issue": content,
        "organisation": organisation,
        "locale": "nl",
        "unsubscribe_url": SLOT_UNSUBSCRIBE_URL,
        "preferences_url": SLOT_PREFERENCES_URL,
    }
    template = env.get_template("email/issue/body.mjml")
    source = template.render(context)
    rendered = render_issue(env, content, organisation, "nl")
    values = {
        SLOT_UNSUBSCRIBE_URL: "https://x.nl/unsubscribe/abc",
        SLOT_PREFERENCES_URL: "https://x.nl/p",
    }

    rows = [
        ("whole render, new text: Markdown+nh3+Jinja+MJML", cold_render),
        ("whole render, text unchanged (cache)", content_and_render),
        ("  baseline: Jinja alone (MJML source)", lambda: template.render(context)),
        ("  baseline: mjml-python alone (compile)", lambda: mjml2html(source)),
        ("personalise for one reader", lambda: personalise(rendered, values)),
    ]
    size = len(rendered.html.encode()) / 1024
    print(f"# {platform.machine()}, Python {platform.python_version()}")
    print(f"# 10 articles, HTML {size:.1f} KiB, {runs} runs")
    print(f"| {'step':<48} | {'median ms':>9} | {'p95 ms':>7} |")
    print(f"|{'-' * 50}|{'-' * 11}|{'-' * 9}|")
    for name, work in rows:
        median, p95 = measure(runs, work)
        print(f"| {name:<48} | {median:>9.2f} | {p95:>7.2f} |")


if __name__ == "__main__":
    main()
