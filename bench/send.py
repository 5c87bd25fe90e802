"""Sending a 40 KB issue: the engine against the raw SMTP limit and the naive loop.

Usage: .venv/bin/python bench/send.py [--sizes 10000,100000,1000000]
       [--databases sqlite,postgresql] [--largest-on sqlite,postgresql]
       [--concurrency 4] [--processes 1,2] [--send-seconds 1200]
       [--postgres postgresql://postgres@127.0.0.1:5432/postbode_bench_send]

One local sink on a free port of 127.0.0.1 takes every message: Postfix's
`smtp-sink` (Debian package `postfix`, started only as that test binary; the postfix
service is never started), or, without it, an aiosmtpd sink in a separate process.
In one run, against that sink, with the same personalised issue (eight articles
rendered through service.editorial / service.rendering, about 40 KB on the wire):

* raw limit: Postfix's `smtp-source`, same concurrency, same message size, each
  connection reused (-d): what the sink and the loopback can take;
* naive: per message an EmailMessage (standard library, policy SMTP, built by
  service.mail.message.build_message with the same list headers and personalised
  links) and a new smtplib connection: connect, send, quit; one at a time;
* engine: Postbode's sender with its database bookkeeping, `Sender(app).run(stop,
  until_idle=True)`, on SQLite and PostgreSQL, for each audience size. The audience
  (subscribers and memberships, executemany) and the send (operations.start_send:
  the INSERT … SELECT of every delivery) are made in one child process, untimed
  except for start_send; the sender runs in a fresh child process of its own, so
  its CPU time and peak RSS (ru_maxrss) belong to that run alone. With
  --processes 2 two such senders run at once (as two `flask send worker`
  processes would), each with half the connections: the same concurrency in all.

A sender run that reaches --send-seconds is stopped (it finishes its batch, as on
a shutdown) and reported with what it sent; --largest-on limits the largest size
to some databases. SEND_RATE_PER_SECOND is set far above what the sink takes, so
the rate limiter's bookkeeping runs but never waits. The PostgreSQL database is
the bench's own (created when missing, its schema rebuilt for every size; the name
must contain "bench"). Targets from issue 4 are reported, never asserted. It prints
one table.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from common import (
    ensure_postgres_database,
    free_port,
    load_average,
    machine_line,
    start_sink,
    stop_process,
)

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

SMTP_SOURCE = "/usr/sbin/smtp-source"
SECRET_KEY = "bench-secret-key-0123456789abcdef"
BASE_URL = "https://nieuwsbrief.example.nl"
SENDER = "nieuwsbrief@example.nl"
BOUNCE = "bounces@example.nl"
#: rows per executemany while making the audience
CHUNK = 10_000
#: the largest audience the bench accepts, and the time one sender run may take
MAX_SIZE = 1_000_000
MAX_SECONDS = 3600
ARTICLES = 8

# One article's Markdown: paragraphs, a list, a link and emphasis, as editors write.
BODY = (
    "Gemeenten die **vroeg** ingrijpen voorkomen schulden. Dat blijkt uit "
    "[onderzoek](https://www.example.nl/onderzoek/vroegsignalering) onder veertig "
    "gemeenten, die samen meer dan een miljoen huishoudens bedienen.\n\n"
    "De onderzoekers keken vooral naar drie soorten achterstanden:\n\n"
    "- huur en servicekosten\n- energie en water\n- zorgverzekering en eigen risico\n\n"
    "Deelnemers vertellen over hun ervaringen met de schuldhulp, over wachttijden, "
    "over de brieven die ze niet meer durfden te openen en over de buurvrouw die "
    "uiteindelijk de telefoon pakte.\n\n"
    "> Wie op tijd hulp vraagt, houdt meer over om van te leven.\n\n"
    "Lees het hele rapport op de website van de alliantie."
)


# -- the issue, the app and the audience -------------------------------------------


def make_app(database_url: str, instance: Path, port: int, concurrency: int) -> Any:
    """Return the real app on `database_url`, sending to the sink on `port`."""
    from service import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": SECRET_KEY,
            "BASE_URL": BASE_URL,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
            "MAIL_NEWSLETTER_SENDER": SENDER,
            "MAIL_DEFAULT_SENDER": SENDER,
            "BOUNCE_ADDRESS": BOUNCE,
            "ORG_NAME": "Sociale Alliantie",
            "ORG_POSTAL_ADDRESS": "Postbus 2758, 3500 GT Utrecht",
            "SEND_CONCURRENCY": concurrency,
            # Far above what the sink takes: the limiter books, but never waits.
            "SEND_RATE_PER_SECOND": 1_000_000.0,
        },
        environ={},
        instance_path=instance,
    )


def rebuild_schema(database_url: str) -> None:
    """Empty the database (a new SQLite file, or a new PostgreSQL schema); migrate."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from service.extensions import db

    if database_url.startswith("postgresql"):
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    upgrade()


def make_issue() -> tuple[Any, Any, Any]:
    """Add a list and an eight-article issue; return the list, issue and rendering."""
    from service.editorial import operations as editorial
    from service.editorial.models import Article, Issue, IssueStatus, Theme
    from service.extensions import db
    from service.subscribers.models import MailingList

    mailing_list = MailingList(slug="nieuwsbrief", name="Nieuwsbrief", is_public=True)
    theme = Theme(slug="verschulding", name="Verschulding")
    issue = Issue(
        year=2026,
        number=3,
        theme=theme,
        title="Schulden en armoede",
        slug="schulden-en-armoede",
        preheader="Wat gemeenten kunnen doen tegen schulden",
        intro="Welkom bij dit **themanummer** over schulden en armoede.",
        status=IssueStatus.SENDING,
    )
    for n in range(ARTICLES):
        issue.articles.append(
            Article(
                position=n,
                title=f"Artikel {n + 1}: wat werkt tegen schulden",
                body=BODY,
                author="Ger Ramaekers",
                link_url=f"https://www.example.nl/lees-meer/{n + 1}",
                button_text="Lees verder",
            )
        )
    db.session.add_all([mailing_list, issue])
    db.session.flush()
    return mailing_list, issue, editorial.render(issue)


def reader(i: int) -> tuple[str, str, str]:
    """Return reader i's uid, address and name."""
    return f"{i:032x}", f"lezer.{i}@voorbeeld-{i % 997}.nl", f"Lezer {i}"


def add_audience(size: int, list_id: int) -> None:
    """Insert `size` active subscribers, all on the list, with executemany."""
    from service.extensions import db

    now = datetime.now(UTC).replace(tzinfo=None)
    postgres = db.engine.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    subscribers = (
        "INSERT INTO subscribers (id, uid, email, name, status, locale, attributes, "
        "province, created_at, updated_at) VALUES "
        f"({', '.join([mark] * 10)})"
    )
    memberships = (
        "INSERT INTO memberships (id, subscriber_id, list_id, status, created_at, "
        f"confirmed_at) VALUES ({', '.join([mark] * 6)})"
    )
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for start in range(1, size + 1, CHUNK):
            ids = range(start, min(start + CHUNK, size + 1))
            cursor.executemany(
                subscribers,
                [
                    (i, *reader(i), "active", "nl", "{}", "Utrecht", now, now)
                    for i in ids
                ],
            )
            cursor.executemany(
                memberships, [(i, i, list_id, "active", now, now) for i in ids]
            )
            raw.commit()
        if postgres:
            # Explicit ids leave the sequences behind; and fresh statistics give the
            # planner what a database that grew over years would have.
            cursor.execute(
                "SELECT setval('subscribers_id_seq', %s), "
                "setval('memberships_id_seq', %s)",
                (size + 1, size + 1),
            )
            raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Child: a fresh database with the audience, and the send started."""
    from sqlalchemy import text

    from service.delivery import operations
    from service.extensions import db

    app = make_app(args.database, Path(args.instance), args.port, args.concurrency)
    with app.app_context():
        rebuild_schema(args.database)
        mailing_list, issue, rendered = make_issue()
        db.session.commit()
        started = time.perf_counter()
        add_audience(args.size, mailing_list.id)
        audience_seconds = time.perf_counter() - started
        started = time.perf_counter()
        send = operations.start_send(
            issue=issue,
            lists=[mailing_list],
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            now=datetime.now(UTC).replace(tzinfo=None),
        )
        db.session.commit()
        start_seconds = time.perf_counter() - started
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE deliveries"))
            db.session.commit()
        total = send.total
        db.session.remove()
        db.engine.dispose()
    return {
        "audience_seconds": audience_seconds,
        "start_seconds": start_seconds,
        "total": total,
    }


def send(args: argparse.Namespace) -> dict[str, Any]:
    """Child: run one sender until nothing is due; time it and count the outcome."""
    import threading

    from sqlalchemy import func, select

    from service.delivery.engine import Sender
    from service.delivery.models import Delivery
    from service.extensions import db

    app = make_app(args.database, Path(args.instance), args.port, args.concurrency)
    stop = threading.Event()
    # Bounds the run: the sender finishes its batch and stops, as on a shutdown.
    timer = threading.Timer(args.send_seconds, stop.set)
    timer.daemon = True
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    timer.start()
    handled = Sender(app).run(stop, until_idle=True)
    seconds = time.perf_counter() - started
    timer.cancel()
    after = resource.getrusage(resource.RUSAGE_SELF)
    with app.app_context():
        counts = dict(
            db.session.execute(
                select(Delivery.status, func.count()).group_by(Delivery.status)
            ).all()
        )
        db.session.remove()
        db.engine.dispose()
    return {
        "handled": handled,
        "seconds": seconds,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "maxrss_kib": after.ru_maxrss,
        "counts": {str(k): v for k, v in counts.items()},
    }


# -- the baselines ------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """The rendered issue and one personalised message, as the engine builds it."""

    rendered: Any
    list_id: int
    list_header: str
    message_size: int


def sample_issue(instance: Path, port: int, concurrency: int) -> tuple[Any, Sample]:
    """Render the issue on a scratch SQLite file; build one message as the engine."""
    from service.delivery.engine import Claimed, Ready, Sender
    from service.delivery.operations import start_send
    from service.extensions import db

    app = make_app(
        f"sqlite:///{instance / 'sample.sqlite3'}", instance, port, concurrency
    )
    with app.app_context():
        rebuild_schema(app.config["SQLALCHEMY_DATABASE_URI"])
        mailing_list, issue, rendered = make_issue()
        db.session.commit()  # the audience goes in over a connection of its own
        add_audience(1, mailing_list.id)
        send_row = start_send(
            issue=issue,
            lists=[mailing_list],
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            now=datetime.now(UTC).replace(tzinfo=None),
        )
        db.session.commit()
        uid, email, name = reader(1)
        row = argparse.Namespace(
            id=1, uid=uid, email=email, name=name, tracking_consent=False
        )
        sender = Sender(app)
        facts = sender._facts({send_row.id})[send_row.id]
        claimed = Claimed(1, send_row.id, 1, 0, 0, False, None)
        job = sender._job(Ready(claimed, facts, row, 0.0))
        sender.close()
        sample = Sample(
            rendered=rendered,
            list_id=mailing_list.id,
            list_header=send_row.list_header,
            message_size=len(job.message),
        )
        db.session.remove()
        db.engine.dispose()
    return app, sample


def raw_limit(
    port: int, size: int, count: int, concurrency: int
) -> tuple[float, float]:
    """Run smtp-source against the sink; return seconds and its CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [
            SMTP_SOURCE,
            "-d",  # reuse each connection, as the engine does
            "-s",
            str(concurrency),
            "-l",
            str(size),
            "-m",
            str(count),
            "-f",
            BOUNCE,
            "-t",
            "lezer@voorbeeld.nl",
            f"127.0.0.1:{port}",
        ],  # fmt: skip
        check=True,
        timeout=MAX_SECONDS,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def naive(app: Any, sample: Sample, port: int, count: int) -> tuple[float, float]:
    """Build an EmailMessage and open a new connection per message; time `count`."""
    from service.mail.message import build_message
    from service.rendering import SLOT_PREFERENCES_URL, SLOT_UNSUBSCRIBE_URL
    from service.rendering import personalise as fill
    from service.subscribers.notices import preferences_url_for, unsubscribe_url_for

    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    with app.app_context():
        for i in range(1, count + 1):
            uid, email, name = reader(i)
            unsubscribe = unsubscribe_url_for(uid, sample.list_id)
            personal = fill(
                sample.rendered,
                {
                    SLOT_UNSUBSCRIBE_URL: unsubscribe,
                    SLOT_PREFERENCES_URL: preferences_url_for(uid),
                },
            )
            message = build_message(
                sender=SENDER,
                sender_name="Sociale Alliantie",
                to=email,
                to_name=name,
                subject=personal.subject,
                text=personal.text,
                html=personal.html,
                headers={
                    "List-Id": sample.list_header,
                    "List-Unsubscribe": f"<{unsubscribe}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    "Precedence": "bulk",
                    "Feedback-ID": "1:1:issue:postbode",
                },
            )
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                smtp.sendmail(BOUNCE, [email], message.as_bytes())
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


# -- the sink and the children -------------------------------------------------


def child_command(
    mode: str, database: str, instance: Path, port: int, size: int, args: Any,
    concurrency: int,
) -> list[str]:  # fmt: skip
    """Return the command that runs this script in `mode` in a fresh process."""
    return [
        sys.executable, __file__, "--child", mode,
        "--database", database, "--instance", str(instance),
        "--port", str(port), "--size", str(size),
        "--concurrency", str(concurrency),
        "--send-seconds", str(args.send_seconds),
    ]  # fmt: skip


def senders(
    processes: int, database: str, instance: Path, port: int, size: int, args: Any
) -> dict:
    """Run `processes` sender children at once, sharing the connections; add up.

    Each gets concurrency / processes connections, so together they hold as many
    as smtp-source did. Seconds are the longest child's, CPU the sum, peak RSS the
    largest single process's (each sender's own memory).
    """
    each = max(1, args.concurrency // processes)
    command = child_command("send", database, instance, port, size, args, each)
    pipes: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    children = [subprocess.Popen(command, text=True, **pipes) for _ in range(processes)]
    results = []
    for process in children:
        out, err = process.communicate(timeout=MAX_SECONDS)
        if process.returncode != 0:
            sys.stderr.write(err)
            raise RuntimeError(f"send child for {database} exited {process.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return {
        "handled": sum(r["handled"] for r in results),
        "seconds": max(r["seconds"] for r in results),
        "cpu": sum(r["cpu"] for r in results),
        "maxrss_kib": max(r["maxrss_kib"] for r in results),
        # Every child counts the same table; the last one to finish saw it all.
        "counts": results[-1]["counts"]
        if len(results) == 1
        else max((r["counts"] for r in results), key=lambda c: c.get("sent", 0)),
    }


def child(
    mode: str, database: str, instance: Path, port: int, size: int, args: Any
) -> dict:
    """Run this script in `mode` in a fresh process; return the JSON it prints."""
    command = child_command(
        mode, database, instance, port, size, args, args.concurrency
    )
    # subprocess.run kills the child on a timeout or Ctrl+C before re-raising.
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=MAX_SECONDS
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise RuntimeError(f"{mode} child for {database} exited {completed.returncode}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def postgres_version(url: str) -> str:
    """Return the PostgreSQL server's version."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "?"


# -- the run -------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    what: str
    database: str
    messages: int
    seconds: float
    cpu: float
    maxrss_kib: int | None = None
    start_seconds: float | None = None
    note: str = ""
    #: the recipients of the send (messages may be fewer when a run was stopped)
    audience: int = 0

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def machine(sink: str, postgres: str | None) -> Iterator[str]:
    """Describe the machine and the versions the figures came from."""
    yield machine_line()
    databases = f"SQLite {sqlite3.sqlite_version}"
    if postgres:
        databases += f", PostgreSQL {postgres} (same machine)"
    yield (
        f"Python {platform.python_version()}, SQLAlchemy {version('sqlalchemy')}, "
        f"psycopg {version('psycopg')}, {databases}; sink: {sink}"
    )


def print_table(rows: list[Row], notes: list[str]) -> None:
    """Print the results as one Markdown table, with the set-up below it."""
    raw = next((r for r in rows if r.what.startswith("raw")), None)
    naive_row = next((r for r in rows if r.what.startswith("naive")), None)
    print(
        "| what | database | messages | seconds | msgs/s | CPU ms/msg "
        "| peak RSS | of raw | × naive | start_send |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        rss = f"{r.maxrss_kib / 1024:.0f} MiB" if r.maxrss_kib else "—"
        of_raw = f"{100 * r.per_second / raw.per_second:.0f}%" if raw else "—"
        times = f"{r.per_second / naive_row.per_second:.1f}×" if naive_row else "—"
        start = f"{r.start_seconds:.1f} s" if r.start_seconds is not None else "—"
        cpu = 1000 * r.cpu / r.messages if r.messages else 0.0
        what = f"{r.what} ({r.note})" if r.note else r.what
        print(
            f"| {what} | {r.database} | {r.messages:,} | {r.seconds:.1f} "
            f"| {r.per_second:,.0f} | {cpu:.2f} | {rss} | {of_raw} | {times} "
            f"| {start} |"
        )
    print()
    for note in notes:
        print(note)


def run(args: argparse.Namespace) -> None:
    """Start the sink; measure the raw limit, the naive loop and the engine; report."""
    sizes = [int(s) for s in args.sizes.split(",") if s]
    databases = [d for d in args.databases.split(",") if d]
    process_counts = [int(n) for n in args.processes.split(",") if n]
    notes = [f"load average (1, 5, 15 min) at the start: {load_average()}"]
    rows: list[Row] = []
    port = free_port()
    sink, sink_name = start_sink(port)
    pg_version = None
    try:
        with tempfile.TemporaryDirectory(prefix="postbode-bench-send-") as folder:
            base = Path(folder)
            app, sample = sample_issue(base, port, args.concurrency)
            print(
                f"# {sink_name} on 127.0.0.1:{port}; message {sample.message_size:,} "
                f"bytes; concurrency {args.concurrency}",
                file=sys.stderr,
            )
            seconds, cpu = raw_limit(
                port, sample.message_size, args.raw_count, args.concurrency
            )
            rows.append(
                Row("raw limit: smtp-source", "—", args.raw_count, seconds, cpu)
            )
            seconds, cpu = naive(app, sample, port, args.naive_count)
            rows.append(
                Row(
                    "naive: EmailMessage + new connection",
                    "—",
                    args.naive_count,
                    seconds,
                    cpu,
                )
            )
            for database in databases:
                if database == "postgresql":
                    url = ensure_postgres_database(args.postgres)
                    pg_version = postgres_version(url)
                else:
                    url = None
                for size, processes in (
                    (size, processes) for size in sizes for processes in process_counts
                ):
                    if size == max(sizes) and database not in args.largest_on:
                        continue
                    instance = base / f"{database}-{size}-{processes}"
                    instance.mkdir()
                    target = url or f"sqlite:///{instance / 'postbode.sqlite3'}"
                    made = child("prepare", target, instance, port, size, args)
                    print(f"# {database} {size:,}: {made}", file=sys.stderr)
                    sent = senders(processes, target, instance, port, size, args)
                    print(
                        f"# {database} {size:,} × {processes}: {sent}", file=sys.stderr
                    )
                    delivered = sent["counts"].get("sent", 0)
                    note = ""
                    if delivered != size:
                        note = (
                            f"stopped after {args.send_seconds} s: "
                            * (sent["seconds"] >= args.send_seconds)
                            + f"{delivered:,} of {size:,} sent"
                        )
                    each = max(1, args.concurrency // processes)
                    rows.append(
                        Row(
                            f"engine: {processes} sender{'s' * (processes > 1)} × "
                            f"{each} connection{'s' * (each > 1)}",
                            "SQLite" if database == "sqlite" else "PostgreSQL",
                            sent["handled"],
                            sent["seconds"],
                            sent["cpu"],
                            sent["maxrss_kib"],
                            made["start_seconds"],
                            note,
                            size,
                        )
                    )
                    if database == "sqlite":
                        shutil.rmtree(instance)  # a 1M database is a few hundred MB
    finally:
        stop_process(sink, timeout=10)
    notes.append(f"load average (1, 5, 15 min) at the end: {load_average()}")
    notes.append(
        f"message: {sample.message_size:,} bytes ({ARTICLES} articles, personalised "
        f"links, no DKIM); concurrency {args.concurrency}; raw limit over "
        f"{args.raw_count:,} messages, naive over {args.naive_count:,} (one at a time)."
    )
    notes.extend(machine(sink_name, pg_version))
    notes.extend(targets(rows))
    print_table(rows, notes)


def targets(rows: list[Row]) -> Iterator[str]:
    """Say how the engine stands against issue 4's targets (reported, not asserted)."""
    raw = next(r for r in rows if r.what.startswith("raw"))
    naive_row = next(r for r in rows if r.what.startswith("naive"))
    for database in ("SQLite", "PostgreSQL"):
        engine = [r for r in rows if r.database == database]
        if not engine:
            continue
        best = max(r.per_second for r in engine)
        worst = min(r.per_second for r in engine)
        line = (
            f"targets, {database}: {100 * worst / raw.per_second:.0f}–"
            f"{100 * best / raw.per_second:.0f}% of the raw limit (≥ 60%), "
            f"{worst / naive_row.per_second:.1f}–{best / naive_row.per_second:.1f}× "
            "the naive loop (≥ 5×)"
        )
        smallest = min(engine, key=lambda r: r.audience)
        largest = max(engine, key=lambda r: r.audience)
        if largest is not smallest and smallest.maxrss_kib and largest.maxrss_kib:
            line += (
                f", peak RSS at {largest.audience:,} recipients = "
                f"{largest.maxrss_kib / smallest.maxrss_kib:.2f}× that at "
                f"{smallest.audience:,} (≤ 1.2×)"
            )
        yield line


def main() -> None:
    """Parse the arguments; run the bench or, with --child, one part of it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="SMTP connections in all"
    )
    parser.add_argument(
        "--processes",
        default="1,2",
        help="sender processes to share the connections (each count is a run)",
    )
    parser.add_argument("--raw-count", type=int, default=20_000)
    parser.add_argument("--naive-count", type=int, default=1_000)
    parser.add_argument(
        "--largest-on",
        default="sqlite,postgresql",
        help="the databases that also run the largest size (it may take long)",
    )
    parser.add_argument(
        "--send-seconds",
        type=int,
        default=1200,
        help="stop a sender run after this long and report what it sent",
    )
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432/postbode_bench_send"
    )
    # The parts run in fresh processes; these options are for them, not for people.
    parser.add_argument("--child", choices=["prepare", "send"], help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = prepare(args) if args.child == "prepare" else send(args)
        print(json.dumps(result))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if not sizes or max(sizes) > MAX_SIZE or min(sizes) < 1:
        parser.error(f"--sizes must be between 1 and {MAX_SIZE:,}")
    if set(args.databases.split(",")) - {"sqlite", "postgresql", ""}:
        parser.error("--databases takes sqlite and/or postgresql")
    if not 10 <= args.send_seconds <= MAX_SECONDS - 300:
        parser.error(f"--send-seconds must be between 10 and {MAX_SECONDS - 300}")
    if not 1 <= args.concurrency <= 64:
        parser.error("--concurrency must be between 1 and 64")
    counts = [n for n in args.processes.split(",") if n]
    if not counts or not all(
        n.isdigit() and 1 <= int(n) <= args.concurrency for n in counts
    ):
        parser.error("--processes takes counts from 1 to --concurrency, e.g. 1,2")
    if not (1 <= args.raw_count <= 200_000 and 1 <= args.naive_count <= 20_000):
        parser.error(
            "keep the baselines bounded: --raw-count <= 200000, --naive-count <= 20000"
        )
    if not Path(SMTP_SOURCE).exists():
        sys.exit(
            "smtp-source is missing: apt-get install postfix (see docs/benchmarks.md)"
        )
    run(args)


if __name__ == "__main__":
    main()
