"""The pixel and the click answered in front of Flask, for genuine tokens.

After a send, tens of thousands of mail clients fetch the pixel within minutes, and
each request through the whole app would pay for what these two answers never use:
Flask's request and app contexts, the rate limiter's check, the cookie session and
the login manager. `TrackingDispatch` wraps the app's WSGI callable and answers a
GET or HEAD of `/t/o/<token>.gif` and `/t/c/<token>` itself, with the same
operations as the views in `service.tracking.views` (verify the token, look up the
link, queue the event) and the same status, headers and body. Everything else, and
every token that is not genuine, goes on to Flask unchanged: its views give the 404
page and keep the one definition of what these URLs answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from flask import Flask
from markupsafe import escape
from werkzeug.urls import iri_to_uri

from service.db import utcnow
from service.tracking import operations

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

OPEN_PREFIX = "/t/o/"
CLICK_PREFIX = "/t/c/"

#: the smallest transparent 1×1 GIF (GIF89a, one transparent pixel): 43 bytes
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00"
    b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
#: every open must reach us: a cached image would hide the next one
PIXEL_CACHE_HEADERS = (("Cache-Control", "no-store, max-age=0"), ("Pragma", "no-cache"))
CLICK_CACHE_HEADERS = (("Cache-Control", "no-store"),)


def redirect_body(location: str) -> bytes:
    """Return the small HTML page that goes with a 302, as werkzeug writes it."""
    html_location = escape(location)
    return (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
        "<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the "
        f'target URL: <a href="{html_location}">{html_location}</a>. If not, click '
        "the link.\n"
    ).encode()


@lru_cache(maxsize=1024)
def _redirect(url: str) -> tuple[str, bytes]:
    """Return a link's Location header and redirect page, made once per URL.

    A send has a handful of links and every click on one answers the same.
    """
    return iri_to_uri(url), redirect_body(url)


class TrackingDispatch:
    """WSGI middleware: answer genuine pixel and click requests without Flask."""

    def __init__(
        self, app: Flask, inner: WSGIApp, security_headers: Iterable[tuple[str, str]]
    ) -> None:
        self.app = app
        self.inner = inner
        self.security_headers = list(security_headers)

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method == "GET" or method == "HEAD":
            path = environ.get("PATH_INFO", "")
            answer = None
            if path.startswith(OPEN_PREFIX):
                answer = self._open(path, environ)
            elif path.startswith(CLICK_PREFIX):
                answer = self._click(path, environ)
            if answer is not None:
                status, headers, body = answer
                start_response(status, headers)
                return [] if method == "HEAD" else [body]
        return self.inner(environ, start_response)

    def _open(
        self, path: str, environ: dict[str, Any]
    ) -> tuple[str, list[tuple[str, str]], bytes] | None:
        token = path[len(OPEN_PREFIX) :]
        if not token.endswith(".gif") or "/" in token:
            return None
        hit = operations.read_hit(self.app, token[:-4], click=False)
        if hit is None:
            return None
        self._record(hit, environ)
        headers = [
            ("Content-Type", "image/gif"),
            ("Content-Length", str(len(PIXEL))),
            *PIXEL_CACHE_HEADERS,
            *self.security_headers,
        ]
        return "200 OK", headers, PIXEL

    def _click(
        self, path: str, environ: dict[str, Any]
    ) -> tuple[str, list[tuple[str, str]], bytes] | None:
        token = path[len(CLICK_PREFIX) :]
        if not token or "/" in token:
            return None
        hit = operations.read_hit(self.app, token, click=True)
        if hit is None or hit.link_id is None:
            return None
        url = operations.link_url(self.app, hit.send_id, hit.link_id)
        if url is None:
            return None
        self._record(hit, environ)
        location, body = _redirect(url)
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Location", location),
            *CLICK_CACHE_HEADERS,
            *self.security_headers,
        ]
        return "302 FOUND", headers, body

    def _record(self, hit: operations.links.Hit, environ: dict[str, Any]) -> None:
        operations.record_hit(
            self.app,
            hit,
            user_agent=environ.get("HTTP_USER_AGENT"),
            referrer=environ.get("HTTP_REFERER"),
            is_head=environ.get("REQUEST_METHOD") == "HEAD",
            now=utcnow(),
        )
