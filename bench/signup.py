"""The signup POST under load, on SQLite and PostgreSQL, against a bare Flask endpoint.

Usage: .venv/bin/python bench/signup.py [--duration 10] [--connections 8]
       [--postgres postgresql://postgres@127.0.0.1:5432/postbode_bench]
       [--no-postgres]

Each target is served by gunicorn on a free port of 127.0.0.1, in the same
configuration (gthread workers, one per CPU, 4 threads each), and loaded by `wrk`
(Debian package `wrk`) from a second process, which POSTs the signup form with a new
address on every request (bench/signup_post.lua):

* bare: a bare Flask endpoint that parses the same form and answers the same 302
  (bench/signup_wsgi.py), the floor set by gunicorn, Werkzeug and Flask;
* sqlite: the real signup on a freshly migrated SQLite file (WAL);
* postgresql: the real signup on a freshly migrated PostgreSQL database of its own
  (created when missing; its schema is dropped and rebuilt, so never point this at
  a database whose data matters: the name must contain "bench").

The real signup runs with CSRF and rate limits off (bench/signup_wsgi.py says why)
and writes every confirmation mail into the dev outbox of a temporary instance.
Each run lasts --duration seconds after a 2-second warm-up; it prints one table.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import astuple, dataclass
from importlib.metadata import version
from pathlib import Path

from common import (
    THREADS_PER_WORKER,
    ensure_postgres_database,
    machine_line,
    parse_wrk,
    start_gunicorn,
    stop_process,
    wrk_command,
    wrk_version,
)

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
sys.path.insert(0, str(REPO))

WARM_UP_SECONDS = 2
SECRET_KEY = "bench-secret-key-0123456789abcdef"


@dataclass(frozen=True)
class Result:
    """What wrk measured for one target, and what the database kept."""

    target: str
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    stored: int | None


def prepare_database(url: str, instance: Path) -> int:
    """Migrate an empty database, add one public list; return the list's id."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from service import create_app
    from service.extensions import db
    from service.subscribers.models import MailingList

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url},
        environ={"SECRET_KEY": SECRET_KEY},
        instance_path=instance,
    )
    with app.app_context():
        if url.startswith("postgresql"):
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade()
        mailing_list = MailingList(
            slug="nieuwsbrief", name="Nieuwsbrief", is_public=True
        )
        db.session.add(mailing_list)
        db.session.commit()
        list_id = mailing_list.id
        db.session.remove()
        db.engine.dispose()
    return list_id


def count_subscribers(url: str) -> int:
    """Return how many subscribers the database holds."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM subscribers")).scalar()
    engine.dispose()
    return int(count or 0)


def run_wrk(port: int, args: argparse.Namespace, prefix: str, list_id: int) -> str:
    """Load the signup endpoint for the given duration; return wrk's report."""
    command = wrk_command(
        f"http://127.0.0.1:{port}",
        ROOT / "signup_post.lua",
        threads=args.threads,
        connections=args.connections,
        duration=args.duration,
    )
    env = {**os.environ, "SIGNUP_PREFIX": prefix, "SIGNUP_LIST_ID": str(list_id)}
    completed = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=args.duration + 60,
        check=True,
    )
    return completed.stdout


def parse_result(target: str, report: str, stored: int | None) -> Result:
    """Turn wrk's report for one target into a row of the table."""
    return Result(target, *astuple(parse_wrk(report)), stored)


def measure(
    target: str,
    kind: str,
    database_url: str | None,
    list_id: int,
    instance: Path,
    args: argparse.Namespace,
) -> Result:
    """Serve one target, warm it up, load it, and count what it stored."""
    env = {
        "SECRET_KEY": SECRET_KEY,
        "BASE_URL": "http://127.0.0.1:5000",
        "POSTBODE_BENCH_INSTANCE": str(instance),
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    process, port = start_gunicorn(
        "signup_wsgi:app", {**env, "POSTBODE_BENCH_APP": kind}, args.workers
    )
    try:
        warm_up = argparse.Namespace(**{**vars(args), "duration": WARM_UP_SECONDS})
        slug = re.sub(r"[^a-z]+", "-", target.lower()).strip("-")
        run_wrk(port, warm_up, f"warm-{slug}", list_id)
        before = count_subscribers(database_url) if database_url else 0
        report = run_wrk(port, args, f"run-{slug}", list_id)
    finally:
        stop_process(process)
    if args.verbose:
        print(report)
    # Every 302 of the measured run should have left exactly one new subscriber.
    stored = count_subscribers(database_url) - before if database_url else None
    return parse_result(target, report, stored)


def machine() -> list[str]:
    """Describe the machine and the versions the figures came from."""
    import sqlite3

    return [
        machine_line(),
        f"Python {platform.python_version()}, Flask {version('flask')}, "
        f"gunicorn {version('gunicorn')}, SQLAlchemy {version('sqlalchemy')}, "
        f"psycopg {version('psycopg')}, SQLite {sqlite3.sqlite_version}, "
        f"wrk {wrk_version()}",
    ]


def postgres_server_version(url: str) -> str:
    """Return the PostgreSQL server's version string."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text("SHOW server_version")).scalar()
    engine.dispose()
    return f"PostgreSQL {str(value).split()[0]}"


def print_table(
    results: list[Result], args: argparse.Namespace, notes: list[str]
) -> None:
    """Print the results as one Markdown table, with the set-up below it."""
    print("| target | requests | requests/s | p50 | p99 | errors | signups stored |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        stored = "—" if r.stored is None else str(r.stored)
        print(
            f"| {r.target} | {r.requests} | {r.per_second:,.0f} | {r.p50_ms:.1f} ms "
            f"| {r.p99_ms:.1f} ms | {r.errors} | {stored} |"
        )
    print()
    print(
        f"gunicorn: {args.workers} gthread workers x {THREADS_PER_WORKER} threads; "
        f"wrk: {args.threads} threads, {args.connections} connections, "
        f"{args.duration} s after a {WARM_UP_SECONDS} s warm-up; all on 127.0.0.1."
    )
    for line in [*machine(), *notes]:
        print(line)


def main() -> None:
    """Measure the bare endpoint and the signup on SQLite and PostgreSQL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per target")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432/postbode_bench"
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print wrk's reports")
    args = parser.parse_args()
    if args.duration > 120 or args.connections > 256:
        parser.error("keep the run bounded: --duration <= 120, --connections <= 256")
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")

    load = os.getloadavg()[0]
    notes = [f"load average (1 min) when the run started: {load:.2f}"]
    results = []
    with tempfile.TemporaryDirectory(prefix="postbode-bench-") as folder:
        base = Path(folder)
        results.append(
            measure("bare Flask endpoint", "bare", None, 1, base / "bare", args)
        )

        sqlite_url = f"sqlite:///{base / 'sqlite' / 'postbode.sqlite3'}"
        (base / "sqlite").mkdir()
        list_id = prepare_database(sqlite_url, base / "sqlite")
        results.append(
            measure(
                "signup, SQLite", "postbode", sqlite_url, list_id, base / "sqlite", args
            )
        )

        if not args.no_postgres:
            pg_url = ensure_postgres_database(args.postgres)
            list_id = prepare_database(pg_url, base / "pg")
            results.append(
                measure(
                    "signup, PostgreSQL", "postbode", pg_url, list_id, base / "pg", args
                )
            )
            notes.append(postgres_server_version(pg_url) + " on the same machine")
    print_table(results, args, notes)


if __name__ == "__main__":
    main()
