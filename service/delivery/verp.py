"""Pure signed bounce addresses (VERP): which delivery a bounce is about.

The envelope sender of each message is BOUNCE_ADDRESS with a tag, e.g.
bounces+d1234-5f0c9a1b2e@example.nl. The tag names the delivery and carries an
HMAC, so a forged bounce cannot point at someone else's delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_TAG = re.compile(r"^d(\d+)-([0-9a-f]{10})$")


def _signature(secret: str, delivery_id: int) -> str:
    digest = hmac.new(secret.encode(), f"verp:{delivery_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:10]


def bounce_address(bounce: str, secret: str, delivery_id: int) -> str:
    """Return the tagged envelope sender for one delivery."""
    local, _, domain = bounce.rpartition("@")
    return f"{local}+d{delivery_id}-{_signature(secret, delivery_id)}@{domain}"


def delivery_of(address: str, secrets_to_try: list[str]) -> int | None:
    """Return the delivery id in a tagged bounce address, or None if not genuine."""
    local = address.strip("<>").rpartition("@")[0]
    _, plus, tag = local.partition("+")
    match = _TAG.match(tag) if plus else None
    if match is None:
        return None
    delivery_id = int(match.group(1))
    for secret in secrets_to_try:
        if hmac.compare_digest(_signature(secret, delivery_id), match.group(2)):
            return delivery_id
    return None
