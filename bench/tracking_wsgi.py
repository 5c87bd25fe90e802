"""The two WSGI apps bench/tracking.py serves under gunicorn: Postbode and a baseline.

* `app` with POSTBODE_BENCH_APP=postbode: the real application (create_app) with its
  real pixel and click endpoints, recorder included; nothing is switched off (both
  endpoints are exempt from rate limits and need no CSRF token).
* `app` with POSTBODE_BENCH_APP=bare: a bare Flask app with the same two routes
  answering the same 43-byte GIF and the same kind of 302, with no token check and
  no recording: the floor that gunicorn, Werkzeug and Flask set.

The database, keys and instance folder come from the environment (DATABASE_URL,
SECRET_KEY, POSTBODE_BENCH_INSTANCE), set by bench/tracking.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from flask import Flask, Response, redirect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service import create_app  # noqa: E402 - after the path is known
from service.tracking.views import PIXEL  # noqa: E402

#: where the bare click endpoint sends everyone
DESTINATION = "https://www.example.nl/lees-meer/1"


def make_bare() -> Flask:
    """Return a Flask app with a pixel- and a click-shaped route and nothing else."""
    bare_app = Flask(__name__)

    @bare_app.get("/t/o/<token>.gif", merge_slashes=False)
    def open_pixel(token: str) -> Response:
        response = Response(PIXEL, mimetype="image/gif")
        response.headers["Cache-Control"] = "no-store, max-age=0"
        response.headers["Pragma"] = "no-cache"
        return response

    @bare_app.get("/t/c/<token>", merge_slashes=False)
    def click(token: str) -> Response:
        response = redirect(DESTINATION, 302)
        response.headers["Cache-Control"] = "no-store"
        return response

    @bare_app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return bare_app


def make_postbode() -> Flask:
    """Return the real app, as configured by the environment."""
    return create_app(instance_path=os.environ["POSTBODE_BENCH_INSTANCE"])


if os.environ.get("POSTBODE_BENCH_APP") == "bare":
    app = make_bare()
else:
    app = make_postbode()
