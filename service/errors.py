"""Domain errors and the one HTML and one JSON handler that turn them into responses."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """A rule of the domain was broken; `message` is a sentence for the user."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """The thing asked for does not exist (or no longer does)."""

    status = 404


class Conflict(DomainError):
    """The request clashes with the current state."""

    status = 409


class InvalidToken(DomainError):
    """A link's token is forged, tampered with, or for another purpose."""

    status = 400


class ExpiredToken(InvalidToken):
    """A link's token was genuine but is too old."""

    status = 410


def wants_json() -> bool:
    """Tell whether the request should be answered with JSON."""
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best_match(["text/html", "application/json"])
        == "application/json"
    )


def error_response(status: int, message: str) -> tuple[Response, int]:
    """Return the one JSON error shape: {"error": {"status", "message"}}."""
    return jsonify(error={"status": status, "message": message}), status


def _http_titles() -> dict[int, str]:
    return {
        400: _("Dit verzoek klopt niet."),
        403: _("U heeft geen toegang tot deze pagina."),
        404: _("Deze pagina bestaat niet (meer)."),
        405: _("Deze handeling is hier niet toegestaan."),
        410: _("Deze link is verlopen."),
        413: _("Het bestand is te groot."),
        429: _("Te veel verzoeken. Probeer het over een paar minuten opnieuw."),
        500: _("Er ging iets mis aan onze kant. Probeer het later opnieuw."),
    }


def register_error_handlers(app: Flask) -> None:
    """Answer domain and HTTP errors with a page (or JSON) in the reader's language."""

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> tuple[object, int]:
        if wants_json():
            return error_response(error.status, error.message)
        return render_template("error.html", message=error.message), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[object, int] | HTTPException:
        status = error.code or 500
        message = _http_titles().get(status, error.description or "")
        if wants_json():
            return error_response(status, message)
        return render_template("error.html", message=message), status

    if app.testing:
        return  # tests see the real traceback

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> tuple[object, int]:
        app.logger.exception("unhandled error on %s", request.path)
        message = _http_titles()[500]
        if wants_json():
            return error_response(500, message)
        return render_template("error.html", message=message), 500
