"""What the bench scripts share: ports, processes, gunicorn, wrk, sinks, the machine.

Imported as `common` by the scripts beside it (run as `python bench/NAME.py`, so
bench/ is on sys.path). Nothing here imports the application.
"""

from __future__ import annotations

import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

BENCH = Path(__file__).resolve().parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
#: gthread workers (one per CPU by default) with this many threads each
THREADS_PER_WORKER = 4
SMTP_SINK = "/usr/sbin/smtp-sink"


# -- ports and processes ---------------------------------------------------------


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float = 30) -> None:
    """Stop a process the bench started (SIGTERM, then SIGKILL) and reap it."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages, as uptime shows them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


# -- PostgreSQL ------------------------------------------------------------------


def ensure_postgres_database(url: str) -> str:
    """Create the bench database when missing; return its SQLAlchemy URL."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    if "bench" not in name:
        sys.exit(f"refusing to rebuild {name!r}: the bench database's name has 'bench'")
    maintenance = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(maintenance, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    return "postgresql+psycopg://" + url.split("://", 1)[1]


# -- gunicorn and wrk ------------------------------------------------------------


def pinned_to(cpus: set[int] | None) -> Callable[[], None] | None:
    """Return a preexec_fn that keeps a child (and what it forks) on `cpus`."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def start_gunicorn(
    module: str, env: dict[str, str], workers: int, cpus: set[int] | None = None
) -> tuple[subprocess.Popen, int]:
    """Serve `module` (e.g. "signup_wsgi:app") from bench/ on a free port; wait for it.

    gthread workers with THREADS_PER_WORKER threads; ready once /healthz answers.
    The environment's POSTBODE_BENCH_APP names the target in error messages.
    """
    kind = env.get("POSTBODE_BENCH_APP", module)
    port = free_port()
    command = [
        GUNICORN,
        "--chdir", str(BENCH),
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--worker-class", "gthread",
        "--threads", str(THREADS_PER_WORKER),
        "--log-level", "warning",
        module,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, env={**os.environ, **env}, preexec_fn=pinned_to(cpus)
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process, port
        except OSError:
            if process.poll() is not None:
                sys.exit(f"gunicorn for {kind} exited with {process.returncode}")
            time.sleep(0.2)
    stop_process(process)
    sys.exit(f"gunicorn for {kind} did not answer within 30 seconds")


def wrk_command(
    url: str, script: Path, *, threads: int, connections: int, duration: int
) -> list[str]:
    """Return the wrk command line that loads `url` with a Lua `script`."""
    return [
        "wrk",
        "--threads", str(threads),
        "--connections", str(connections),
        "--duration", f"{duration}s",
        "--timeout", "10s",
        "--latency",
        "--script", str(script),
        url,
    ]  # fmt: skip


@dataclass(frozen=True)
class WrkReport:
    """What wrk measured: requests, their rate, median and 99th percentile, errors."""

    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def milliseconds(value: str) -> float:
    """Turn wrk's '1.23ms', '850.00us' or '1.02s' into milliseconds; '-nan' is NaN.

    wrk prints '-nan' when no request finished within the run.
    """
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if found is None:
        return float("nan")
    number, unit = found.groups()
    factor = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
    return float(number) * factor


def parse_wrk(report: str) -> WrkReport:
    """Read requests, rate, median and 99th percentile and errors from wrk's report.

    Errors are responses with a status of 400 or more and socket errors.
    """
    requests = int(re.search(r"(\d+) requests in", report).group(1))  # type: ignore[union-attr]
    per_second = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))  # type: ignore[union-attr]
    # Anchored: a Stdev share such as "82.50%" also ends in "50%".
    p50 = milliseconds(re.search(r"^\s+50%\s+(\S+)", report, re.M).group(1))  # type: ignore[union-attr]
    p99 = milliseconds(re.search(r"^\s+99%\s+(\S+)", report, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    found = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    if found:
        errors += int(found.group(1))
    found = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report
    )
    if found:
        errors += sum(int(n) for n in found.groups())
    return WrkReport(requests, per_second, p50, p99, errors)


def wrk_version() -> str:
    """Return wrk's version, e.g. "4.1.0"."""
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return (wrk.stdout or wrk.stderr).split()[1]


# -- an SMTP sink ----------------------------------------------------------------


def start_sink(port: int) -> tuple[subprocess.Popen, str]:
    """Start smtp-sink (or an aiosmtpd sink) on `port`; return it and its name."""
    if Path(SMTP_SINK).exists():
        command = [SMTP_SINK]
        if os.geteuid() == 0:
            # smtp-sink refuses to run as root; it drops to this user after binding.
            command += ["-u", "postfix" if _has_user("postfix") else "nobody"]
        command += [f"127.0.0.1:{port}", "256"]
        name = "Postfix smtp-sink " + _postfix_version()
    else:
        command = [
            sys.executable, "-m", "aiosmtpd", "-n",
            "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink",
        ]  # fmt: skip
        name = f"aiosmtpd {version('aiosmtpd')} Sink (separate process)"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, name
        except OSError:
            if process.poll() is not None:
                sys.exit(f"the sink exited with {process.returncode}")
            time.sleep(0.1)
    stop_process(process)
    sys.exit("the sink did not listen within 15 seconds")


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _postfix_version() -> str:
    found = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "postfix"],
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() if found.returncode == 0 else ""


# -- the machine -----------------------------------------------------------------


def machine_line() -> str:
    """Return "machine: N CPUs (model), RAM, system" for a table's notes."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        memory = f"{int(meminfo.read_text().split()[1]) / 1024 / 1024:.1f} GiB"
    return (
        f"machine: {os.cpu_count()} CPUs ({model}), {memory} RAM, "
        f"{platform.system()} {platform.release()}"
    )
