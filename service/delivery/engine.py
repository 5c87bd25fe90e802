"""The sender: claim a batch of deliveries, personalise, send over reused
connections within the shared rate, and record the outcomes in small groups.

Any number of senders may run (threads in `flask serve`, `flask worker` processes on
several machines). A claim is one UPDATE … RETURNING of due rows: on PostgreSQL the
candidate rows are picked with FOR UPDATE SKIP LOCKED, on SQLite the single writer
makes the UPDATE atomic. Each claimed row carries a lease; a sender that dies lets
its leases run out and another takes the rows again. Results are written every
RESULT_GROUP messages, so after a crash at most RESULT_GROUP + concurrency messages
were accepted by the server without being recorded: those are the only ones that
can arrive twice.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from flask import Flask, current_app
from sqlalchemy import (
    and_,
    bindparam,
    case,
    false,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from service.db import utcnow
from service.delivery import bounces, verp
from service.delivery.models import (
    PAUSED_BY_FAILURES,
    Delivery,
    DeliveryStatus,
    RateLimit,
    Send,
    SendStatus,
)
from service.delivery.outcomes import Outcome, classify, gives_up, next_attempt
from service.delivery.reports import notify_paused
from service.extensions import db
from service.mail.dkim import Signer
from service.mail.frozen import FrozenMessage
from service.mail.message import ascii_address
from service.mail.sessions import Phase, Reply, Session, open_session
from service.rendering import (
    SLOT_PREFERENCES_URL,
    SLOT_READER,
    SLOT_UNSUBSCRIBE_URL,
    SLOTS,
)
from service.subscribers.models import Membership, MembershipStatus, Subscriber
from service.subscribers.notices import preferences_url_for, unsubscribe_url_for
from service.tracking.operations import reader_slot_value

log = logging.getLogger(__name__)

#: a claimed row is someone else's to take after this long without a result
LEASE = timedelta(minutes=5)
#: results are written after this many messages (see the module docstring)
RESULT_GROUP = 20
#: the name of the one shared pace in rate_limits
RATE_NAME = "smtp"

_DELIVERIES = Delivery.__table__
#: one outcome per row, sent as one executemany per group of rows with the same
#: columns; the SET clause follows the keys of the rows (see Sender.record)
_RECORD = update(_DELIVERIES).where(
    _DELIVERIES.c.id == bindparam("delivery_id"),
    _DELIVERIES.c.lease_owner == bindparam("owner"),
)


_SENDS = Send.__table__
#: a send's run of failures, after a group with a success in it or without one;
#: built once (each group of outcomes runs one of them per send)
_STREAK_RESTART = (
    update(_SENDS)
    .where(_SENDS.c.id == bindparam("send_id"))
    .values(failure_streak=bindparam("failures"))
    .returning(_SENDS.c.failure_streak)
)
_STREAK_GROWS = (
    update(_SENDS)
    .where(_SENDS.c.id == bindparam("send_id"))
    .values(failure_streak=_SENDS.c.failure_streak + bindparam("failures"))
    .returning(_SENDS.c.failure_streak)
)


@dataclass(frozen=True)
class Claimed:
    """One delivery a sender holds, with what it needs to send it."""

    id: int
    send_id: int
    subscriber_id: int
    attempts: int
    reclaims: int
    is_uncertain: bool
    retrying_since: datetime | None


@dataclass(frozen=True)
class Job:
    """One message ready to go."""

    delivery: Claimed
    envelope_from: str
    recipient: str
    message: bytes
    message_id: str
    not_before: float


@dataclass(frozen=True)
class Result:
    """How one message went."""

    job: Job
    reply: Reply


#: how often (seconds) a process given to sending makes its running thread hand the
#: interpreter lock over; Python's default is 5 ms
SWITCH_INTERVAL = 0.001


def dedicate_process() -> None:
    """Tune this process for a sender that has it to itself (`flask send worker`).

    Each SMTP reply wakes a connection's thread, which then waits for the thread
    that prepares and records to let go of the interpreter lock: by default up to
    5 ms, per reply. A shorter interval lets the connections go on sooner; with two
    sender processes on two CPUs it gave about 15% more messages a second
    (docs/benchmarks.md). Not for the web server's processes.
    """
    sys.setswitchinterval(SWITCH_INTERVAL)


def sender_name() -> str:
    """Return a name for this sender that is unique across machines and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _due(send: Any) -> list[Any]:
    """Return the three ranges of a send's due rows, each in id order (bound later).

    The (send_id, status) index holds each range in id order, so each part reads at
    most :limit rows; one query over every send and status made SQLite read and sort
    every queued row for each batch instead (580 ms per batch at a million
    recipients, see docs/benchmarks.md). No time condition on queued rows: with one,
    SQLite prefers the (status, next_attempt_at) index and sorts them all by id.
    """
    d = _DELIVERIES.c
    return [
        select(d.id)
        .where(d.send_id == send, d.status == status, moment)
        .order_by(d.id)
        .limit(bindparam("limit"))
        .subquery()
        .select()
        for status, moment in (
            (DeliveryStatus.QUEUED, true()),
            (DeliveryStatus.DEFERRED, d.next_attempt_at <= bindparam("now")),
            (DeliveryStatus.SENDING, d.lease_expires_at < bindparam("now")),
        )
    ]


@lru_cache(maxsize=16)
def _claim_statement(dialect: str, sends: int) -> Any:
    """Return the claiming UPDATE … RETURNING, built once per dialect and send count.

    Built once, SQLAlchemy compiles it once: building it per batch cost more than
    SQLite took to run it. On PostgreSQL the due rows are picked with FOR UPDATE
    SKIP LOCKED. On SQLite, with one writer at a time, they are picked in a subquery
    of the UPDATE itself, not a SELECT before it: as one statement it runs under the
    write lock, so two senders never pick the same rows and come away with nothing.
    """
    d, sends_table = _DELIVERIES, _SENDS
    running = select(sends_table.c.id).where(sends_table.c.status == SendStatus.SENDING)
    now = bindparam("now")
    if dialect == "postgresql":
        # A queued row is always due: it is queued when a send starts or to go
        # again at once; only deferred rows wait for their moment.
        due = (
            select(d.c.id)
            .where(
                d.c.send_id.in_(running),
                or_(
                    d.c.status == DeliveryStatus.QUEUED,
                    and_(
                        d.c.status == DeliveryStatus.DEFERRED,
                        d.c.next_attempt_at <= now,
                    ),
                    and_(
                        d.c.status == DeliveryStatus.SENDING,
                        d.c.lease_expires_at < now,
                    ),
                ),
            )
            .order_by(d.c.id)
            .limit(bindparam("limit"))
            .with_for_update(skip_locked=True)
        )
        chosen = d.c.id.in_(due.scalar_subquery())
    else:
        parts = [
            part
            for number in range(sends)
            for part in _due(bindparam(f"send_{number}"))
        ]
        lowest = union_all(*parts).subquery() if parts else None
        picked = (
            select(lowest.c.id).order_by(lowest.c.id).limit(bindparam("limit"))
            if lowest is not None
            else select(d.c.id).where(false())
        )
        chosen = and_(d.c.id.in_(picked.scalar_subquery()), d.c.send_id.in_(running))
    return (
        update(d)
        .where(chosen)
        .values(
            # A row still "sending" here was abandoned by a sender that died.
            reclaims=case(
                (d.c.status == DeliveryStatus.SENDING, d.c.reclaims + 1),
                else_=d.c.reclaims,
            ),
            status=DeliveryStatus.SENDING,
            lease_owner=bindparam("owner"),
            lease_expires_at=bindparam("lease"),
            updated_at=now,
        )
        .returning(
            d.c.id,
            d.c.send_id,
            d.c.subscriber_id,
            d.c.attempts,
            d.c.reclaims,
            d.c.is_uncertain,
            d.c.retrying_since,
        )
    )


def claim(owner: str, limit: int, now: datetime) -> list[Claimed]:
    """Take up to `limit` due deliveries of running sends under a lease."""
    dialect = db.engine.dialect.name
    params: dict[str, object] = {
        "now": now,
        "lease": now + LEASE,
        "owner": owner,
        "limit": limit,
    }
    sends = 0
    if dialect != "postgresql":
        running = db.session.scalars(
            select(Send.id).where(Send.status == SendStatus.SENDING)
        ).all()
        sends = len(running)
        params.update({f"send_{n}": send_id for n, send_id in enumerate(running)})
    rows = db.session.execute(_claim_statement(dialect, sends), params).all()
    db.session.commit()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


def reserve(count: int, rate: float) -> float:
    """Reserve `count` sending slots at `rate` per second; return the first slot.

    One UPDATE moves the shared next-free moment forward, so all senders together
    stay within the rate, also across restarts.
    """
    now = time.time()
    dialect = db.engine.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(
        insert(RateLimit)
        .values(name=RATE_NAME, available_at=0.0)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    cost = count / rate
    end = db.session.execute(
        update(RateLimit)
        .where(RateLimit.name == RATE_NAME)
        .values(
            available_at=case(
                (RateLimit.available_at > now, RateLimit.available_at),
                else_=now,
            )
            + cost
        )
        .returning(RateLimit.available_at)
    ).scalar_one()
    db.session.commit()
    return end - cost


@dataclass
class Sender:
    """A sender: claims batches and sends them until told to stop."""

    app: Flask
    owner: str = field(default_factory=sender_name)
    concurrency: int = 0
    batch_size: int = 0
    _frozen: dict[int, FrozenMessage] = field(default_factory=dict)
    _sessions: list[Session] = field(default_factory=list)
    _local: threading.local = field(default_factory=threading.local)
    _workers: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        config = self.app.config
        self.concurrency = self.concurrency or config["SEND_CONCURRENCY"]
        self.rate = config["SEND_RATE_PER_SECOND"]
        # A batch must be sent well within its lease, or another sender takes it
        # again: at 0.1 messages a second, 100 would take longer than the lease.
        within_lease = max(1, int(self.rate * LEASE.total_seconds() / 4))
        self.batch_size = min(
            self.batch_size or max(50, self.concurrency * 25), within_lease
        )
        self.signer = Signer.from_config(config)
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        """Start with empty queues and every permit (before the threads start)."""
        #: messages ready to go; each connection's thread takes the next one
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        #: how each went, for the main thread to write down
        self._results: queue.SimpleQueue[Result] = queue.SimpleQueue()
        #: a connection sends only with a permit, and a permit comes back when the
        #: outcome is written: at most RESULT_GROUP + concurrency messages are ever
        #: out without a record, however far the preparing runs ahead
        self._unrecorded = threading.BoundedSemaphore(RESULT_GROUP + self.concurrency)
        #: set by close(): a connection's thread that still holds a job drops it
        self._closing = threading.Event()

    # -- the loop -------------------------------------------------------------

    def run(self, stop: threading.Event, *, until_idle: bool = False) -> int:
        """Send until `stop` is set (or, with until_idle, until nothing is due).

        The queue of prepared messages is topped up to a batch while the
        connections still have half a batch to send, so they do not wait for the
        bookkeeping; the outcomes are written in groups meanwhile. Once stopped,
        what was prepared is sent and written down before it returns.
        """
        handled = 0
        with self.app.app_context():
            try:
                self._start_workers()
                out = 0  #: messages handed to the connections, outcome not yet written
                results: list[Result] = []
                while True:
                    waiting = self._jobs.qsize()
                    if not stop.is_set() and waiting <= self.batch_size // 2:
                        # Topped up to one batch: a pause takes effect within one.
                        size = self.batch_size - waiting
                        batch = claim(self.owner, size, utcnow())
                        if batch:
                            handled += len(batch)
                            out += self._hand_out(self._prepare(batch, utcnow()))
                            continue
                        if out == 0:
                            if until_idle:
                                break
                            stop.wait(1.0)
                            continue
                    if out == 0:
                        break  # stopped, and everything handed out is written down
                    out -= self._collect(results, out)
            finally:
                self.close()
        return handled

    def step(self, now: datetime) -> int:
        """Claim one batch, send it and write it down; return how many were handled."""
        batch = claim(self.owner, self.batch_size, now)
        if not batch:
            return 0
        self._start_workers()
        out = self._hand_out(self._prepare(batch, now))
        results: list[Result] = []
        while out:
            out -= self._collect(results, out, now)
        return len(batch)

    def close(self) -> None:
        """Stop the connections' threads and close every SMTP connection."""
        # Whatever is still waiting is not sent: its lease runs out and another
        # sender (or this one, restarted) takes it again.
        self._closing.set()
        while True:
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                break
        for _worker in self._workers:
            self._jobs.put(None)
        for worker in self._workers:
            worker.join()
        self._workers.clear()
        for session in self._sessions:
            session.close()
        self._sessions.clear()

    # -- preparing ------------------------------------------------------------

    def _frozen_for(self, send: Send) -> FrozenMessage:
        frozen = self._frozen.get(send.id)
        if frozen is None:
            headers = {
                "List-Id": send.list_header,
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "Precedence": "bulk",
                # No personal data: the send and list, per RFC-less provider practice.
                "Feedback-ID": f"{send.id}:{send.list_id or 0}:{send.kind}:postbode",
            }
            frozen = FrozenMessage.build(
                sender=send.from_address,
                sender_name=send.from_name,
                subject=send.subject,
                text=send.text,
                html=send.html,
                headers=headers,
                slot_names=SLOTS,
                now=send.created_at,
            )
            self._frozen[send.id] = frozen
        return frozen

    def _prepare(self, batch: list[Claimed], now: datetime) -> list[Job]:
        """Set aside what must not be sent; build the message for the rest."""
        config = self.app.config
        sends = {
            send.id: send
            for send in db.session.scalars(
                select(Send).where(Send.id.in_({c.send_id for c in batch}))
            )
        }
        ids = [c.subscriber_id for c in batch]
        readers = {
            row.id: row
            for row in db.session.execute(
                select(
                    Subscriber.id,
                    Subscriber.email,
                    Subscriber.name,
                    Subscriber.uid,
                    Subscriber.tracking_consent,
                ).where(Subscriber.id.in_(ids), Subscriber.status == "active")
            )
        }
        on_list = {
            (row.subscriber_id, row.list_id)
            for row in db.session.execute(
                select(Membership.subscriber_id, Membership.list_id).where(
                    Membership.subscriber_id.in_(ids),
                    Membership.status == MembershipStatus.ACTIVE,
                )
            )
        }
        skipped, quarantined, jobs = [], [], []
        for delivery in batch:
            send = sends[delivery.send_id]
            reader = readers.get(delivery.subscriber_id)
            if delivery.reclaims >= 3:
                # Taken back after three crashes: a poison message; set it aside.
                quarantined.append(delivery.id)
                continue
            if reader is None or not any(
                (delivery.subscriber_id, list_id) in on_list
                for list_id in send.audience
            ):
                # Left, bounced or erased since the send began: honour it.
                skipped.append(delivery.id)
                continue
            jobs.append(self._job(send, delivery, reader, config))
        self._set_aside(
            skipped, DeliveryStatus.SKIPPED, "reader left before sending", now
        )
        self._set_aside(
            quarantined, DeliveryStatus.QUARANTINED, "taken back 3 times", now
        )
        if jobs:
            first = reserve(len(jobs), self.rate)
            jobs = [
                Job(**{**job.__dict__, "not_before": first + i / self.rate})
                for i, job in enumerate(jobs)
            ]
        return jobs

    def _job(self, send: Send, delivery: Claimed, reader: object, config: dict) -> Job:
        frozen = self._frozen_for(send)
        unsubscribe = unsubscribe_url_for(reader.uid, send.list_id)  # type: ignore[attr-defined]
        list_unsubscribe = f"<{unsubscribe}>"
        if config.get("MAIL_UNSUBSCRIBE_ADDRESS"):
            list_unsubscribe += f", <mailto:{config['MAIL_UNSUBSCRIBE_ADDRESS']}>"
        message_id = frozen.message_id(send.id, delivery.id)
        message = frozen.render(
            to=reader.email,  # type: ignore[attr-defined]
            to_name=reader.name,  # type: ignore[attr-defined]
            message_id=message_id,
            values={
                SLOT_UNSUBSCRIBE_URL: unsubscribe,
                SLOT_PREFERENCES_URL: preferences_url_for(reader.uid),  # type: ignore[attr-defined]
                # Tracking (issue 5): a signed piece only for a consenting reader in
                # personal mode, else "" (anonymous URLs, the same for everyone).
                SLOT_READER: reader_slot_value(
                    config,
                    delivery.id,
                    reader.tracking_consent,  # type: ignore[attr-defined]
                ),
            },
            headers={"List-Unsubscribe": list_unsubscribe},
        )
        if self.signer is not None:
            message = self.signer.sign(message)
        bounce = config["BOUNCE_ADDRESS"]
        envelope_from = (
            verp.bounce_address(bounce, config["SECRET_KEY"], delivery.id)
            if bounce
            else send.from_address
        )
        return Job(
            delivery=delivery,
            envelope_from=ascii_address(envelope_from),
            recipient=ascii_address(reader.email),  # type: ignore[attr-defined]
            message=message,
            message_id=message_id,
            not_before=0.0,
        )

    def _set_aside(
        self, ids: list[int], status: DeliveryStatus, reason: str, now: datetime
    ) -> None:
        if not ids:
            return
        db.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.lease_owner == self.owner)
            .values(status=status, smtp_reply=reason, lease_owner=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()

    # -- sending --------------------------------------------------------------

    def _session(self) -> Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = open_session(self.app.config)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _drop_session(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            self._local.session = None
            session.close()

    def _deliver(self, job: Job) -> Result:
        wait_for = job.not_before - time.time()
        if wait_for > 0:
            time.sleep(wait_for)
        reply = self._session().deliver(job.envelope_from, job.recipient, job.message)
        return Result(job, reply)

    def _start_workers(self) -> None:
        if not self._workers:
            self._reset()  # nothing is left over from a run that ended in an error
        while len(self._workers) < self.concurrency:
            worker = threading.Thread(
                target=self._work, name=f"smtp-{len(self._workers)}", daemon=True
            )
            worker.start()
            self._workers.append(worker)

    def _work(self) -> None:
        """One connection's thread: send the next job, report it, until told to end."""
        while (job := self._jobs.get()) is not None:
            # Waiting for a permit, it also watches for close(): after an error in
            # the main thread no permit comes back, and the job is not sent (its
            # lease runs out and it is taken again).
            while not self._unrecorded.acquire(timeout=0.2):
                if self._closing.is_set():
                    return
            if self._closing.is_set():
                return
            try:
                result = self._deliver(job)
            except Exception as error:  # noqa: BLE001 - a bug must not hang the sender
                # Sessions report SMTP and network failures as replies; anything
                # else is our fault. Deferred, the message is tried again (and
                # given up after SEND_GIVE_UP_HOURS); the connection starts afresh.
                log.exception("sending delivery %s failed", job.delivery.id)
                self._drop_session()
                result = Result(
                    job, Reply(0, f"internal error: {error}"[:400], Phase.CONNECT)
                )
            self._results.put(result)

    def _hand_out(self, jobs: list[Job]) -> int:
        for job in jobs:
            self._jobs.put(job)
        return len(jobs)

    def _collect(
        self, results: list[Result], out: int, now: datetime | None = None
    ) -> int:
        """Wait for outcomes; write a group of them down; return how many were written.

        A group is written once RESULT_GROUP outcomes are in, or once every message
        handed out (`out`) has one; at `now`, or else at the moment it is written.
        """
        results.append(self._results.get())
        while len(results) < min(out, RESULT_GROUP):
            try:
                results.append(self._results.get(timeout=0.05))
            except queue.Empty:
                if len(results) >= out:
                    break
        if len(results) < min(out, RESULT_GROUP):
            return 0
        written = len(results)
        self.record(results, now or utcnow())
        results.clear()
        for _result in range(written):
            self._unrecorded.release()
        return written

    # -- recording ------------------------------------------------------------

    def record(self, results: list[Result], now: datetime) -> None:
        """Write a group of outcomes; pause a send after too many failures in a row."""
        config = current_app.config
        give_up_after = timedelta(hours=config["SEND_GIVE_UP_HOURS"])
        #: per send: whether a message got through, and the failures after the last one
        streaks: dict[int, tuple[bool, int]] = {}
        # Building and compiling one ORM UPDATE per row cost about a millisecond of
        # the main thread per message, during which no connection gets a new job;
        # rows with the same columns go out as one executemany instead.
        groups: dict[tuple[str, ...], list[dict[str, object]]] = {}
        for result in results:
            delivery = result.job.delivery
            outcome = classify(result.reply)
            reply = f"{result.reply.code} {result.reply.text}".strip()[:500]
            values: dict[str, object] = {
                "lease_owner": None,
                "smtp_reply": reply,
                "updated_at": now,
            }
            if outcome == Outcome.UNCERTAIN and delivery.is_uncertain:
                outcome = Outcome.SENT  # sent twice already: never a third time
            if outcome == Outcome.SENT:
                values.update(
                    status=DeliveryStatus.SENT,
                    sent_at=now,
                    message_id=result.job.message_id,
                )
            elif outcome == Outcome.UNCERTAIN:
                values.update(
                    status=DeliveryStatus.QUEUED,
                    is_uncertain=True,
                    attempts=delivery.attempts + 1,
                    next_attempt_at=now,
                )
            elif outcome == Outcome.DEFERRED:
                # The give-up period counts from this round's first refusal.
                first = delivery.retrying_since or now
                expired = gives_up(first, now, give_up_after)
                values.update(
                    status=DeliveryStatus.FAILED
                    if expired
                    else DeliveryStatus.DEFERRED,
                    attempts=delivery.attempts + 1,
                    next_attempt_at=next_attempt(delivery.attempts + 1, now),
                    retrying_since=first,
                )
            else:
                values.update(
                    status=DeliveryStatus.FAILED, attempts=delivery.attempts + 1
                )
                bounces.record_refusal(delivery.id, delivery.subscriber_id, reply, now)
            groups.setdefault(tuple(values), []).append(
                {**values, "delivery_id": delivery.id, "owner": self.owner}
            )
            got_through, failures = streaks.get(delivery.send_id, (False, 0))
            if outcome == Outcome.SENT:
                streaks[delivery.send_id] = (True, 0)
            else:
                streaks[delivery.send_id] = (got_through, failures + 1)
        for rows in groups.values():
            db.session.execute(_RECORD, rows)
        paused = self._update_streaks(streaks, config["SEND_PAUSE_AFTER_FAILURES"])
        db.session.commit()
        for send_id in paused:
            log.warning("send %s paused after too many failures in a row", send_id)
            notify_paused(send_id)

    def _update_streaks(
        self, streaks: dict[int, tuple[bool, int]], limit: int
    ) -> list[int]:
        paused = []
        for send_id, (got_through, failures) in streaks.items():
            # A success in this group ends the streak; failures after it start anew.
            statement = _STREAK_RESTART if got_through else _STREAK_GROWS
            streak = db.session.execute(
                statement, {"send_id": send_id, "failures": failures}
            ).scalar_one()
            if streak >= limit:
                stopped = db.session.execute(
                    update(Send)
                    .where(Send.id == send_id, Send.status == SendStatus.SENDING)
                    .values(
                        status=SendStatus.PAUSED,
                        pause_reason=PAUSED_BY_FAILURES,
                    )
                )
                if stopped.rowcount:
                    paused.append(send_id)
        return paused
