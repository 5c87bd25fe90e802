"""The languages pages and mails are written in, and the formats of their dates.

A language (nl, en) is what readers and accounts choose and what is stored; the
locale Babel formats with may be more precise. English is read by the international
audience of a Dutch organisation, so its dates follow British/European order and the
24-hour clock ("27 Nov 2026, 22:45") instead of the US defaults of plain "en"
("Nov 27, 2026, 10:45 PM"). The texts still come from the catalog of the language
(service/translations/en): gettext falls back from en_GB to en.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app
from flask_babel import force_locale, get_locale

#: language -> the Babel locale its dates and numbers are formatted in
FORMAT_LOCALES = {"en": "en_GB"}


def format_locale(language: str) -> str:
    """Return the Babel locale for a language: en_GB for en, the language otherwise."""
    return FORMAT_LOCALES.get(language, language)


def current_language() -> str:
    """Return the language (nl, en) of the page or mail being made."""
    locale = get_locale()
    if locale is None:
        return current_app.config["DEFAULT_LOCALE"]
    return locale.language


@contextmanager
def force_language(language: str) -> Iterator[None]:
    """Write texts and dates in `language` inside the block (a reader's mail)."""
    with force_locale(format_locale(language)):
        yield
