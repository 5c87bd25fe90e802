"""The migrations produce exactly the schema the models describe."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import upgrade

from service import create_app
from service.extensions import db
from tests.conftest import settings


def test_migrations_match_the_models_exactly(app: Flask) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_upgrading_a_database_with_readers_keeps_every_row(tmp_path: Path) -> None:
    """SQLite batch migrations rebuild tables; cascades must not empty the children."""
    path = tmp_path / "old.sqlite3"
    app = create_app(
        settings(tmp_path, f"sqlite:///{path}"), environ={}, instance_path=tmp_path
    )
    with app.app_context():
        upgrade(revision="0003")
        with db.engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO lists (id, slug, name, description, kind, is_public,"
                " position, created_at) VALUES (1, 'nb', 'Nieuwsbrief', '',"
                " 'newsletter', 1, 0, '2026-01-01 00:00:00')"
            )
            connection.exec_driver_sql(
                "INSERT INTO subscribers (id, uid, email, name, status, locale,"
                " attributes, province, created_at, updated_at) VALUES (1, 'u1',"
                " 'lezer@example.nl', '', 'active', 'nl', '{}', '',"
                " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
            connection.exec_driver_sql(
                "INSERT INTO memberships (subscriber_id, list_id, status, created_at)"
                " VALUES (1, 1, 'active', '2026-01-01 00:00:00')"
            )
            connection.exec_driver_sql(
                "INSERT INTO consent_records (subscriber_id, list_id, list_name,"
                " text_version, text_hash, source, method, attested_by, requested_at)"
                " VALUES (1, 1, 'Nieuwsbrief', '2026-1', 'x', 'test', 'admin', '',"
                " '2026-01-01 00:00:00')"
            )
        upgrade()
        with db.engine.connect() as connection:
            for table in ("subscribers", "memberships", "consent_records"):
                count = connection.exec_driver_sql(f"SELECT count(*) FROM {table}")
                assert count.scalar() == 1, table
            violations = connection.exec_driver_sql("PRAGMA foreign_key_check")
            assert violations.all() == []
        db.engine.dispose()
