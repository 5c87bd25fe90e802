"""Accounts: create, authenticate, change a password (which ends other sessions)."""

from __future__ import annotations

import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _
from sqlalchemy import select

from service.editorial.models import User
from service.errors import Conflict, DomainError
from service.extensions import db
from service.security import Role
from service.subscribers.addresses import InvalidAddress, normalise_email

_hasher = PasswordHasher()
#: verified against when the account does not exist, so timing does not tell
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 10


class WeakPassword(DomainError):
    """The new password is too short."""


def hash_password(password: str) -> str:
    """Return an argon2id hash of the password."""
    return _hasher.hash(password)


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
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    return user


def change_password(user: User, current: str, new: str) -> None:
    """Set a new password and end every other session of this account."""
    try:
        _hasher.verify(user.password_hash, current)
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
