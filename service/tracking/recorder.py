"""The per-process buffer of opens and clicks and the thread that writes it out.

The pixel and click endpoints only append to a list under a lock: a burst of tens of
thousands of opens after a send costs them no database write. A background thread
(started on the first event, never at import) writes the buffer every FLUSH_SECONDS,
or sooner once FLUSH_EVENTS are waiting, and once more when the process exits. Each
write is one upsert of hourly counts and one executemany of raw events.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from service.delivery.models import Delivery, Send
from service.extensions import db
from service.subscribers.models import Subscriber
from service.tracking.machines import is_burst
from service.tracking.models import Link, TrackingCount, TrackingEvent

log = logging.getLogger(__name__)

#: Fewer, larger writes: on SQLite each write holds the one write lock, which the
#: senders' claims and records then wait for. At 3,000 opens a second beside a send,
#: writing every second (or at 500) slowed the send by a fifth; every 5 seconds (or
#: at 20,000) left it as fast as beside a load that writes nothing
#: (docs/benchmarks.md). The counts on the statistics page lag by as much.
FLUSH_SECONDS = 5.0
FLUSH_EVENTS = 20_000
#: beyond this many waiting events (database down) new ones are dropped, not kept
#: until the process runs out of memory
BUFFER_LIMIT = 200_000
#: TrackingEvent.user_agent is String(300)
AGENT_LIMIT = 300
#: TrackingEvent.referrer is String(200)
REFERRER_LIMIT = 200
#: a host name or IPv4 address as browsers send it (IDN hosts come as punycode)
_HOST = re.compile(r"[a-z0-9._-]+")
#: what an IPv6 address can hold between its brackets
_IPV6 = re.compile(r"[0-9a-f:.]+")
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: the extension key under which each app keeps its recorder
EXTENSION = "postbode.tracking"


@dataclass(frozen=True)
class Event:
    """One open or click as the endpoint saw it, before it is written."""

    kind: str  #: "open" or "click"
    send_id: int
    link_id: int | None
    #: from a consenting reader's signed piece (personal mode), else None
    delivery_id: int | None
    user_agent: str
    #: a click's referrer origin (see referrer_origin); "" for opens
    referrer: str
    #: HEAD or a scanner's user agent: a machine whatever the timing
    is_machine: bool
    at: datetime
    retried: bool = False


def clean_agent(raw: str | None) -> str:
    """Return a user agent on one line, without control characters, shortened."""
    text = "".join(c if c.isprintable() else " " for c in (raw or "")[:2000])
    return " ".join(text.split())[:AGENT_LIMIT]


def referrer_origin(raw: str | None) -> str:
    """Return a referrer's origin (scheme://host[:port], lower case), else "".

    Only the origin is kept: the path and query of a webmail page can carry a
    mailbox or message id. Anything that is not an http(s) URL with a plain host
    (javascript:, data:, garbage, user:password@) gives "".
    """
    text = (raw or "")[:2000].strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return ""
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme not in _DEFAULT_PORTS or parts.username or parts.password:
        return ""
    if ":" in host:
        if not _IPV6.fullmatch(host):
            return ""
        host = f"[{host}]"
    elif not _HOST.fullmatch(host):
        return ""
    origin = f"{scheme}://{host}"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        origin += f":{port}"
    return origin[:REFERRER_LIMIT]


class Recorder:
    """A thread-safe buffer of events and its flusher thread, per app and process."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._lock = threading.Lock()
        #: one write at a time: the flush at exit waits for the flusher thread's
        #: write in progress, which the exiting interpreter would otherwise cut off
        self._writing = threading.Lock()
        self._events: list[Event] = []
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._dropped = 0
        #: when each send's first message was accepted (the anonymous burst rule);
        #: it never changes once known
        self._first_sent: dict[int, datetime] = {}

    def add(self, event: Event) -> None:
        """Queue one event; the flusher writes it within FLUSH_SECONDS."""
        with self._lock:
            if len(self._events) >= BUFFER_LIMIT:
                self._dropped += 1
                return
            self._events.append(event)
            waiting = len(self._events)
        self._ensure_thread()
        if waiting >= FLUSH_EVENTS:
            self._wake.set()

    def _ensure_thread(self) -> None:
        # After a fork (gunicorn --preload) the thread is gone: start one per process.
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is not None and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, name="tracking-flush", daemon=True
            )
            self._thread.start()
            atexit.register(self._flush_at_exit)

    def _flush_at_exit(self) -> None:
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - exiting anyway; say what was lost
            log.exception("writing tracking events at exit failed")

    def stop(self) -> None:
        """Write what is waiting and end the flusher thread (tests, app shutdown)."""
        self._stopped.set()
        self._wake.set()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the flusher must live on; log it
                log.exception("writing tracking events failed")

    def flush(self) -> int:
        """Write every waiting event now; return how many were written."""
        with self._writing:
            return self._flush()

    def _flush(self) -> int:
        """Take the waiting events and write them; callers hold `_writing`."""
        with self._lock:
            events, self._events = self._events, []
            dropped, self._dropped = self._dropped, 0
        if dropped:
            log.warning("tracking buffer full: %s events dropped", dropped)
        if not events:
            return 0
        with self.app.app_context():
            try:
                written = self._write(events)
                db.session.commit()
            except Exception:
                db.session.rollback()
                # Try once more with the next flush (a database restart); then drop.
                again = [replace(e, retried=True) for e in events if not e.retried]
                with self._lock:
                    self._events[:0] = again[: BUFFER_LIMIT - len(self._events)]
                raise
            finally:
                db.session.remove()
        return written

    # -- writing --------------------------------------------------------------

    def _write(self, events: list[Event]) -> int:
        events = self._known(events)
        if not events:
            return 0
        readers = self._readers(events)
        first_sent = self._first_sent_of({e.send_id for e in events})
        rows = []
        counts: Counter[tuple[int, int, str, bool, datetime]] = Counter()
        for event in events:
            subscriber_id, sent_at = None, first_sent.get(event.send_id)
            reader = readers.get(event.delivery_id) if event.delivery_id else None
            if reader is not None and reader[0] == event.send_id:
                subscriber_id, sent_at = reader[1], reader[2]
            is_machine = event.is_machine or is_burst(event.at, sent_at)
            hour = event.at.replace(minute=0, second=0, microsecond=0)
            counts[
                (event.send_id, event.link_id or 0, event.kind, is_machine, hour)
            ] += 1
            rows.append(
                {
                    "send_id": event.send_id,
                    "link_id": event.link_id,
                    "kind": event.kind,
                    "subscriber_id": subscriber_id,
                    "is_machine": is_machine,
                    "user_agent": event.user_agent,
                    "referrer": event.referrer,
                    "created_at": event.at,
                }
            )
        self._add_counts(counts)
        db.session.execute(TrackingEvent.__table__.insert(), rows)
        return len(rows)

    def _known(self, events: list[Event]) -> list[Event]:
        """Keep events of sends and links that still exist (a signed token may outlive
        its send); otherwise one stale token would fail the whole write."""
        sends = set(
            db.session.scalars(
                select(Send.id).where(Send.id.in_({e.send_id for e in events}))
            )
        )
        link_ids = {e.link_id for e in events if e.link_id is not None}
        links = set()
        if link_ids:
            links = {
                (row.id, row.send_id)
                for row in db.session.execute(
                    select(Link.id, Link.send_id).where(Link.id.in_(link_ids))
                )
            }
        return [
            e
            for e in events
            if e.send_id in sends
            and (e.link_id is None or (e.link_id, e.send_id) in links)
        ]

    def _readers(
        self, events: list[Event]
    ) -> dict[int, tuple[int, int | None, datetime | None]]:
        """Return delivery id -> (send, consenting reader or None, sent_at).

        The reader is named only in personal mode and only while they still agree:
        a piece in an old mail does not outlive a withdrawn consent or a mode change.
        """
        ids = {e.delivery_id for e in events if e.delivery_id is not None}
        if not ids:
            return {}
        personal = current_app.config["TRACKING_MODE"] == "personal"
        rows = db.session.execute(
            select(
                Delivery.id,
                Delivery.send_id,
                Delivery.subscriber_id,
                Subscriber.tracking_consent,
                Delivery.sent_at,
            )
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.id.in_(ids))
        )
        return {
            row.id: (
                row.send_id,
                row.subscriber_id if personal and row.tracking_consent else None,
                row.sent_at,
            )
            for row in rows
        }

    def _first_sent_of(self, send_ids: set[int]) -> dict[int, datetime]:
        missing = send_ids - self._first_sent.keys()
        if missing:
            rows = db.session.execute(
                select(Delivery.send_id, func.min(Delivery.sent_at))
                .where(Delivery.send_id.in_(missing), Delivery.sent_at.is_not(None))
                .group_by(Delivery.send_id)
            )
            for send_id, first in rows:
                self._first_sent[send_id] = first
        return {s: self._first_sent[s] for s in send_ids if s in self._first_sent}

    def _add_counts(
        self, counts: Counter[tuple[int, int, str, bool, datetime]]
    ) -> None:
        insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
        statement = insert(TrackingCount).values(
            [
                {
                    "send_id": send_id,
                    "link_id": link_id,
                    "kind": kind,
                    "is_machine": is_machine,
                    "hour": hour,
                    "count": count,
                }
                for (send_id, link_id, kind, is_machine, hour), count in counts.items()
            ]
        )
        # One statement for the whole buffer; keys are unique within it (Counter),
        # as PostgreSQL requires of ON CONFLICT DO UPDATE.
        db.session.execute(
            statement.on_conflict_do_update(
                index_elements=["send_id", "link_id", "kind", "is_machine", "hour"],
                set_={"count": TrackingCount.count + statement.excluded.count},
            )
        )


_create_lock = threading.Lock()


def recorder_for(app: Flask) -> Recorder:
    """Return the app's recorder, made on first use (nothing runs at import)."""
    recorder = app.extensions.get(EXTENSION)
    if recorder is None:
        with _create_lock:
            recorder = app.extensions.get(EXTENSION)
            if recorder is None:
                recorder = app.extensions[EXTENSION] = Recorder(app)
    return recorder
