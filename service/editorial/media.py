"""Serve uploaded images: immutable names, so caches may keep them for a year."""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, send_from_directory

from service.editorial.images import media_directory
from service.security import public

bp = Blueprint("media", __name__)

_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|gif)$")


@bp.get("/media/<filename>")
@public
def file(filename: str) -> Response:
    """Send a stored image with long cache headers."""
    if not _NAME.match(filename):
        abort(404)
    response = send_from_directory(media_directory(), filename, max_age=31536000)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
