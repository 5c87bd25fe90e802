"""The two WSGI apps bench/signup.py serves under gunicorn: Postbode and a baseline.

* `app`: the real application (create_app), with CSRF and rate limits switched off
  for the bench only: a load generator cannot carry a session cookie and token per
  request, and a limit of 5 signups a minute would turn the run into 429s. Every
  other part of the signup runs: form validation, the address checks, the writes,
  the consent record, the confirmation mail (into the dev outbox of the instance).
* `bare`: a bare Flask app with one POST endpoint that parses the same form and
  answers the same 302: the floor that gunicorn, Werkzeug and Flask set.

The database and instance folder come from the environment (DATABASE_URL,
POSTBODE_BENCH_INSTANCE), set by bench/signup.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from flask import Flask, Response, redirect, request

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service import create_app  # noqa: E402 - after the path is known


def make_bare() -> Flask:
    """Return a Flask app with one signup-shaped POST endpoint and nothing else."""
    bare_app = Flask(__name__)

    @bare_app.post("/subscribe")
    def subscribe() -> Response:
        if "@" not in request.form.get("email", ""):
            return Response("no address", status=422)
        return redirect("/subscribe/thanks")

    @bare_app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return bare_app


def make_postbode() -> Flask:
    """Return the real app with CSRF and rate limits off (bench only)."""
    return create_app(
        {"WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False},
        instance_path=os.environ["POSTBODE_BENCH_INSTANCE"],
    )


if os.environ.get("POSTBODE_BENCH_APP") == "bare":
    app = make_bare()
else:
    app = make_postbode()
