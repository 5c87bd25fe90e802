"""Accounts: create, authenticate, change a password (which ends other sessions)."""

from __future__ import annotations

import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from service.editorial.models import User
from service.errors import Conflict, DomainError
from service.extensions import db
from service.security import Role
from service.subscribers.addresses import InvalidAddress, normalise_email

MIN_PASSWORD_LENGTH = 10


class _Hashing:
    """The app's argon2 hasher (ARGON2_PARAMETERS) and a hash to check in vain.

    The dummy hash is verified when an account does not exist, so the time a login
    takes does not tell whether an address has an account. Built on first use.
    """

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        self.dummy = hasher.hash(secrets.token_urlsafe(16))


def _hashing() -> _Hashing:
    hashing = current_app.extensions.get("postbode_hashing")
    if hashing is None:
        parameters = current_app.config["ARGON2_PARAMETERS"]
        hashing = _Hashing(PasswordHasher.from_parameters(parameters))
        current_app.extensions["postbode_hashing"] = hashing
    return hashing


class WeakPassword(DomainError):
    """The new password is too short."""


def hash_password(password: str) -> str:
    """Return an argon2id hash of the password."""
    return _hashing().hasher.hash(password)


def check_password_strength(password: str) -> None:
    """Refuse passwords shorter than MIN_PASSWORD_LENGTH."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            _("Kies een wachtwoord van minstens %(n)s tekens.", n=MIN_PASSWORD_LENGTH),
            field="password",
        )


def create_user(email: str, role: Role, password: str, name: str = "") -> User:
    """Add an account; raise Conflict when the address is taken."""
    try:
        address = normalise_email(email)
    except InvalidAddress:
        raise DomainError(_("Dit is geen geldig e-mailadres."), field="email") from None
    check_password_strength(password)
    if db.session.scalar(select(User).filter_by(email=address)) is not None:
        raise Conflict(_("Er bestaat al een account met dit adres."), field="email")
    user = User(
        email=address, role=Role(role), name=name, password_hash=hash_password(password)
    )
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str, now: datetime) -> User | None:
    """Return the active account with this address and password, else None."""
    try:
        address = normalise_email(email)
    except InvalidAddress:
        address = ""
    user = db.session.scalar(select(User).filter_by(email=address)) if address else None
    try:
        hashing = _hashing()
        hashing.hasher.verify(user.password_hash if user else hashing.dummy, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_active:
        return None
    if _hashing().hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    return user


def change_password(user: User, current: str, new: str) -> None:
    """Set a new password and end every other session of this account."""
    try:
        _hashing().hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise DomainError(
            _("Het huidige wachtwoord klopt niet."), field="current"
        ) from None
    check_password_strength(new)
    user.password_hash = hash_password(new)
    user.session_version += 1
    db.session.flush()


def generate_password() -> str:
    """Return a random password that is easy to type and hard to guess."""
    return secrets.token_urlsafe(12)
