"""The sender: claim a batch of deliveries, personalise, send over reused
connections within the shared rate, and record the outcomes in small groups.

Any number of senders may run (threads in `flask serve`, `flask worker` processes on
several machines). A claim is one UPDATE … RETURNING of due rows: on PostgreSQL the
candidate rows are picked with FOR UPDATE SKIP LOCKED, on SQLite the single writer
makes the UPDATE atomic. Each claimed row carries a lease; a sender that dies lets
its leases run out and another takes the rows again. Results are written every
RESULT_GROUP messages, and a sender goes on while at most UNWRITTEN_GROUPS groups
wait to be written: after a crash at most UNWRITTEN_GROUPS × RESULT_GROUP +
concurrency messages were accepted by the server without being recorded. Those are
the only ones that can arrive twice.

One thread sends (non-blocking sockets, see service/mail/sessions.py); the database
work runs beside it in `_Books`.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from select import select as wait_for_sockets
from typing import Any

from flask import Flask, current_app
from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    case,
    false,
    func,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
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
from service.mail.sessions import (
    OutboxSession,
    Phase,
    Reply,
    SMTPSession,
    open_session,
)
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
#: groups of results that may wait to be written while the connections go on: one
#: being written, one filling up
UNWRITTEN_GROUPS = 2
#: rows claimed at a time (at least; more with many connections): each claim is one
#: transaction, and its fixed cost is shared by the batch
BATCH = 200
#: a connection to the relay, or the outbox (which answers at once)
Connection = SMTPSession | OutboxSession
#: how often (seconds) a sender on PostgreSQL looks for rows whose lease ran out
#: (see `claim`); always at its first claim
SWEEP_EVERY = 60.0
#: the name of the one shared pace in rate_limits
RATE_NAME = "smtp"

_DELIVERIES = Delivery.__table__
#: one outcome per row, sent as one executemany per group of rows with the same
#: columns; the SET clause follows the keys of the rows (see Sender.record)
_RECORD = update(_DELIVERIES).where(
    _DELIVERIES.c.id == bindparam("delivery_id"),
    _DELIVERIES.c.lease_owner == bindparam("owner"),
)

#: on PostgreSQL, a group of accepted messages as one UPDATE … FROM unnest(arrays):
#: one statement to plan and run instead of one per row
_SENT_ROWS = (
    func.unnest(
        bindparam("ids", type_=ARRAY(Integer)),
        bindparam("message_ids", type_=ARRAY(String)),
        bindparam("replies", type_=ARRAY(String)),
    )
    .table_valued("id", "message_id", "smtp_reply")
    .render_derived()
)
_RECORD_SENT = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.id == _SENT_ROWS.c.id,
        _DELIVERIES.c.lease_owner == bindparam("owner"),
    )
    .values(
        status=DeliveryStatus.SENT,
        sent_at=bindparam("now"),
        updated_at=bindparam("now"),
        lease_owner=None,
        message_id=_SENT_ROWS.c.message_id,
        smtp_reply=_SENT_ROWS.c.smtp_reply,
    )
)
#: the columns an accepted message's outcome sets (see Sender.record)
_SENT_KEYS = {
    "lease_owner",
    "smtp_reply",
    "updated_at",
    "status",
    "sent_at",
    "message_id",
}

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
#: a group that ended in a success: the streak is 0, and mostly it was already, so
#: the send's row is written (and locked until the commit) only when it was not;
#: senders writing groups at once would otherwise queue behind each other's lock
_STREAK_ENDS = (
    update(_SENDS)
    .where(_SENDS.c.id == bindparam("send_id"), _SENDS.c.failure_streak != 0)
    .values(failure_streak=0)
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
class SendFacts:
    """What a sender needs of a send, read once: none of it changes while it runs."""

    id: int
    list_id: int | None
    audience: frozenset[int]
    from_address: str
    frozen: FrozenMessage


@dataclass(frozen=True)
class Ready:
    """A claimed delivery with its reader, waiting for a connection and its moment."""

    delivery: Claimed
    send: SendFacts
    reader: Any  #: a row: email, name, uid, tracking_consent
    not_before: float  #: time.time() of its slot in the shared rate


@dataclass(frozen=True)
class Job:
    """One message ready to go."""

    delivery: Claimed
    envelope_from: str
    recipient: str
    message: bytes
    message_id: str


@dataclass(frozen=True)
class Result:
    """How one message went."""

    delivery: Claimed
    message_id: str
    reply: Reply


def sender_name() -> str:
    """Return a name for this sender that is unique across machines and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _due(send: Any, after: Any = None) -> list[Any]:
    """Return the three ranges of a send's due rows, each in id order (bound later).

    The (send_id, status, id) index holds each range in id order, so each part reads
    at most :limit rows; one query over every send and status read and sorted every
    queued row for each batch instead (580 ms per batch at a million recipients on
    SQLite; on PostgreSQL it scanned past every row already sent). No time condition
    on queued rows: with one, SQLite prefers the (status, next_attempt_at) index and
    sorts them all by id.
    """
    d = _DELIVERIES.c
    return [
        select(d.id)
        .where(d.send_id == send, d.status == status, moment)
        .order_by(d.id)
        .limit(bindparam("limit"))
        # Taken in this order where they are taken one after the other: rows a
        # dead sender left first, then those whose retry is due, then new ones.
        for status, moment in (
            (DeliveryStatus.SENDING, d.lease_expires_at < bindparam("now")),
            (DeliveryStatus.DEFERRED, d.next_attempt_at <= bindparam("now")),
            (DeliveryStatus.QUEUED, true() if after is None else d.id > after),
        )
    ]


def _taking(chosen: Any) -> Any:
    """Return the UPDATE … RETURNING that puts the `chosen` rows under our lease."""
    d = _DELIVERIES
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
            updated_at=bindparam("now"),
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


@lru_cache(maxsize=16)
def _claim_statements(dialect: str, sends: int) -> list[Any]:
    """Return the claiming statements, built once per dialect and running-send count.

    Built once, SQLAlchemy compiles them once: building them per batch cost more
    than SQLite took to run them. On SQLite one statement takes the lowest due rows
    of every running send: the pick is a subquery of the UPDATE itself, so under
    SQLite's one write lock two senders never pick the same rows and come away with
    nothing. PostgreSQL allows no FOR UPDATE in a UNION, so there each range of one
    send (bound as :send; queued rows after :after) is its own UPDATE, picking with
    FOR UPDATE SKIP LOCKED; `claim` runs them in turn until the batch is full.
    """
    d = _DELIVERIES
    if dialect == "postgresql":
        return [
            _taking(
                d.c.id.in_(part.with_for_update(skip_locked=True).scalar_subquery())
            )
            for part in _due(bindparam("send"), after=bindparam("after"))
        ]
    running = select(_SENDS.c.id).where(_SENDS.c.status == SendStatus.SENDING)
    parts = [
        part.subquery().select()
        for number in range(sends)
        for part in _due(bindparam(f"send_{number}"))
    ]
    lowest = union_all(*parts).subquery() if parts else None
    picked = (
        select(lowest.c.id).order_by(lowest.c.id).limit(bindparam("limit"))
        if lowest is not None
        else select(d.c.id).where(false())
    )
    return [
        _taking(and_(d.c.id.in_(picked.scalar_subquery()), d.c.send_id.in_(running)))
    ]


def running_sends() -> list[int]:
    """Return the ids of the sends that are sending now."""
    return list(
        db.session.scalars(select(Send.id).where(Send.status == SendStatus.SENDING))
    )


def claim(
    owner: str,
    limit: int,
    now: datetime,
    *,
    commit: bool = True,
    cursors: dict[int, int] | None = None,
    sweep: bool = True,
) -> list[Claimed]:
    """Take up to `limit` due deliveries of running sends under a lease.

    On PostgreSQL an update leaves the row's old version behind in every index
    until VACUUM: the start of a send's queued range, and its whole "sending"
    range, fill with entries of rows long taken, and a scan from the start steps
    over all of them (at a million recipients the claim slowed the send to a third
    by the end). So a sender keeps, per send, the highest queued id it took
    (`cursors`) and claims queued rows after it, going back to the start only when
    that comes up short; and it looks for rows a dead sender left (`sweep`) only
    now and then. SQLite removes old index entries at once and needs neither.
    """
    dialect = db.engine.dialect.name
    running = running_sends()
    params: dict[str, object] = {"now": now, "lease": now + LEASE, "owner": owner}
    # PostgreSQL's statements bind the send; SQLite's name every running one.
    sends = 0 if dialect == "postgresql" else len(running)
    statements = _claim_statements(dialect, sends)
    rows: list[Any] = []
    if dialect == "postgresql":
        abandoned, retries, new = statements
        for send_id in running:
            after = (cursors or {}).get(send_id, 0)
            steps = [(abandoned, 0)] if sweep else []
            steps += [(retries, 0), (new, after)] + ([(new, 0)] if after else [])
            for statement, start in steps:
                left = limit - len(rows)
                if left <= 0:
                    break
                taken = db.session.execute(
                    statement,
                    {**params, "send": send_id, "after": start, "limit": left},
                ).all()
                rows += taken
                if statement is new and taken and cursors is not None:
                    highest = max(row.id for row in taken)
                    cursors[send_id] = max(cursors.get(send_id, 0), highest)
    else:
        params.update({f"send_{n}": send_id for n, send_id in enumerate(running)})
        [statement] = statements
        rows = db.session.execute(statement, {**params, "limit": limit}).all()
    if commit:
        db.session.commit()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


@lru_cache(maxsize=4)
def _reserve_statements(dialect: str) -> tuple[Any, Any]:
    """Return the rate row's INSERT (when missing) and its UPDATE, built once."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    create = (
        insert(RateLimit)
        .values(name=RATE_NAME, available_at=0.0)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    now = bindparam("now")
    move = (
        update(RateLimit)
        .where(RateLimit.name == RATE_NAME)
        .values(
            available_at=case(
                (RateLimit.available_at > now, RateLimit.available_at), else_=now
            )
            + bindparam("cost")
        )
        .returning(RateLimit.available_at)
    )
    return create, move


def reserve(count: int, rate: float, *, commit: bool = True) -> float:
    """Reserve `count` sending slots at `rate` per second; return the first slot.

    One UPDATE moves the shared next-free moment forward, so all senders together
    stay within the rate, also across restarts.
    """
    create, move = _reserve_statements(db.engine.dialect.name)
    params = {"now": time.time(), "cost": count / rate}
    end = db.session.execute(move, params).scalar_one_or_none()
    if end is None:  # the first reservation ever: the row is made once
        db.session.execute(create)
        end = db.session.execute(move, params).scalar_one()
    if commit:
        db.session.commit()
    return end - params["cost"]


@dataclass
class Sender:
    """A sender: claims batches and sends them until told to stop.

    One thread does it all: it claims, builds each message when a connection is
    free for it, keeps every connection busy through non-blocking sockets, and
    writes the outcomes down. No thread waits for another, and a message is built
    only when it can go, so memory holds one batch of small rows, whatever the
    audience.
    """

    app: Flask
    owner: str = field(default_factory=sender_name)
    concurrency: int = 0
    batch_size: int = 0
    #: what is known of each send this sender has sent (with its frozen message)
    _sends: dict[int, SendFacts] = field(default_factory=dict)
    _sessions: list[Connection] = field(default_factory=list)
    #: claimed and waiting for a connection, in the order of their rate slots
    _ready: deque[Ready] = field(default_factory=deque)
    #: per send, the highest queued id this sender claimed (see `claim`)
    _cursors: dict[int, int] = field(default_factory=dict)
    #: when this sender last looked for rows a dead sender left (time.monotonic())
    _swept: float = float("-inf")

    def __post_init__(self) -> None:
        config = self.app.config
        self.concurrency = self.concurrency or config["SEND_CONCURRENCY"]
        self.rate = config["SEND_RATE_PER_SECOND"]
        # A batch must be sent well within its lease, or another sender takes it
        # again: at 0.1 messages a second, 100 would take longer than the lease.
        within_lease = max(1, int(self.rate * LEASE.total_seconds() / 4))
        self.batch_size = min(
            self.batch_size or max(BATCH, self.concurrency * 50), within_lease
        )
        self.signer = Signer.from_config(config)

    # -- the loop -------------------------------------------------------------

    def run(self, stop: threading.Event, *, until_idle: bool = False) -> int:
        """Send until `stop` is set (or, with until_idle, until nothing is due).

        The database work (claiming, writing outcomes) runs in a thread of its
        own, so the connections go on while it waits for the database. Rows are
        claimed again while half a batch still waits. Once stopped, the messages
        under way are finished and written down, and what was claimed but not
        begun is given back at once for another sender.
        """
        with self.app.app_context():
            try:
                return self._pump(stop, until_idle=until_idle)
            finally:
                self.close()

    def step(self, now: datetime) -> int:
        """Claim one batch at `now`, send it and write it down; return its size.

        Everything happens in the calling thread, at `now` (for tests and tools).
        """
        return self._pump(threading.Event(), until_idle=True, at=now)

    def close(self) -> None:
        """Give back what was claimed but not begun; close every connection."""
        if self._ready:
            try:
                db.session.rollback()  # after an error the transaction is spoilt
                self._give_back(list(self._ready))
            except Exception:  # noqa: BLE001 - the leases run out instead
                log.exception("giving back %s deliveries failed", len(self._ready))
            self._ready.clear()
        for session in self._sessions:
            session.close()
        self._sessions.clear()

    def _pump(
        self, stop: threading.Event, *, until_idle: bool, at: datetime | None = None
    ) -> int:
        """Keep the connections busy and the books up to date until there is no more.

        With `at` (step), one batch is claimed and its outcomes written at that
        moment, all in this thread. Returns how many deliveries were claimed.
        """
        if not self._sessions:
            self._sessions = [
                open_session(self.app.config) for _ in range(self.concurrency)
            ]
        books = _Books(self, threaded=at is None)
        try:
            return self._drive(books, stop, until_idle=until_idle, at=at)
        finally:
            books.close()

    def _drive(  # noqa: C901, PLR0912, PLR0915 - one loop, its states side by side
        self,
        books: _Books,
        stop: threading.Event,
        *,
        until_idle: bool,
        at: datetime | None,
    ) -> int:
        sessions, ready = self._sessions, self._ready
        #: per connection, the messages under way on it, oldest first
        under_way: list[deque[Job]] = [deque() for _ in sessions]
        results: list[Result] = []
        #: messages accepted (or under way) whose outcome is not written yet; never
        #: more than this (the crash bound in the module docstring)
        bound = UNWRITTEN_GROUPS * RESULT_GROUP + len(sessions)
        claimed = unwritten = 0
        claiming = checking = idle_claim = asked = dry = claimed_when_done = False
        checked = time.monotonic()
        oldest = 0.0  #: when the oldest outcome not yet handed to the books came in
        while True:
            for kind, payload in books.answers():
                if kind == "claimed":
                    claiming = False
                    count, items = payload
                    claimed += count
                    ready.extend(items)
                    dry = count == 0
                    # Nothing due even with nothing left to do: idle.
                    idle_claim = dry and claimed_when_done
                elif kind == "recorded":
                    unwritten -= payload
                elif kind == "stopped":
                    checking = False
                    gone = [item for item in ready if item.send.id in payload]
                    if gone:
                        kept = [item for item in ready if item.send.id not in payload]
                        ready.clear()
                        ready.extend(kept)
                        books.ask("give_back", gone)
            busy = sum(len(jobs) for jobs in under_way)
            clock = time.monotonic()
            if results and (
                len(results) >= RESULT_GROUP or not busy or clock - oldest > 1.0
            ):
                books.ask("record", results, at)
                unwritten += len(results)
                results = []
            if stop.is_set() and ready:
                books.ask("give_back", list(ready))
                ready.clear()
            elif ready and not checking and clock - checked > 1.0:
                # A pause or cancel takes effect within a second.
                checked, checking = clock, True
                books.ask("check", {item.send.id for item in ready})
            everything_done = not (busy or ready or results or unwritten)
            # A step claims once; a run again while half a batch waits, after an
            # empty claim only once everything is done (outcomes may queue rows
            # again), and once idle only after a pause.
            may_claim = (
                not asked if at else (not dry or everything_done) and not idle_claim
            )
            if (
                may_claim
                and not claiming
                and not stop.is_set()
                and len(ready) <= self.batch_size // 2
            ):
                claiming = asked = True
                claimed_when_done = everything_done
                books.ask("claim", self.batch_size - len(ready), at)
                continue
            if everything_done and not (claiming or checking):
                if stop.is_set() or (until_idle and (idle_claim or at is not None)):
                    return claimed
                stop.wait(1.0)
                idle_claim = dry = False
                continue
            now = time.time()
            for index, session in enumerate(sessions):
                if not ready or busy + len(results) + unwritten >= bound:
                    break
                jobs = under_way[index]
                # An idle connection takes a message; with PIPELINING a busy one
                # takes the next behind the content of the one under way.
                if (jobs and not session.can_take_next) or ready[0].not_before > now:
                    continue
                item = ready.popleft()
                job, replies = self._begin(session, item)
                if replies:
                    oldest = oldest if results else time.monotonic()
                    results.extend(
                        Result(item.delivery, job.message_id, reply)
                        for reply in replies
                    )
                else:
                    jobs.append(job)
                    busy += 1
            for index, replies in self._wait(under_way, ready, books):
                jobs = under_way[index]
                oldest = oldest if results else time.monotonic()
                for reply in replies:
                    # Replies come in the order the messages went.
                    job = jobs.popleft()
                    results.append(Result(job.delivery, job.message_id, reply))

    def _wait(
        self, under_way: list[deque[Job]], ready: deque[Ready], books: _Books
    ) -> list[tuple[int, list[Reply]]]:
        """Write what waits, wait for the sockets or the books; return replies.

        Returns, per connection, the replies of the messages that are done.
        """
        sessions = self._sessions
        readers: list[Any] = [books] if books.threaded else []
        writers, pending, replies = [], [], []
        deadline = 1.0
        clock = time.monotonic()
        for index, jobs in enumerate(under_way):
            if not jobs:
                continue
            session = sessions[index]
            if session.wants_write:
                # A message's content and the next envelope go in one write.
                broken = session.on_writable()
                if broken:
                    replies.append((index, broken))
                    continue
            if session.has_buffered():  # TLS bytes select does not see
                pending.append(index)
            readers.append(session)
            if session.wants_write:
                writers.append(session)
            deadline = min(deadline, max(0.0, session.deadline - clock))
        if ready and not all(under_way):
            deadline = min(deadline, max(0.0, ready[0].not_before - time.time()))
        if pending or replies or books.has_answers():
            deadline = 0.0
        if not readers:
            time.sleep(deadline)
            return replies
        readable, writable, _ = wait_for_sockets(readers, writers, [], deadline)
        if books in readable:
            books.woken()
        readable_ids = {id(s) for s in readable} | {id(sessions[i]) for i in pending}
        writable_ids = {id(s) for s in writable}
        done = {index for index, _replies in replies}
        for index, jobs in enumerate(under_way):
            if not jobs or index in done:
                continue
            session = sessions[index]
            got = []
            if id(session) in writable_ids:
                got = session.on_writable()
            if not got and id(session) in readable_ids:
                got = session.on_readable()
            if not got:
                got = session.expire()
            if got:
                replies.append((index, got))
        return replies

    # -- the books (the database work) ------------------------------------------

    def _claim(self, limit: int, now: datetime) -> tuple[int, list[Ready]]:
        """Claim up to `limit` rows; return how many, and those that may go.

        One transaction: the claim, the readers, what must not be sent set aside,
        and the rate slots for the rest.
        """
        sweep = time.monotonic() - self._swept >= SWEEP_EVERY
        if sweep:
            self._swept = time.monotonic()
        batch = claim(
            self.owner,
            limit,
            now,
            commit=False,
            cursors=self._cursors,
            sweep=sweep,
        )
        if not batch:
            db.session.commit()
            return 0, []
        sends = self._facts({c.send_id for c in batch})
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
        skipped, quarantined, going = [], [], []
        for delivery in batch:
            send = sends[delivery.send_id]
            reader = readers.get(delivery.subscriber_id)
            if delivery.reclaims >= 3:
                # Taken back after three crashes: a poison message; set it aside.
                quarantined.append(delivery.id)
            elif reader is None or not any(
                (delivery.subscriber_id, list_id) in on_list
                for list_id in send.audience
            ):
                # Left, bounced or erased since the send began: honour it.
                skipped.append(delivery.id)
            else:
                going.append((delivery, send, reader))
        self._set_aside(
            skipped, DeliveryStatus.SKIPPED, "reader left before sending", now
        )
        self._set_aside(
            quarantined, DeliveryStatus.QUARANTINED, "taken back 3 times", now
        )
        first = reserve(len(going), self.rate, commit=False) if going else 0.0
        db.session.commit()
        return len(batch), [
            Ready(delivery, send, reader, first + i / self.rate)
            for i, (delivery, send, reader) in enumerate(going)
        ]

    def _facts(self, send_ids: set[int]) -> dict[int, SendFacts]:
        """Return what is needed of these sends, reading the new ones once."""
        missing = send_ids - self._sends.keys()
        if missing:
            for send in db.session.scalars(select(Send).where(Send.id.in_(missing))):
                self._sends[send.id] = SendFacts(
                    id=send.id,
                    list_id=send.list_id,
                    audience=frozenset(send.audience),
                    from_address=send.from_address,
                    frozen=self._freeze(send),
                )
        return self._sends

    def _stopped(self, send_ids: set[int]) -> set[int]:
        """Return which of these sends are no longer sending (paused, cancelled)."""
        running = set(running_sends())
        db.session.commit()
        return send_ids - running

    def _give_back(self, items: list[Ready]) -> None:
        """Release claimed rows that were not begun, as they were before the claim.

        A row of a cancelled send is cancelled, as the cancel did with its queued
        rows; the others wait again (for the next sender, or this one resumed).
        """
        now = utcnow()
        cancelled = set(
            db.session.scalars(
                select(Send.id).where(
                    Send.id.in_({item.send.id for item in items}),
                    Send.status == SendStatus.CANCELLED,
                )
            )
        )
        d = _DELIVERIES.c
        groups: dict[DeliveryStatus, list[int]] = {}
        for item in items:
            if item.send.id in cancelled:
                status = DeliveryStatus.CANCELLED
            elif item.delivery.retrying_since:
                status = DeliveryStatus.DEFERRED  # it was waiting for a retry
            else:
                status = DeliveryStatus.QUEUED
            groups.setdefault(status, []).append(item.delivery.id)
        for status, ids in groups.items():
            db.session.execute(
                update(_DELIVERIES)
                .where(d.id.in_(ids), d.lease_owner == self.owner)
                .values(
                    status=status,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            )
        db.session.commit()

    # -- preparing ------------------------------------------------------------

    def _freeze(self, send: Send) -> FrozenMessage:
        headers = {
            "List-Id": send.list_header,
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Precedence": "bulk",
            # No personal data: the send and list, per RFC-less provider practice.
            "Feedback-ID": f"{send.id}:{send.list_id or 0}:{send.kind}:postbode",
        }
        return FrozenMessage.build(
            sender=send.from_address,
            sender_name=send.from_name,
            subject=send.subject,
            text=send.text,
            html=send.html,
            headers=headers,
            slot_names=SLOTS,
            now=send.created_at,
        )

    def _job(self, item: Ready) -> Job:
        """Build one reader's message from the send's frozen one."""
        config = self.app.config
        send, delivery, reader = item.send, item.delivery, item.reader
        frozen = send.frozen
        unsubscribe = unsubscribe_url_for(reader.uid, send.list_id)
        list_unsubscribe = f"<{unsubscribe}>"
        if config.get("MAIL_UNSUBSCRIBE_ADDRESS"):
            list_unsubscribe += f", <mailto:{config['MAIL_UNSUBSCRIBE_ADDRESS']}>"
        message_id = frozen.message_id(send.id, delivery.id)
        message = frozen.render(
            to=reader.email,
            to_name=reader.name,
            message_id=message_id,
            values={
                SLOT_UNSUBSCRIBE_URL: unsubscribe,
                SLOT_PREFERENCES_URL: preferences_url_for(reader.uid),
                # Tracking (issue 5): a signed piece only for a consenting reader in
                # personal mode, else "" (anonymous URLs, the same for everyone).
                SLOT_READER: reader_slot_value(
                    config, delivery.id, reader.tracking_consent
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
            recipient=ascii_address(reader.email),
            message=message,
            message_id=message_id,
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

    # -- sending --------------------------------------------------------------

    def _begin(self, session: Connection, item: Ready) -> tuple[Job, list[Reply]]:
        """Build a message and hand it to a connection; its reply if it ends at once."""
        job = Job(item.delivery, "", "", b"", "")
        try:
            job = self._job(item)
            return job, self._deliver(session, job)
        except Exception as error:  # noqa: BLE001 - a bug must not stop the sender
            # Sessions report SMTP and network failures as replies; anything else is
            # our fault. Deferred, the message is tried again (and given up after
            # SEND_GIVE_UP_HOURS); an idle connection starts afresh.
            log.exception("sending delivery %s failed", item.delivery.id)
            if not session.busy:
                session.close()
            return job, [Reply(0, f"internal error: {error}"[:400], Phase.CONNECT)]

    def _deliver(self, session: Connection, job: Job) -> list[Reply]:
        """Start one message on a connection ([] while its replies are to come)."""
        # Frozen messages write a leading dot as =2E: there is nothing to double.
        return session.start(
            job.envelope_from, job.recipient, job.message, dot_free=True
        )

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
            delivery = result.delivery
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
                    message_id=result.message_id,
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
        postgresql = db.engine.dialect.name == "postgresql"
        for keys, rows in groups.items():
            if postgresql and set(keys) == _SENT_KEYS:
                # The common group, all accepted: one statement for all its rows.
                db.session.execute(
                    _RECORD_SENT,
                    {
                        "ids": [row["delivery_id"] for row in rows],
                        "message_ids": [row["message_id"] for row in rows],
                        "replies": [row["smtp_reply"] for row in rows],
                        "owner": self.owner,
                        "now": now,
                    },
                )
            else:
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
            if got_through and not failures:
                db.session.execute(_STREAK_ENDS, {"send_id": send_id})
                continue
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


class _Books:
    """A sender's database work: in threads of their own, or at once (for step).

    Claiming a batch and writing a group of outcomes wait for the database: on
    PostgreSQL a round trip per statement and the commit's flush to disk, on
    SQLite sometimes another sender's write lock. In threads of their own, each
    with a session of its own, the connections go on meanwhile; the sending thread
    asks (`ask`) and picks up the answers (`answers`), woken through a pipe. On
    PostgreSQL claims and each of the groups of outcomes that may wait are written
    on connections of their own, so one commit's flush does not hold up the
    others; SQLite writes one transaction at a time anyway, so there one thread
    does it all.
    """

    def __init__(self, sender: Sender, *, threaded: bool) -> None:
        self.sender = sender
        self.threaded = threaded
        self._answers: deque[tuple[str, Any]] = deque()
        self._groups = 0
        if threaded:
            self._wake_read, self._wake_write = os.pipe()
            os.set_blocking(self._wake_read, False)
            # PostgreSQL: claims in one lane, outcomes in two, so that both groups
            # that may wait (UNWRITTEN_GROUPS) are written at once.
            postgresql = db.engine.dialect.name == "postgresql"
            lanes = 1 + UNWRITTEN_GROUPS if postgresql else 1
            self._lanes: list[queue.SimpleQueue[tuple[str, tuple] | None]] = [
                queue.SimpleQueue() for _ in range(lanes)
            ]
            self._threads = [
                threading.Thread(
                    target=self._serve,
                    args=(lane,),
                    name=f"sender-books-{number}",
                    daemon=True,
                )
                for number, lane in enumerate(self._lanes)
            ]
            for thread in self._threads:
                thread.start()

    def ask(self, kind: str, *args: Any) -> None:
        """Ask for `kind` of work; its answer comes through `answers()`."""
        if self.threaded:
            lane = 0
            if kind == "record" and len(self._lanes) > 1:
                # Outcomes take turns in the lanes after the first (PostgreSQL).
                self._groups += 1
                lane = 1 + self._groups % (len(self._lanes) - 1)
            self._lanes[lane].put((kind, args))
        else:
            self._answers.append(self._do(kind, args))

    def answers(self) -> list[tuple[str, Any]]:
        """Return the answers that came in; raise what failed in the books."""
        taken = []
        while self._answers:
            kind, payload = self._answers.popleft()
            if kind == "failed":
                raise payload
            taken.append((kind, payload))
        return taken

    def has_answers(self) -> bool:
        """Tell whether answers wait to be picked up (the sender then does not wait)."""
        return bool(self._answers)

    def fileno(self) -> int:
        """Return the pipe that becomes readable when an answer comes in."""
        return self._wake_read

    def woken(self) -> None:
        """Empty the pipe after it woke the sending thread."""
        try:
            while os.read(self._wake_read, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        """Finish what was asked, then stop the thread."""
        if not self.threaded:
            return
        for lane in self._lanes:
            lane.put(None)
        for thread in self._threads:
            thread.join()
        for answer in self._answers:
            if answer[0] == "failed":
                log.error("the sender's books failed at the end: %s", answer[1])
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _do(self, kind: str, args: tuple) -> tuple[str, Any]:
        sender = self.sender
        if kind == "claim":
            limit, at = args
            return "claimed", sender._claim(limit, at or utcnow())
        if kind == "record":
            results, at = args
            sender.record(results, at or utcnow())
            return "recorded", len(results)
        if kind == "check":
            return "stopped", sender._stopped(*args)
        sender._give_back(*args)
        return "given back", None

    def _serve(self, lane: queue.SimpleQueue[tuple[str, tuple] | None]) -> None:
        with self.sender.app.app_context():
            try:
                while (request := lane.get()) is not None:
                    try:
                        answer = self._do(*request)
                    except Exception as error:  # noqa: BLE001 - raised in the sender
                        db.session.rollback()
                        answer = ("failed", error)
                    self._answers.append(answer)
                    os.write(self._wake_write, b"!")
            finally:
                db.session.remove()
