"""Pure rules for e-mail addresses: validation, normalisation, hashing."""

from __future__ import annotations

import hashlib

from email_validator import EmailNotValidError, validate_email


class InvalidAddress(ValueError):
    """The text is not a usable e-mail address; the message says why (in English)."""


def normalise_email(raw: str) -> str:
    """Return the address in its one stored form, or raise InvalidAddress.

    Domains are checked as IDN and kept in Unicode (NFC); the whole address is
    lower-cased because in practice no mailbox differs from another by case alone,
    and readers who type capitals must not become a second subscriber.
    """
    candidate = (raw or "").strip()
    if not candidate:
        raise InvalidAddress("empty")
    if len(candidate) > 320 or any(ord(c) < 32 for c in candidate):
        raise InvalidAddress("not an address")
    try:
        checked = validate_email(
            candidate, check_deliverability=False, allow_smtputf8=False
        )
    except EmailNotValidError as error:
        raise InvalidAddress(str(error)) from None
    return checked.normalized.lower()


def email_hash(normalised: str) -> str:
    """Return the sha256 hex digest kept in place of an erased or suppressed address."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()
