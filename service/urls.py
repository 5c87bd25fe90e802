"""Absolute links for mails, built from BASE_URL so they work outside a request too."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app


def absolute_url(endpoint: str, **values: Any) -> str:
    """Return BASE_URL joined with the path of `endpoint` (CLI, clock and web alike)."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


#: stands in for the token while a token URL's surroundings are built
_MARKER = "postbode-token-marker"
#: the extension key of each app's {(endpoint, BASE_URL): (head, tail)}
_TOKEN_URLS = "postbode.token_urls"


def token_url(endpoint: str, token: str) -> str:
    """Return `absolute_url(endpoint, token=token)` for a URL-safe signed token.

    A send makes two such links for every reader. Signed tokens hold only base64url
    characters and dots, which werkzeug leaves as they are, so the URL around them
    is built once per endpoint and BASE_URL and the token put in its place.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    around = app.extensions.setdefault(_TOKEN_URLS, {})
    key = (endpoint, app.config["BASE_URL"])
    parts = around.get(key)
    if parts is None:
        head, _marker, tail = absolute_url(endpoint, token=_MARKER).partition(_MARKER)
        parts = around[key] = (head, tail)
    return parts[0] + token + parts[1]
