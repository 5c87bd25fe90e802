"""The open pixel and the click redirect: public, fast, and never an open redirect."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, redirect, request

from service.db import utcnow
from service.extensions import limiter
from service.security import public
from service.tracking import operations
from service.tracking.dispatch import CLICK_CACHE_HEADERS, PIXEL, PIXEL_CACHE_HEADERS

bp = Blueprint("tracking", __name__)


def _hit(token: str, *, click: bool) -> operations.links.Hit | None:
    return operations.read_hit(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        token,
        click=click,
    )


def _record(hit: operations.links.Hit) -> None:
    operations.record_hit(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        hit,
        user_agent=request.headers.get("User-Agent"),
        referrer=request.headers.get("Referer"),
        is_head=request.method == "HEAD",
        now=utcnow(),
    )


# These views are the definition of what the two URLs answer. For genuine tokens
# service.tracking.dispatch answers the same in front of Flask, faster; what reaches
# these views is then mostly what is not genuine.
# merge_slashes off: werkzeug would answer "/t/c//evil.example" with a redirect to
# "/t/c/evil.example"; here every path that is not a token is a plain 404.
@bp.get("/t/o/<token>.gif", merge_slashes=False)
@public
@limiter.exempt
def open_pixel(token: str) -> Response:
    """Answer the 1×1 image whatever the token; count the open when it is genuine."""
    hit = _hit(token, click=False)
    if hit is not None:
        _record(hit)
    response = Response(PIXEL, mimetype="image/gif")
    response.headers.extend(PIXEL_CACHE_HEADERS)
    return response


@bp.route("/t/c/<token>", methods=["GET", "HEAD"], merge_slashes=False)
@public
@limiter.exempt
def click(token: str) -> Response:
    """Redirect to the stored URL the signed token names; anything else is a 404.

    The destination comes only from the Link row, never from the request (a `?url=`
    is ignored), so the endpoint cannot be used to send people elsewhere.
    """
    hit = _hit(token, click=True)
    if hit is None or hit.link_id is None:
        abort(404)
    url = operations.link_url(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        hit.send_id,
        hit.link_id,
    )
    if url is None:
        abort(404)
    _record(hit)
    response = redirect(url, 302)
    response.headers.extend(CLICK_CACHE_HEADERS)
    return response
