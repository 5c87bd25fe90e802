"""Subscriber import speed and memory: the real import against a bare executemany.

Usage: .venv/bin/python bench/import.py [--sizes 100000,1000000] [--keep DIR]

For each size it writes a CSV of generated readers (header, `;`, a province), then
in a fresh child process per measurement (so peak RSS belongs to that run alone):

* import: the code `flask subscribers import FILE --list SLUG --consent-source …`
  runs (service.subscribers.importer: streamed parsing, address checks, one lookup
  per batch for known addresses and suppressions, bulk inserts, a commit per batch);
* bare: the same file read with csv.reader and the same rows written into the same
  tables (subscribers, memberships, consent_records) with executemany, in batches of
  the same size and a commit per batch, without any checking.

Both run on a SQLite file migrated from migrations/. Consent is stated, so no mail
is involved. It prints one table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROVINCES = ["Groningen", "Friesland", "Drenthe", "Overijssel", "Utrecht", "Zeeland"]


def write_csv(path: Path, rows: int) -> None:
    """Write a CSV of generated readers, one line at a time."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("E-mailadres;Naam;Provincie\r\n")
        for i in range(rows):
            province = PROVINCES[i % len(PROVINCES)]
            handle.write(f"Lezer.{i}@Voorbeeld-{i % 997}.nl;Lezer {i};{province}\r\n")


def make_app(database: Path):  # noqa: ANN201 - a Flask app, imported lazily
    """Return an app on a freshly migrated SQLite file, with one list."""
    from flask_migrate import upgrade

    from service import create_app
    from service.extensions import db
    from service.subscribers.models import MailingList

    instance = database.parent / "instance"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "SECRET_KEY": "bench-secret-key-0123456789abcdef",
            "MAIL_OUTBOX_DIR": str(instance / "outbox"),
            "BASE_URL": "http://localhost",
        },
        environ={},
        instance_path=instance,
    )
    with app.app_context():
        upgrade()
        db.session.add(MailingList(slug="bench", name="Bench"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()  # no connection left open for the bare run's own
    return app


def run_import(csv_path: Path, database: Path) -> dict:
    """Import through the real importer, committing per batch as the command does."""
    from service.extensions import db
    from service.subscribers import importer, operations

    app = make_app(database)
    with app.app_context():
        mailing_list = operations.list_by_slug("bench")
        settings = importer.ImportSettings(
            mailing_list=mailing_list,
            attested_by="bench",
            consent_source="bench: generated readers",
            file_name=csv_path.name,
            org_name="Bench",
            locale="nl",
            now=datetime.now(UTC).replace(tzinfo=None),
        )
        report = importer.ImportReport()
        started, cpu = time.perf_counter(), time.process_time()
        with csv_path.open("rb") as raw:
            text = importer.text_stream(raw)
            for _to_mail in importer.import_batches(
                importer.read_rows(text), settings, report
            ):
                db.session.commit()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        assert report.imported == count_lines(csv_path) - 1, report
    return {"seconds": elapsed, "cpu": cpu, "rows": report.imported}


def run_bare(csv_path: Path, database: Path, batch_size: int) -> dict:
    """Insert the same rows with plain executemany into the same schema."""
    make_app(database)
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    list_id = connection.execute("SELECT id FROM lists").fetchone()[0]
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    started, cpu = time.perf_counter(), time.process_time()
    rows = 0
    with csv_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=";")
        next(reader)
        batch: list[list[str]] = []
        for record in reader:
            batch.append(record)
            if len(batch) >= batch_size:
                rows = _bare_batch(connection, batch, rows, list_id, now)
                batch = []
        if batch:
            rows = _bare_batch(connection, batch, rows, list_id, now)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    connection.close()
    return {"seconds": elapsed, "cpu": cpu, "rows": rows}


def _bare_batch(
    connection: sqlite3.Connection,
    batch: list[list[str]],
    done: int,
    list_id: int,
    now: str,
) -> int:
    ids = range(done + 1, done + 1 + len(batch))
    connection.executemany(
        "INSERT INTO subscribers (id, uid, email, name, status, locale, attributes,"
        " province, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                i,
                f"u{i}",
                r[0].lower(),
                r[1],
                "active",
                "nl",
                json.dumps({"province": r[2]}),
                r[2],
                now,
                now,
            )
            for i, r in zip(ids, batch, strict=True)
        ],
    )
    connection.executemany(
        "INSERT INTO memberships (subscriber_id, list_id, status, created_at,"
        " confirmed_at) VALUES (?, ?, ?, ?, ?)",
        [(i, list_id, "active", now, now) for i in ids],
    )
    connection.executemany(
        "INSERT INTO consent_records (subscriber_id, list_id, list_name,"
        " text_version, text_hash, source, method, attested_by, requested_at,"
        " confirmed_at, confirmation_method)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (i, list_id, "Bench", "2026-1", "0" * 64, "bench", "import", "bench")
            + (now, now, "import")
            for i in ids
        ],
    )
    connection.commit()
    return done + len(batch)


def count_lines(path: Path) -> int:
    """Count the lines of a file without holding it."""
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def child(kind: str, csv_path: Path, database: Path) -> None:
    """Run one measurement and print it as JSON (peak RSS of this process only)."""
    from service.subscribers.importer import BATCH_SIZE

    if kind == "import":
        result = run_import(csv_path, database)
    else:
        result = run_bare(csv_path, database, BATCH_SIZE)
    result["peak_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))


def measure(kind: str, csv_path: Path, folder: Path) -> dict:
    """Run one measurement in a fresh process."""
    database = folder / f"{kind}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(csv_path), str(database)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode != 0:
        sys.exit(f"{kind} run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> str:
    """Describe the machine in one line."""
    model = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        total_kb = int(info.readline().split()[1])
    return (
        f"{os.cpu_count()} CPUs ({model}), {total_kb / 1024 / 1024:.1f} GiB RAM, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def main() -> None:
    """Measure each size and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--keep", type=Path, default=None, help="Work in this folder.")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, csv_path, database = args.child
        child(kind, Path(csv_path), Path(database))
        return

    folder = args.keep or Path(tempfile.mkdtemp(prefix="postbode-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(machine())
    print()
    header = (
        f"| {'rows':>9} | {'import rows/s':>13} | {'bare rows/s':>11} | "
        f"{'import/bare':>11} | {'same, CPU time':>14} | "
        f"{'import peak RSS':>15} | {'bare peak RSS':>13} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for size in [int(s) for s in args.sizes.split(",")]:
        csv_path = folder / f"readers-{size}.csv"
        if not csv_path.exists():
            write_csv(csv_path, size)
        imported = measure("import", csv_path, folder)
        bare = measure("bare", csv_path, folder)
        import_rate = imported["rows"] / imported["seconds"]
        bare_rate = bare["rows"] / bare["seconds"]
        print(
            f"| {size:>9,} | {import_rate:>13,.0f} | {bare_rate:>11,.0f} | "
            f"{import_rate / bare_rate:>11.2f} | "
            f"{bare['cpu'] / imported['cpu']:>14.2f} | "
            f"{imported['peak_kb'] / 1024:>12.0f} MB | "
            f"{bare['peak_kb'] / 1024:>10.0f} MB |",
            flush=True,
        )


if __name__ == "__main__":
    main()
