"""Pure signed tokens for links in mails: confirm, preferences, unsubscribe.

Tokens are signed with SECRET_KEY and verified with it and every key in
SECRET_KEY_FALLBACKS, so a rotated key does not break links already in inboxes.
They carry the subscriber's random `uid`, never the address.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from itsdangerous import (
    BadSignature,
    Serializer,
    SignatureExpired,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_encode, int_to_bytes

from service.errors import ExpiredToken, InvalidToken

CONFIRM = "confirm"
PREFERENCES = "preferences"
UNSUBSCRIBE = "unsubscribe"


class _Serializer(URLSafeTimedSerializer):
    """itsdangerous' URL-safe timed serializer, without trying zlib on the payload.

    Our payloads are a few dozen bytes that compression never shortens, and trying
    cost a send more than any other step of signing a reader's two links. Reading
    is unchanged, so tokens made either way verify alike.
    """

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


def _serializer(secret_keys: Sequence[str], purpose: str) -> URLSafeTimedSerializer:
    return _cached_serializer(tuple(secret_keys), purpose)


@lru_cache(maxsize=32)
def _cached_serializer(
    secret_keys: tuple[str, ...], purpose: str
) -> URLSafeTimedSerializer:
    # itsdangerous signs with the last key and verifies with all of them. Built once
    # per key set and purpose: a send signs two links for every reader.
    return _Serializer(list(secret_keys), salt=f"postbode.{purpose}")


def signing_keys(current: str, fallbacks: Sequence[str]) -> list[str]:
    """Return the keys in itsdangerous order: old ones first, the current one last."""
    return [*fallbacks, current]


#: itsdangerous' compact JSON, made once
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def make_token(
    secret_keys: Sequence[str], purpose: str, payload: dict[str, Any]
) -> str:
    """Return a URL-safe signed token for `purpose` carrying `payload`.

    The same token itsdangerous' URLSafeTimedSerializer makes with our salt (a test
    compares them), written out: a send signs two for every reader, and the
    generic path built a signer and derived its key again each time. Reading goes
    through itsdangerous (`read_token`).
    """
    body = base64_encode(_COMPACT_JSON.encode(payload))
    stamp = base64_encode(int_to_bytes(int(time.time())))
    value = body + b"." + stamp
    mac = hmac.digest(_signing_key(secret_keys[-1], purpose), value, "sha1")
    return (value + b"." + base64_encode(mac)).decode("ascii")


@lru_cache(maxsize=32)
def _signing_key(secret_key: str, purpose: str) -> bytes:
    """Return itsdangerous' derived key: SHA-1 of salt, "signer" and the key."""
    salt = f"postbode.{purpose}".encode()
    return hashlib.sha1(salt + b"signer" + secret_key.encode()).digest()


def read_token(
    secret_keys: Sequence[str],
    purpose: str,
    token: str,
    *,
    max_age_seconds: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return the payload of a genuine token, or raise InvalidToken / ExpiredToken.

    `now` (UTC, naive or aware) is passed in so expiry can be tested without a clock.
    """
    try:
        payload, signed_at = _serializer(secret_keys, purpose).loads(
            token, return_timestamp=True
        )
    except SignatureExpired:  # pragma: no cover - no max_age is given to loads
        raise ExpiredToken("expired") from None
    except BadSignature:
        raise InvalidToken("invalid") from None
    if not isinstance(payload, dict):
        raise InvalidToken("invalid")
    if max_age_seconds is not None and now is not None:
        age = now.replace(tzinfo=None) - signed_at.replace(tzinfo=None)
        if age.total_seconds() > max_age_seconds:
            raise ExpiredToken("expired")
    return payload
