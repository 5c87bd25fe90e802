"""The open pixel and click redirect under load, and the send engine beside them.

Usage: .venv/bin/python bench/tracking.py [--duration 10] [--connections 8]
       [--recipients 5000] [--databases sqlite,postgresql] [--pin-send]
       [--postgres postgresql://postgres@127.0.0.1:5432/postbode_bench_tracking]

Every target is served by gunicorn on a free port of 127.0.0.1 in bench/signup.py's
configuration (gthread workers, one per CPU, 4 threads each) and loaded by `wrk`
(Debian package `wrk`) from a second process with bench/tracking_get.lua, which GETs
real tracking URLs in turn with a mail client's user agent and never follows the
click's redirect:

* bare: a Flask app with the same two routes answering the same GIF and 302, with
  no token check and no recording (bench/tracking_wsgi.py);
* pixel and click on SQLite and on PostgreSQL: the real app on a freshly migrated
  database of its own (the PostgreSQL one is created when missing and its schema
  rebuilt; its name must contain "bench").

Real tokens first: in each database a child process adds an issue (bench/send.py's
eight-article issue), --recipients readers and starts a send through
service.delivery.operations.start_send, which stores the send's links (Link rows)
through service.tracking; the tokens are signed from those rows. The send goes out
(Sender.run, to an smtp-sink or aiosmtpd sink on loopback) before the endpoints are
loaded, so opens are not within the burst of a fresh delivery.

Events are checked, not assumed: before a measured run the flusher has written the
warm-up's events; after it, the TrackingCount sums are read once right after wrk
ends and once after gunicorn stopped (each worker writes its buffer at exit).

The send engine beside the endpoints: a second and third send of the same issue go
out while wrk loads the bare pixel and the real pixel, against the first send alone
(all to the same sink, each sender in a fresh process). With --pin-send every
sender and the sink keep to CPU 0 and, during those sends, the site's gunicorn and
wrk to CPU 1, so the site's load cannot take the sender's CPU and what is left to
see is what the recorded events cost it (the database file and its locks). It
prints one table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any

import common
from common import WrkReport

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

import send as send_bench  # noqa: E402 - bench/send.py: app, issue and audience

WARM_UP_SECONDS = 2
#: the flusher writes every 5 seconds (service.tracking.recorder.FLUSH_SECONDS);
#: wait this long after the warm-up so its events are in the database before counting
SETTLE_SECONDS = 6.5
#: the longest a sender may take while wrk loads an endpoint beside it
SEND_SECONDS = 300
SECRET_KEY = send_bench.SECRET_KEY
#: every process the bench started and has not stopped yet (stopped on any exit)
STARTED: list[subprocess.Popen] = []
#: with --pin-send: the CPUs of the sender (and the sink), and of the site and wrk
PINNED: dict[str, set[int]] = {}


# -- children: the database, the send, the sender --------------------------------


def child_prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Child: a fresh database, issue and audience, a send started; its tokens."""
    from sqlalchemy import select

    from service.extensions import db
    from service.tracking import links
    from service.tracking.models import Link
    from service.tracking.operations import keys

    app = send_bench.make_app(
        args.database, Path(args.instance), args.port, args.concurrency
    )
    with app.app_context():
        send_bench.rebuild_schema(args.database)
        mailing_list, issue, rendered = send_bench.make_issue()
        db.session.commit()
        send_bench.add_audience(args.size, mailing_list.id)
        send = start(issue, mailing_list, rendered)
        signing = keys(app.config)
        link_ids = db.session.scalars(
            select(Link.id).where(Link.send_id == send.id).order_by(Link.position)
        ).all()
        result = {
            "send_id": send.id,
            "total": send.total,
            "issue_id": issue.id,
            "list_id": mailing_list.id,
            "pixel": [f"/t/o/{links.open_token(signing, send.id)}.gif"],
            "click": [
                f"/t/c/{links.click_token(signing, send.id, link_id)}"
                for link_id in link_ids
            ],
        }
        db.session.remove()
        db.engine.dispose()
    return result


def start(issue: Any, mailing_list: Any, rendered: Any) -> Any:
    """Start a send of the rendered issue to the list and commit; return the send."""
    from datetime import UTC, datetime

    from service.delivery import operations
    from service.extensions import db

    send = operations.start_send(
        issue=issue,
        lists=[mailing_list],
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        now=datetime.now(UTC).replace(tzinfo=None),
    )
    db.session.commit()
    return send


def child_again(args: argparse.Namespace) -> dict[str, Any]:
    """Child: start one more send of the same issue to the same readers."""
    from sqlalchemy import select

    from service.editorial import operations as editorial
    from service.editorial.models import Issue
    from service.extensions import db
    from service.subscribers.models import MailingList

    app = send_bench.make_app(
        args.database, Path(args.instance), args.port, args.concurrency
    )
    with app.app_context():
        issue = db.session.scalars(select(Issue)).one()
        mailing_list = db.session.scalars(select(MailingList)).one()
        send = start(issue, mailing_list, editorial.render(issue))
        result = {"send_id": send.id, "total": send.total}
        db.session.remove()
        db.engine.dispose()
    return result


def child_send(args: argparse.Namespace) -> dict[str, Any]:
    """Child: run one sender until nothing is due; time it and count what went out."""
    import threading

    from sqlalchemy import func, select

    from service.delivery.engine import Sender
    from service.delivery.models import Delivery
    from service.extensions import db

    app = send_bench.make_app(
        args.database, Path(args.instance), args.port, args.concurrency
    )
    started = time.perf_counter()
    handled = Sender(app).run(threading.Event(), until_idle=True)
    seconds = time.perf_counter() - started
    with app.app_context():
        counts = dict(
            db.session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.send_id == args.send_id)
                .group_by(Delivery.status)
            ).all()
        )
        db.session.remove()
        db.engine.dispose()
    return {
        "handled": handled,
        "seconds": seconds,
        "counts": {str(k): v for k, v in counts.items()},
    }


def child(mode: str, database: str, instance: Path, port: int, **extra: Any) -> dict:
    """Run this script in `mode` in a fresh process; return the JSON it prints."""
    command = [
        sys.executable, __file__, "--child", mode,
        "--database", database, "--instance", str(instance), "--port", str(port),
    ]  # fmt: skip
    for name, value in extra.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    # subprocess.run kills the child on a timeout or Ctrl+C before re-raising.
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=SEND_SECONDS,
        preexec_fn=common.pinned_to(PINNED.get("sender") if mode == "send" else None),
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise RuntimeError(f"{mode} child for {database} exited {completed.returncode}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# -- counting what the recorder wrote --------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """The TrackingCount sums of one send and kind, and the raw events."""

    counted: int
    machines: int
    events: int


def recorded(url: str, send_id: int, kind: str) -> Recorded:
    """Return what the database holds for one send's opens or clicks."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        counted, machines = connection.execute(
            text(
                "SELECT coalesce(sum(count), 0), "
                "coalesce(sum(CASE WHEN is_machine THEN count ELSE 0 END), 0) "
                "FROM tracking_counts WHERE send_id = :send AND kind = :kind"
            ),
            {"send": send_id, "kind": kind},
        ).one()
        events = connection.execute(
            text(
                "SELECT count(*) FROM tracking_events "
                "WHERE send_id = :send AND kind = :kind"
            ),
            {"send": send_id, "kind": kind},
        ).scalar_one()
    engine.dispose()
    return Recorded(int(counted), int(machines), int(events))


# -- serving and loading ----------------------------------------------------------


def serve(
    kind: str,
    database_url: str | None,
    instance: Path,
    workers: int,
    *,
    pin: bool = False,
) -> tuple[subprocess.Popen, int]:
    """Start gunicorn for `kind` ("bare" or "postbode"); return it and its port."""
    env = {
        "POSTBODE_BENCH_APP": kind,
        "POSTBODE_BENCH_INSTANCE": str(instance),
        "SECRET_KEY": SECRET_KEY,
        "SECRET_KEY_FALLBACKS": "",
        "BASE_URL": send_bench.BASE_URL,
        "TRACKING_MODE": "anonymous",
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    cpus = PINNED.get("site") if pin else None
    process, port = common.start_gunicorn("tracking_wsgi:app", env, workers, cpus)
    STARTED.append(process)
    return process, port


def stop(process: subprocess.Popen) -> None:
    """Stop one process the bench started and forget it."""
    common.stop_process(process)
    if process in STARTED:
        STARTED.remove(process)


def start_wrk(
    port: int,
    paths: list[str],
    args: argparse.Namespace,
    duration: int,
    *,
    pin: bool = False,
) -> subprocess.Popen:
    """Start wrk against `paths` in turn, for `duration` seconds at most."""
    command = common.wrk_command(
        f"http://127.0.0.1:{port}",
        BENCH / "tracking_get.lua",
        threads=args.threads,
        connections=args.connections,
        duration=duration,
    )
    process = subprocess.Popen(
        command,
        env={**os.environ, "TRACKING_PATHS": " ".join(paths)},
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=common.pinned_to(PINNED.get("site") if pin else None),
    )
    STARTED.append(process)
    return process


def finish_wrk(process: subprocess.Popen, *, interrupt: bool = False) -> str:
    """Wait for wrk, or stop it early (it reports on SIGINT too); return the report."""
    if interrupt and process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        report, _ = process.communicate(timeout=SEND_SECONDS + 60)
    finally:
        stop(process)
    if process.returncode not in (0, -signal.SIGINT):
        raise RuntimeError(f"wrk exited with {process.returncode}")
    return report


def run_wrk(
    port: int, paths: list[str], args: argparse.Namespace, duration: int
) -> str:
    """Load `paths` for `duration` seconds; return wrk's report."""
    return finish_wrk(start_wrk(port, paths, args, duration))


# -- the rows ---------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the table: an endpoint under load, or one send."""

    what: str
    database: str
    count: int
    per_second: float
    baseline: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    #: events in TrackingCount after gunicorn stopped, and of those how many were
    #: still in the workers' buffers right after wrk ended
    recorded: int | None = None
    held: int | None = None
    unit: str = "req/s"


def endpoint_row(
    what: str,
    database: str,
    report: WrkReport,
    bare: WrkReport | None,
    before: Recorded | None = None,
    at_end: Recorded | None = None,
    after: Recorded | None = None,
) -> Row:
    """Make a row from wrk's report and the counts around the run."""
    recorded_, held = None, None
    if before and at_end and after:
        recorded_ = after.counted - before.counted
        held = after.counted - at_end.counted
    return Row(
        what,
        database,
        report.requests,
        report.per_second,
        bare.per_second if bare else None,
        report.p50_ms,
        report.p99_ms,
        report.errors,
        recorded_,
        held,
    )


def measure_endpoint(
    kind: str,
    paths: list[str],
    database_url: str,
    instance: Path,
    send_id: int,
    args: argparse.Namespace,
) -> tuple[WrkReport, Recorded, Recorded, Recorded]:
    """Serve the real app, warm up, load `paths`, and count around the run."""
    server, port = serve("postbode", database_url, instance, args.workers)
    event = "open" if kind == "pixel" else "click"
    try:
        run_wrk(port, paths, args, WARM_UP_SECONDS)
        time.sleep(SETTLE_SECONDS)
        before = recorded(database_url, send_id, event)
        report = run_wrk(port, paths, args, args.duration)
        at_end = recorded(database_url, send_id, event)
    finally:
        stop(server)
    after = recorded(database_url, send_id, event)
    if args.verbose:
        print(report, file=sys.stderr)
    return common.parse_wrk(report), before, at_end, after


def send_beside(
    kind: str,
    paths: list[str],
    database: str,
    instance: Path,
    sink_port: int,
    args: argparse.Namespace,
) -> tuple[dict[str, Any], dict[str, Any], WrkReport]:
    """Start another send; send it while wrk loads the pixel of `kind`'s app."""
    made = child("again", database, instance, sink_port, concurrency=args.concurrency)
    url = database if kind == "postbode" else None
    server, port = serve(kind, url, instance, args.workers, pin=True)
    wrk = None
    try:
        wrk = start_wrk(port, paths, args, SEND_SECONDS, pin=True)
        time.sleep(1)  # let the load reach its pace first
        sent = child(
            "send",
            database,
            instance,
            sink_port,
            concurrency=args.concurrency,
            send_id=made["send_id"],
        )
        report = finish_wrk(wrk, interrupt=True)
    finally:
        if wrk:
            stop(wrk)
        stop(server)
    return made, sent, common.parse_wrk(report)


def measure_database(
    name: str,
    url: str,
    instance: Path,
    sink_port: int,
    bare: dict[str, WrkReport],
    args: argparse.Namespace,
) -> Iterator[Row]:
    """Prepare one database; load both endpoints; send alone and beside the load."""
    made = child(
        "prepare",
        url,
        instance,
        sink_port,
        size=args.recipients,
        concurrency=args.concurrency,
    )
    print(
        f"# {name}: send {made['send_id']} to {made['total']:,} readers, "
        f"{len(made['click'])} links",
        file=sys.stderr,
    )
    send_id = made["send_id"]
    sent = child(
        "send", url, instance, sink_port, concurrency=args.concurrency, send_id=send_id
    )
    alone = sent["counts"].get("sent", 0) / sent["seconds"]
    time.sleep(2.5)  # past the burst rule's 2 s after the first delivery
    for kind in ("pixel", "click"):
        report, before, at_end, after = measure_endpoint(
            kind, made[kind], url, instance, send_id, args
        )
        row = endpoint_row(f"{kind}", name, report, bare[kind], before, at_end, after)
        print(f"# {name} {kind}: {row} machines {after.machines}", file=sys.stderr)
        yield row
    yield send_row("send engine alone", name, sent, alone)
    for kind, label in (("bare", "bare pixel"), ("postbode", "real pixel")):
        before = recorded(url, send_id, "open")
        _made, sent, report = send_beside(
            kind, made["pixel"], url, instance, sink_port, args
        )
        time.sleep(SETTLE_SECONDS)
        after = recorded(url, send_id, "open")
        row = send_row(
            f"send engine, wrk on the {label} ({report.per_second:,.0f} req/s, "
            f"{report.requests:,} requests)",
            name,
            sent,
            alone,
        )
        if kind == "postbode":
            row = replace(row, recorded=after.counted - before.counted)
        yield row


def send_row(what: str, database: str, sent: dict[str, Any], alone: float) -> Row:
    """Make a row from a sender child's result; the baseline is the send alone."""
    delivered = sent["counts"].get("sent", 0)
    failed = sum(v for k, v in sent["counts"].items() if k != "sent")
    return Row(
        what,
        database,
        delivered,
        delivered / sent["seconds"] if sent["seconds"] else 0.0,
        alone,
        errors=failed,
        unit="msgs/s",
    )


# -- the run ----------------------------------------------------------------------


def measure_bare(instance: Path, args: argparse.Namespace) -> dict[str, WrkReport]:
    """Load the bare app's pixel and click routes; return wrk's figures for each."""
    paths = {
        "pixel": ["/t/o/WzFd.bare-token.gif"],
        "click": [f"/t/c/WzEsMl0.bare-{n}" for n in range(9)],
    }
    server, port = serve("bare", None, instance, args.workers)
    reports = {}
    try:
        for kind in ("pixel", "click"):
            run_wrk(port, paths[kind], args, WARM_UP_SECONDS)
            reports[kind] = common.parse_wrk(
                run_wrk(port, paths[kind], args, args.duration)
            )
    finally:
        stop(server)
    return reports


def run(args: argparse.Namespace) -> None:
    """Measure the bare routes, then each database; print the table."""
    notes = [f"load average (1, 5, 15 min) at the start: {common.load_average()}"]
    rows: list[Row] = []
    sink_port = common.free_port()
    sink, sink_name = common.start_sink(sink_port)
    STARTED.append(sink)
    if args.pin_send:
        PINNED.update(sender={0}, site={1})
        os.sched_setaffinity(sink.pid, PINNED["sender"])
        notes.append(
            "--pin-send: every sender and the sink on CPU 0, the site's gunicorn and "
            "wrk on CPU 1 while the engine sends (PostgreSQL unpinned)"
        )
    pg_version = None
    with tempfile.TemporaryDirectory(prefix="postbode-bench-tracking-") as folder:
        base = Path(folder)
        (base / "bare").mkdir()
        bare = measure_bare(base / "bare", args)
        for kind in ("pixel", "click"):
            rows.append(endpoint_row(kind, "bare Flask", bare[kind], bare[kind]))
        for database in args.databases.split(","):
            instance = base / database
            instance.mkdir()
            if database == "postgresql":
                url = common.ensure_postgres_database(args.postgres)
                pg_version = send_bench.postgres_version(url)
                name = "PostgreSQL"
            else:
                url = f"sqlite:///{instance / 'postbode.sqlite3'}"
                name = "SQLite"
            rows.extend(measure_database(name, url, instance, sink_port, bare, args))
    stop(sink)
    notes.append(f"load average (1, 5, 15 min) at the end: {common.load_average()}")
    notes.append(
        f"gunicorn: {args.workers} gthread workers x {common.THREADS_PER_WORKER} "
        f"threads; wrk: {args.threads} threads, "
        f"{args.connections} connections, {args.duration} s after a "
        f"{WARM_UP_SECONDS} s warm-up; sends of {args.recipients:,} messages, "
        f"SEND_CONCURRENCY {args.concurrency}, to {sink_name}; all on 127.0.0.1."
    )
    notes.extend(machine(pg_version))
    print_table(rows, notes)


def machine(postgres: str | None) -> Iterator[str]:
    """Describe the machine and the versions the figures came from."""
    import sqlite3

    yield common.machine_line()
    databases = f"SQLite {sqlite3.sqlite_version}"
    if postgres:
        databases += f", PostgreSQL {postgres} (same machine)"
    yield (
        f"Python {platform.python_version()}, Flask {version('flask')}, "
        f"gunicorn {version('gunicorn')}, SQLAlchemy {version('sqlalchemy')}, "
        f"psycopg {version('psycopg')}, {databases}, wrk {common.wrk_version()}"
    )


def print_table(rows: list[Row], notes: list[str]) -> None:
    """Print the results as one Markdown table, with the set-up below it."""
    print(
        "| what | database | requests or messages | per second | of baseline "
        "| p50 | p99 | errors | events recorded | held at wrk's end |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        share = f"{100 * r.per_second / r.baseline:.0f}%" if r.baseline else "—"
        p50 = f"{r.p50_ms:.1f} ms" if r.p50_ms is not None else "—"
        p99 = f"{r.p99_ms:.1f} ms" if r.p99_ms is not None else "—"
        stored = "—" if r.recorded is None else f"{r.recorded:,}"
        held = "—" if r.held is None else f"{r.held:,}"
        print(
            f"| {r.what} | {r.database} | {r.count:,} | {r.per_second:,.0f} {r.unit} "
            f"| {share} | {p50} | {p99} | {r.errors} | {stored} | {held} |"
        )
    print()
    for note in notes:
        print(note)


def _interrupted(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    """Parse the arguments; run the bench or, with --child, one part of it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per target")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--recipients", type=int, default=5000, help="per send")
    parser.add_argument("--concurrency", type=int, default=4, help="SEND_CONCURRENCY")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postbode_bench_tracking",
    )
    parser.add_argument("--verbose", action="store_true", help="print wrk's reports")
    parser.add_argument(
        "--pin-send",
        action="store_true",
        help="for the send rows: the sender and sink on CPU 0, the site and wrk on 1",
    )
    # The parts run in fresh processes; these options are for them, not for people.
    parser.add_argument(
        "--child", choices=["prepare", "again", "send"], help=argparse.SUPPRESS
    )
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--send-id", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        work = {"prepare": child_prepare, "again": child_again, "send": child_send}
        print(json.dumps(work[args.child](args)))
        return
    if not 1 <= args.duration <= 120 or not 1 <= args.connections <= 256:
        parser.error("keep the run bounded: --duration 1–120, --connections 1–256")
    if not 1 <= args.recipients <= 100_000:
        parser.error("--recipients must be between 1 and 100000")
    if set(args.databases.split(",")) - {"sqlite", "postgresql"}:
        parser.error("--databases takes sqlite and/or postgresql")
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        run(args)
    finally:
        # Ctrl+C, a failed child, anything: stop what this run started.
        for process in reversed(STARTED):
            common.stop_process(process)


if __name__ == "__main__":
    main()
