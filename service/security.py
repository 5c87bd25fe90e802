"""Who may use which route: every view declares its roles, and one check enforces them.

A view is decorated with `@public` or `@roles(Role.ADMIN, ...)`. `register_access_check`
refuses to serve any endpoint that declared nothing, so a forgotten declaration fails
closed; tests walk `app.url_map` to prove every route declared its access.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user

View = TypeVar("View", bound=Callable[..., object])

PUBLIC = "public"


class Role(StrEnum):
    """What an account may do."""

    ADMIN = "admin"
    EDITOR = "editor"
    CORRESPONDENT = "correspondent"


STAFF = (Role.ADMIN, Role.EDITOR)
ANY_ACCOUNT = (Role.ADMIN, Role.EDITOR, Role.CORRESPONDENT)


def public(view: View) -> View:
    """Declare that anyone may use this view."""
    view.access = PUBLIC  # type: ignore[attr-defined]
    return view


def roles(*allowed: Role) -> Callable[[View], View]:
    """Declare which account roles may use this view."""

    def decorate(view: View) -> View:
        view.access = frozenset(allowed)  # type: ignore[attr-defined]
        return view

    return decorate


def access_of(app: Flask, endpoint: str) -> str | frozenset[Role] | None:
    """Return the declared access of an endpoint, or None when it declared nothing."""
    view = app.view_functions.get(endpoint)
    return getattr(view, "access", None)


def register_access_check(app: Flask) -> None:
    """Check the declared roles of the matched endpoint before every request."""

    @app.before_request
    def check_access() -> object:
        endpoint = request.endpoint
        if endpoint is None:  # 404 or 405: the error handler answers
            return None
        access = access_of(current_app, endpoint)
        if access is None:
            current_app.logger.error("route %s declares no access; refused", endpoint)
            abort(403)
        if access == PUBLIC:
            return None
        if not current_user.is_authenticated:
            if request.path.startswith("/api/"):
                abort(401)
            return redirect(url_for("accounts.login", next=request.full_path))
        if current_user.role not in access:
            abort(403)
        return None
