"""Postbode settings, read from the environment (and an optional `.env`) at start-up.

Every setting is parsed and checked here, once. A wrong or missing value raises
`ConfigError`, which stops the process with one line naming the setting. This module
imports nothing from `service/` so that it can be read on its own.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parent
INSTANCE = ROOT / "instance"

TRACKING_MODES = ("off", "anonymous", "personal")
LOCALES = ("nl", "en")


class ConfigError(SystemExit):
    """A setting is wrong or missing; the message names it in one line."""

    def __init__(self, name: str, problem: str) -> None:
        self.setting = name
        super().__init__(f"Postbode cannot start: setting {name} {problem}")


def _text(env: Mapping[str, str], name: str, default: str = "") -> str:
    return env.get(name, default).strip()


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _text(env, name).lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(name, f"must be true or false, got {raw!r}")


def _number(
    env: Mapping[str, str],
    name: str,
    default: float,
    cast: Callable[[str], float] = int,
    minimum: float = 0,
) -> Any:
    raw = _text(env, name)
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError:
        kind = "a whole number" if cast is int else "a number"
        raise ConfigError(name, f"must be {kind}, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {raw!r}")
    return value


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    raw = _text(env, name, default).rstrip("/")
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(name, f"must be an http:// or https:// address, got {raw!r}")
    return raw


def _address(env: Mapping[str, str], name: str, default: str) -> str:
    raw = _text(env, name, default)
    if raw.count("@") != 1 or any(c in raw for c in "\r\n"):
        raise ConfigError(name, f"must be an e-mail address, got {raw!r}")
    return raw


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple) -> str:
    raw = _text(env, name, default).lower()
    if raw not in allowed:
        raise ConfigError(name, f"must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


def _database_url(env: Mapping[str, str], instance: Path) -> str:
    raw = _text(env, "DATABASE_URL")
    if not raw:
        return f"sqlite:///{instance / 'postbode.sqlite3'}"
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw.removeprefix("postgres://")
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw.removeprefix("postgresql://")
    if not raw.startswith(("sqlite:///", "postgresql+psycopg://")):
        raise ConfigError(
            "DATABASE_URL", f"must start with sqlite:/// or postgresql://, got {raw!r}"
        )
    return raw


def _mailbox_url(env: Mapping[str, str], name: str) -> str:
    raw = _text(env, name)
    if not raw:
        return ""
    parts = urlsplit(raw)
    # The URL holds a password: the message names the problem, never the value.
    if parts.scheme not in ("imap", "imaps", "pop3", "pop3s"):
        raise ConfigError(
            name, "must start with imaps://, imap://, pop3s:// or pop3://"
        )
    if not (parts.hostname and parts.username and parts.password):
        raise ConfigError(name, "must name a user, a password and a host")
    return raw


def _secret_key(env: Mapping[str, str], instance: Path) -> str:
    raw = _text(env, "SECRET_KEY")
    if raw:
        if len(raw) < 16:
            raise ConfigError("SECRET_KEY", "must be at least 16 characters long")
        return raw
    # Development: generate one key once and keep it, so links in mails keep working
    # across restarts. Production sets SECRET_KEY (docs/operator-guide.md).
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_settings(
    environ: Mapping[str, str] | None = None, instance: Path = INSTANCE
) -> dict[str, Any]:
    """Return the validated settings from `environ` (default: os.environ plus .env)."""
    if environ is None:
        from dotenv import dotenv_values

        env = {k: v for k, v in dotenv_values(ROOT / ".env").items() if v is not None}
        env.update(os.environ)
    else:
        env = dict(environ)

    timezone = _text(env, "TIMEZONE", "Europe/Amsterdam")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            "TIMEZONE", f"is not a known time zone: {timezone!r}"
        ) from None

    mail_server = _text(env, "MAIL_SERVER")
    use_tls = _bool(env, "MAIL_USE_TLS", False)
    use_ssl = _bool(env, "MAIL_USE_SSL", False)
    if use_tls and use_ssl:
        raise ConfigError("MAIL_USE_SSL", "cannot be true together with MAIL_USE_TLS")
    base_url = _url(env, "BASE_URL", "http://127.0.0.1:5000")
    sender = _address(env, "MAIL_DEFAULT_SENDER", "postbode@localhost")
    ratelimit_uri = _text(env, "RATELIMIT_STORAGE_URI", "memory://")
    if not ratelimit_uri.startswith(("memory://", "redis://", "rediss://")):
        raise ConfigError(
            "RATELIMIT_STORAGE_URI",
            f"must be memory:// or redis://…, got {ratelimit_uri!r}",
        )
    fallbacks = [k.strip() for k in _text(env, "SECRET_KEY_FALLBACKS").split(",")]
    soft_score = _number(env, "BOUNCE_SOFT_SCORE", 0.5, float, 0)
    if soft_score > 1:
        raise ConfigError("BOUNCE_SOFT_SCORE", f"must be at most 1, got {soft_score}")
    webhook_secret = _text(env, "WEBHOOK_SECRET")
    if webhook_secret and len(webhook_secret) < 16:
        raise ConfigError("WEBHOOK_SECRET", "must be at least 16 characters long")

    settings: dict[str, Any] = {
        "SECRET_KEY": _secret_key(env, instance),
        # Old keys that still verify links in mails already sent (key rotation).
        "SECRET_KEY_FALLBACKS": [k for k in fallbacks if k],
        "BASE_URL": base_url,
        "PREFERRED_URL_SCHEME": urlsplit(base_url).scheme,
        "SQLALCHEMY_DATABASE_URI": _database_url(env, instance),
        "MAIL_SERVER": mail_server,
        "MAIL_PORT": _number(env, "MAIL_PORT", 465 if use_ssl else 25, minimum=1),
        "MAIL_USE_TLS": use_tls,
        "MAIL_USE_SSL": use_ssl,
        "MAIL_USERNAME": _text(env, "MAIL_USERNAME"),
        "MAIL_PASSWORD": _text(env, "MAIL_PASSWORD"),
        "MAIL_DEFAULT_SENDER": sender,
        "MAIL_NEWSLETTER_SENDER": _address(env, "MAIL_NEWSLETTER_SENDER", sender),
        "MAIL_OUTBOX_DIR": str(instance / "outbox"),
        "BOUNCE_ADDRESS": _text(env, "BOUNCE_ADDRESS"),
        #: what a soft bounce adds to a reader's score (a hard one adds 1)
        "BOUNCE_SOFT_SCORE": soft_score,
        #: at this score within the window the reader is marked bounced
        "BOUNCE_THRESHOLD": _number(env, "BOUNCE_THRESHOLD", 3.0, float, 0.5),
        #: bounce scores older than this many days no longer count
        "BOUNCE_WINDOW_DAYS": _number(env, "BOUNCE_WINDOW_DAYS", 7, minimum=1),
        #: the mailbox `flask bounces poll` reads, e.g. imaps://user:pass@host/INBOX
        "BOUNCE_MAILBOX_URL": _mailbox_url(env, "BOUNCE_MAILBOX_URL"),
        #: shared secret of the bounce webhooks; while empty they refuse everything
        "WEBHOOK_SECRET": webhook_secret,
        "DKIM_DOMAIN": _text(env, "DKIM_DOMAIN"),
        "DKIM_SELECTOR": _text(env, "DKIM_SELECTOR"),
        "DKIM_PRIVATE_KEY_FILE": _text(env, "DKIM_PRIVATE_KEY_FILE"),
        "SEND_CONCURRENCY": _number(env, "SEND_CONCURRENCY", 4, minimum=1),
        "SEND_RATE_PER_SECOND": _number(env, "SEND_RATE_PER_SECOND", 50.0, float, 0.1),
        #: a deferred message is given up (failed) this long after the send began
        "SEND_GIVE_UP_HOURS": _number(env, "SEND_GIVE_UP_HOURS", 72, minimum=1),
        #: this many failures in a row without one success pause a send
        "SEND_PAUSE_AFTER_FAILURES": _number(
            env, "SEND_PAUSE_AFTER_FAILURES", 50, minimum=1
        ),
        #: optional mailto: target in List-Unsubscribe, besides the one-click link
        "MAIL_UNSUBSCRIBE_ADDRESS": _text(env, "MAIL_UNSUBSCRIBE_ADDRESS"),
        "TRACKING_MODE": _choice(env, "TRACKING_MODE", "anonymous", TRACKING_MODES),
        #: raw opens and clicks are deleted after this many days; hourly counts stay
        "TRACKING_EVENT_DAYS": _number(env, "TRACKING_EVENT_DAYS", 183, minimum=1),
        "RATELIMIT_STORAGE_URI": ratelimit_uri,
        "RATELIMIT_ENABLED": _bool(env, "RATELIMIT_ENABLED", True),
        "TIMEZONE": timezone,
        "DEFAULT_LOCALE": _choice(env, "DEFAULT_LOCALE", "nl", LOCALES),
        "ORG_NAME": _text(env, "ORG_NAME"),
        "ORG_POSTAL_ADDRESS": _text(env, "ORG_POSTAL_ADDRESS"),
        "CONFIRM_TOKEN_MAX_AGE_DAYS": _number(
            env, "CONFIRM_TOKEN_MAX_AGE_DAYS", 7, minimum=1
        ),
        "CONSENT_RECORD_IP": _bool(env, "CONSENT_RECORD_IP", False),
        "ISSUES_PER_YEAR": _number(env, "ISSUES_PER_YEAR", 7, minimum=1),
        "CONTRIBUTION_REMINDER_DAYS": _number(
            env, "CONTRIBUTION_REMINDER_DAYS", 7, minimum=1
        ),
    }
    if settings["DKIM_DOMAIN"] and not settings["DKIM_PRIVATE_KEY_FILE"]:
        raise ConfigError(
            "DKIM_PRIVATE_KEY_FILE", "is required when DKIM_DOMAIN is set"
        )
    if settings["DKIM_PRIVATE_KEY_FILE"]:
        if not Path(settings["DKIM_PRIVATE_KEY_FILE"]).is_file():
            raise ConfigError("DKIM_PRIVATE_KEY_FILE", "does not name a readable file")
        if not (settings["DKIM_DOMAIN"] and settings["DKIM_SELECTOR"]):
            raise ConfigError("DKIM_SELECTOR", "and DKIM_DOMAIN are required for DKIM")
    return settings
