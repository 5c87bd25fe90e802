"""The consent sentence shown on the signup page, versioned and hashed.

A new wording gets a new version; old versions stay so that every consent record
can show exactly what the reader agreed to.
"""

from __future__ import annotations

import hashlib

#: version -> locale -> sentence; {org} is filled in when shown
CONSENT_TEXTS: dict[str, dict[str, str]] = {
    "2026-1": {
        "nl": (
            "Ik wil de aangevinkte berichten van {org} per e-mail ontvangen. Mijn "
            "gegevens worden alleen daarvoor gebruikt en nooit aan anderen gegeven. "
            "Ik kan mij altijd met één klik afmelden en mijn gegevens laten wissen."
        ),
        "en": (
            "I want to receive the mailings I ticked from {org} by e-mail. My details "
            "are used for that alone and never given to others. I can leave at any "
            "time with one click and have my details erased."
        ),
    }
}

CURRENT_VERSION = "2026-1"


def consent_text(org: str, locale: str, version: str = CURRENT_VERSION) -> str:
    """Return the consent sentence exactly as shown to the reader."""
    texts = CONSENT_TEXTS[version]
    return texts.get(locale, texts["nl"]).format(org=org)


def text_hash(text: str) -> str:
    """Return the sha256 of the exact text shown."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
