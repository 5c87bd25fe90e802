"""Settings: a wrong or missing value stops start-up with one line naming it."""

from pathlib import Path

import pytest

from config import ConfigError, load_settings
from service import create_app


@pytest.mark.parametrize(
    ("environ", "setting"),
    [
        ({"MAIL_PORT": "twenty-five"}, "MAIL_PORT"),
        ({"MAIL_PORT": "0"}, "MAIL_PORT"),
        ({"BASE_URL": "postbode.example"}, "BASE_URL"),
        ({"TRACKING_MODE": "everything"}, "TRACKING_MODE"),
        ({"TIMEZONE": "Europe/Amsterdamm"}, "TIMEZONE"),
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL"),
        ({"MAIL_USE_TLS": "true", "MAIL_USE_SSL": "true"}, "MAIL_USE_SSL"),
        ({"MAIL_USE_TLS": "maybe"}, "MAIL_USE_TLS"),
        ({"MAIL_DEFAULT_SENDER": "nieuwsbrief"}, "MAIL_DEFAULT_SENDER"),
        ({"SEND_RATE_PER_SECOND": "fast"}, "SEND_RATE_PER_SECOND"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DKIM_DOMAIN": "example.nl"}, "DKIM_PRIVATE_KEY_FILE"),
        ({"DEFAULT_LOCALE": "de"}, "DEFAULT_LOCALE"),
        ({"RATELIMIT_STORAGE_URI": "memcached://x"}, "RATELIMIT_STORAGE_URI"),
    ],
)
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(
    tmp_path: Path, environ: dict[str, str], setting: str
) -> None:
    with pytest.raises(ConfigError) as stopped:
        create_app(environ=environ, instance_path=tmp_path)
    message = str(stopped.value)
    assert setting in message
    assert "\n" not in message
    assert stopped.value.code == message  # SystemExit prints it and exits 1


def test_defaults_give_a_working_embedded_setup(tmp_path: Path) -> None:
    settings = load_settings({}, instance=tmp_path)
    assert (
        settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/postbode.sqlite3"
    )
    assert settings["MAIL_SERVER"] == ""  # the dev outbox
    assert settings["TRACKING_MODE"] == "anonymous"
    assert settings["TIMEZONE"] == "Europe/Amsterdam"
    assert settings["DEFAULT_LOCALE"] == "nl"


def test_the_development_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings({}, instance=tmp_path)["SECRET_KEY"]
    second = load_settings({}, instance=tmp_path)["SECRET_KEY"]
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_postgres_urls_are_read_with_psycopg_3(tmp_path: Path) -> None:
    settings = load_settings(
        {"DATABASE_URL": "postgres://postbode@db/postbode"}, instance=tmp_path
    )
    assert (
        settings["SQLALCHEMY_DATABASE_URI"]
        == "postgresql+psycopg://postbode@db/postbode"
    )


def test_old_secret_keys_are_kept_for_verifying_links(tmp_path: Path) -> None:
    settings = load_settings(
        {"SECRET_KEY": "new-key-0123456789abc", "SECRET_KEY_FALLBACKS": "old-1, old-2"},
        instance=tmp_path,
    )
    assert settings["SECRET_KEY_FALLBACKS"] == ["old-1", "old-2"]
