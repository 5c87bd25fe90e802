"""The open pixel and the click redirect: public, fast, and never an open redirect."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, redirect, request

from service.db import utcnow
from service.extensions import limiter
from service.security import public
from service.tracking import operations

bp = Blueprint("tracking", __name__)

#: the smallest transparent 1×1 GIF (GIF89a, one transparent pixel): 43 bytes
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00"
    b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def _record(token: str, *, click: bool) -> operations.links.Hit | None:
    return operations.record_hit(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        token,
        click=click,
        user_agent=request.headers.get("User-Agent"),
        is_head=request.method == "HEAD",
        now=utcnow(),
    )


# merge_slashes off: werkzeug would answer "/t/c//evil.example" with a redirect to
# "/t/c/evil.example"; here every path that is not a token is a plain 404.
@bp.get("/t/o/<token>.gif", merge_slashes=False)
@public
@limiter.exempt
def open_pixel(token: str) -> Response:
    """Answer the 1×1 image whatever the token; count the open when it is genuine."""
    _record(token, click=False)
    response = Response(PIXEL, mimetype="image/gif")
    # Every open must reach us; a cached image would hide the next one.
    response.headers["Cache-Control"] = "no-store, max-age=0"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.route("/t/c/<token>", methods=["GET", "HEAD"], merge_slashes=False)
@public
@limiter.exempt
def click(token: str) -> Response:
    """Redirect to the stored URL the signed token names; anything else is a 404.

    The destination comes only from the Link row, never from the request (a `?url=`
    is ignored), so the endpoint cannot be used to send people elsewhere.
    """
    hit = _record(token, click=True)
    if hit is None or hit.link_id is None:
        abort(404)
    link = operations.link_of(hit.send_id, hit.link_id)
    if link is None:
        abort(404)
    response = redirect(link.url, 302)
    response.headers["Cache-Control"] = "no-store"
    return response
