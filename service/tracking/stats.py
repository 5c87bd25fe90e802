"""The numbers editors look at after a send, per year and theme, and per list.

Queries only: each function reads and returns plain dataclasses; nothing is written.
Opens and clicks come from the hourly TrackingCount rows, which outlive the raw
events, so totals stay right after expiry. Unique readers exist only where the mode
allowed naming them (personal, consenting readers) and only while the raw events are
kept (TRACKING_EVENT_DAYS); otherwise they are None and the page says why.

How an unsubscribe is tied to a send (there is no send id in the unsubscribe link,
and there should not be: it would tell us which mail a reader acted on):
a reader's departure counts for the last send they received before it — the
delivery of that send was accepted (sent_at) at or before the "unsubscribed" event,
and no other delivery to them was accepted in between. Departures by an editor
("admin") or after a spam complaint ("complaint") are not the reader leaving
through an issue and are left out; complaints are counted apart. A reader counts
once however many lists they left. Erased readers take their history with them.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, distinct, exists, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, aliased

from service.delivery.bounce_models import BounceEvent
from service.delivery.models import Delivery, DeliveryStatus, Send
from service.editorial.models import Issue, Theme
from service.extensions import db
from service.subscribers.export import neutralise
from service.subscribers.models import (
    MailingList,
    Membership,
    Subscriber,
    SubscriberEvent,
)
from service.tracking.models import Link, TrackingCount, TrackingEvent

#: unsubscribes that are not a reader leaving because of an issue
NOT_THROUGH_AN_ISSUE = {"admin", "complaint"}
#: the first days after a send that the timeline covers
TIMELINE_DAYS = 7
#: the rows of a ranking of mail programs or click origins; the rest is one row
RANKING_ROWS = 10


@dataclass(frozen=True)
class Engagement:
    """Opens or clicks of a send: by people, by machines, and unique readers."""

    total: int  #: events counted as people's
    machine: int  #: link scanners and prefetchers, counted apart
    unique: int | None  #: distinct consenting readers; None where not knowable


@dataclass(frozen=True)
class LinkClicks:
    """One link of a send with its clicks, in the order of the message."""

    position: int
    text: str
    url: str
    clicks: int
    machine: int
    unique: int | None


@dataclass(frozen=True)
class SendStats:
    """What happened to one send."""

    send_id: int
    subject: str
    issue_id: int | None
    started_at: datetime
    recipients: int
    sent: int
    deferred: int
    failed: int
    bounced: int  #: deliveries with a hard or soft bounce
    complaints: int  #: deliveries reported as spam
    unsubscribed: int  #: readers who left after this send (see the module docstring)
    opens: Engagement
    clicks: Engagement
    #: sent-to readers who (now) agree to personal statistics
    consenting: int
    #: whether readers could be named: personal mode, or named events exist
    is_personal: bool
    #: the raw events of this send may have expired: unique numbers are gone
    events_expired: bool
    links: list[LinkClicks]

    @property
    def consenting_share(self) -> float:
        """Return the share of sent-to readers who agree to personal statistics."""
        return self.consenting / self.sent if self.sent else 0.0

    @property
    def most_clicks(self) -> int:
        """Return the clicks of the most clicked link (the full width of a bar)."""
        return max((link.clicks for link in self.links), default=0)


@dataclass(frozen=True)
class Bucket:
    """Opens and clicks (people only) in one period after a send started."""

    start: datetime  #: UTC
    opens: int
    clicks: int


@dataclass(frozen=True)
class MonthGrowth:
    """One list's arrivals and departures in one calendar month (local time)."""

    month: date  #: the first day of the month
    signups: int
    confirmations: int
    departures: int

    @property
    def net(self) -> int:
        """Return confirmations minus departures."""
        return self.confirmations - self.departures


@dataclass(frozen=True)
class ListGrowth:
    """A list and its months."""

    list_id: int
    name: str
    months: list[MonthGrowth]


@dataclass(frozen=True)
class IssueStats:
    """A send of an issue of the year, with its numbers."""

    issue_id: int
    label: str
    theme: str
    stats: SendStats


@dataclass(frozen=True)
class Tally:
    """How often one value (a user agent, a click's origin) came with events."""

    value: str  #: "" where none was sent
    count: int


@dataclass(frozen=True)
class Ranking:
    """The most frequent values among a send's raw events, people's and machines' apart.

    Read from the raw events, so it covers only what TRACKING_EVENT_DAYS keeps.
    """

    people: list[Tally]
    people_other: int  #: people's events with a value beyond the top rows
    machines: list[Tally]
    machines_other: int

    @property
    def is_empty(self) -> bool:
        """Tell whether no event was counted at all."""
        return not (self.people or self.machines)


@dataclass(frozen=True)
class Sources:
    """A send's opens by mail program and its clicks by origin (no reader named)."""

    mail_programs: Ranking  #: user agents of opens
    click_origins: Ranking  #: referrer origins of clicks


def _top(tallies: list[Tally], rows: int) -> tuple[list[Tally], int]:
    ranked = sorted(tallies, key=lambda t: (-t.count, t.value))
    return ranked[:rows], sum(t.count for t in ranked[rows:])


def ranking(
    send_id: int, kind: str, value: InstrumentedAttribute[str], *, rows: int
) -> Ranking:
    """Return the `rows` most frequent values of a column among a send's events."""
    people: list[Tally] = []
    machines: list[Tally] = []
    for text, is_machine, count in db.session.execute(
        select(value, TrackingEvent.is_machine, func.count())
        .where(TrackingEvent.send_id == send_id, TrackingEvent.kind == kind)
        .group_by(value, TrackingEvent.is_machine)
    ):
        (machines if is_machine else people).append(Tally(text, count))
    top_people, people_other = _top(people, rows)
    top_machines, machines_other = _top(machines, rows)
    return Ranking(top_people, people_other, top_machines, machines_other)


def send_sources(send_id: int, *, rows: int = RANKING_ROWS) -> Sources:
    """Return a send's opens per user agent and clicks per referrer origin."""
    return Sources(
        mail_programs=ranking(send_id, "open", TrackingEvent.user_agent, rows=rows),
        click_origins=ranking(send_id, "click", TrackingEvent.referrer, rows=rows),
    )


def _status_counts(send_id: int) -> dict[str, int]:
    return {
        str(status): count
        for status, count in db.session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.send_id == send_id)
            .group_by(Delivery.status)
        )
    }


def _bounces(send_id: int) -> tuple[int, int]:
    """Return deliveries with a bounce, and deliveries with a complaint."""
    deliveries = func.count(distinct(Delivery.id))
    bounced, complained = db.session.execute(
        select(
            deliveries.filter(BounceEvent.kind != "complaint"),
            deliveries.filter(BounceEvent.kind == "complaint"),
        )
        .join(Delivery, Delivery.id == BounceEvent.delivery_id)
        .where(Delivery.send_id == send_id)
    ).one()
    return bounced or 0, complained or 0


def unsubscribed_through(send_id: int) -> int:
    """Count readers whose departure falls to this send (see the module docstring)."""
    received = aliased(Delivery)
    later = aliased(Delivery)
    rows = db.session.execute(
        select(SubscriberEvent.subscriber_id, SubscriberEvent.detail)
        .join(
            received,
            and_(
                received.subscriber_id == SubscriberEvent.subscriber_id,
                received.send_id == send_id,
                received.status == DeliveryStatus.SENT,
                received.sent_at <= SubscriberEvent.created_at,
            ),
        )
        .where(
            SubscriberEvent.kind == "unsubscribed",
            ~exists().where(
                later.subscriber_id == received.subscriber_id,
                later.id != received.id,
                later.status == DeliveryStatus.SENT,
                later.sent_at > received.sent_at,
                later.sent_at <= SubscriberEvent.created_at,
            ),
        )
    )
    # The "via" lives in a JSON column; filtering it here keeps the query portable.
    return len(
        {
            subscriber_id
            for subscriber_id, detail in rows
            if (detail or {}).get("via") not in NOT_THROUGH_AN_ISSUE
        }
    )


def _counts(send_id: int) -> dict[tuple[int, str, bool], int]:
    """Return (link id or 0, kind, is_machine) -> count from the hourly counts."""
    return {
        (link_id, kind, bool(machine)): int(total)
        for link_id, kind, machine, total in db.session.execute(
            select(
                TrackingCount.link_id,
                TrackingCount.kind,
                TrackingCount.is_machine,
                func.sum(TrackingCount.count),
            )
            .where(TrackingCount.send_id == send_id)
            .group_by(
                TrackingCount.link_id, TrackingCount.kind, TrackingCount.is_machine
            )
        )
    }


def _unique(send_id: int) -> dict[tuple[str, int], int]:
    """Return (kind, link id or 0) -> distinct named readers, people only.

    Link 0 holds a kind's unique readers over all its links.
    """
    named = and_(
        TrackingEvent.send_id == send_id,
        TrackingEvent.subscriber_id.is_not(None),
        TrackingEvent.is_machine.is_(False),
    )
    result: dict[tuple[str, int], int] = {}
    for kind, readers in db.session.execute(
        select(TrackingEvent.kind, func.count(distinct(TrackingEvent.subscriber_id)))
        .where(named)
        .group_by(TrackingEvent.kind)
    ):
        result[(kind, 0)] = readers
    for link_id, readers in db.session.execute(
        select(TrackingEvent.link_id, func.count(distinct(TrackingEvent.subscriber_id)))
        .where(named, TrackingEvent.kind == "click")
        .group_by(TrackingEvent.link_id)
    ):
        result[("click", link_id)] = readers
    return result


def send_stats(send: Send, *, mode: str, now: datetime, event_days: int) -> SendStats:
    """Return a send's numbers; `mode` is TRACKING_MODE, `event_days` the expiry."""
    statuses = _status_counts(send.id)
    bounced, complaints = _bounces(send.id)
    counts = _counts(send.id)
    unique = _unique(send.id)
    is_personal = mode == "personal" or bool(unique)
    events_expired = send.created_at < now - timedelta(days=event_days)
    knowable = is_personal and not events_expired

    def engagement(kind: str) -> Engagement:
        total = sum(v for (_link, k, m), v in counts.items() if k == kind and not m)
        machine = sum(v for (_link, k, m), v in counts.items() if k == kind and m)
        return Engagement(
            total, machine, unique.get((kind, 0), 0) if knowable else None
        )

    links = [
        LinkClicks(
            position=link.position,
            text=link.text,
            url=link.url,
            clicks=counts.get((link.id, "click", False), 0),
            machine=counts.get((link.id, "click", True), 0),
            unique=unique.get(("click", link.id), 0) if knowable else None,
        )
        for link in db.session.scalars(
            select(Link).where(Link.send_id == send.id).order_by(Link.position, Link.id)
        )
    ]
    consenting = db.session.scalar(
        select(func.count())
        .select_from(Delivery)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(
            Delivery.send_id == send.id,
            Delivery.status == DeliveryStatus.SENT,
            Subscriber.tracking_consent.is_(True),
        )
    )
    issue_id = send.issue_id
    return SendStats(
        send_id=send.id,
        subject=send.subject,
        issue_id=issue_id,
        started_at=send.created_at,
        # The total frozen at the start: an erased reader's delivery is gone later.
        recipients=send.total or sum(statuses.values()),
        sent=statuses.get(DeliveryStatus.SENT, 0),
        deferred=statuses.get(DeliveryStatus.DEFERRED, 0),
        failed=statuses.get(DeliveryStatus.FAILED, 0)
        + statuses.get(DeliveryStatus.QUARANTINED, 0),
        bounced=bounced,
        complaints=complaints,
        unsubscribed=unsubscribed_through(send.id),
        opens=engagement("open"),
        clicks=engagement("click"),
        consenting=consenting or 0,
        is_personal=is_personal,
        events_expired=events_expired,
        links=links,
    )


def timeline_start(send: Send) -> datetime:
    """Return the hour the send's first message was accepted (else its start)."""
    first = db.session.scalar(
        select(func.min(Delivery.sent_at)).where(
            Delivery.send_id == send.id, Delivery.sent_at.is_not(None)
        )
    )
    moment = first or send.created_at
    return moment.replace(minute=0, second=0, microsecond=0)


def timeline(send: Send, *, hours: int, buckets: int) -> list[Bucket]:
    """Return people's opens and clicks per `hours` over `buckets` periods.

    Periods start at the hour of the first accepted message, so day 1 is the first
    24 hours after sending, whatever the time of day it went out.
    """
    start = timeline_start(send)
    end = start + timedelta(hours=hours * buckets)
    opens = [0] * buckets
    clicks = [0] * buckets
    for hour, kind, total in db.session.execute(
        select(TrackingCount.hour, TrackingCount.kind, func.sum(TrackingCount.count))
        .where(
            TrackingCount.send_id == send.id,
            TrackingCount.is_machine.is_(False),
            TrackingCount.hour >= start,
            TrackingCount.hour < end,
        )
        .group_by(TrackingCount.hour, TrackingCount.kind)
    ):
        index = int((hour - start).total_seconds() // 3600) // hours
        (opens if kind == "open" else clicks)[index] += int(total)
    return [
        Bucket(start + timedelta(hours=hours * i), opens[i], clicks[i])
        for i in range(buckets)
    ]


def year_bounds(year: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC start and end (naive, as stored) of a local calendar year."""
    return _utc(datetime(year, 1, 1, tzinfo=zone)), _utc(
        datetime(year + 1, 1, 1, tzinfo=zone)
    )


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def year_stats(
    year: int, *, theme_id: int | None, mode: str, now: datetime, event_days: int
) -> list[IssueStats]:
    """Return the sends of a year's issues (optionally of one theme), by number."""
    query = (
        select(Send, Issue, Theme)
        .join(Issue, Issue.id == Send.issue_id)
        .outerjoin(Theme, Theme.id == Issue.theme_id)
        .where(Issue.year == year)
        .order_by(Issue.number, Send.id)
    )
    if theme_id is not None:
        query = query.where(Issue.theme_id == theme_id)
    return [
        IssueStats(
            issue_id=issue.id,
            label=issue.label,
            theme=theme.name if theme else "",
            stats=send_stats(send, mode=mode, now=now, event_days=event_days),
        )
        for send, issue, theme in db.session.execute(query)
    ]


def months_of(year: int, today: date) -> list[date]:
    """Return the first days of the year's months, up to this month for this year."""
    last = today.month if year == today.year else 12
    return [date(year, month, 1) for month in range(1, last + 1)]


def list_growth(year: int, *, zone: ZoneInfo, today: date) -> list[ListGrowth]:
    """Return, per list, signups, confirmations and departures per local month.

    The months are calendar months in `zone` (Europe/Amsterdam), so a signup at
    23:30 UTC on 31 January counts in February. A membership's moments are its own
    columns: signing up again later clears unsubscribed_at, so a departure that was
    undone no longer counts.
    """
    start, end = year_bounds(year, zone)
    months = months_of(year, today)
    tallies: dict[int, dict[date, list[int]]] = defaultdict(
        lambda: {month: [0, 0, 0] for month in months}
    )

    def tally(list_id: int, moment: datetime | None, column: int) -> None:
        if moment is None or not start <= moment < end:
            return
        local = moment.replace(tzinfo=UTC).astimezone(zone)
        month = date(local.year, local.month, 1)
        if month in tallies[list_id]:
            tallies[list_id][month][column] += 1

    window = or_(
        and_(Membership.created_at >= start, Membership.created_at < end),
        and_(Membership.confirmed_at >= start, Membership.confirmed_at < end),
        and_(Membership.unsubscribed_at >= start, Membership.unsubscribed_at < end),
    )
    for list_id, created, confirmed, left in db.session.execute(
        select(
            Membership.list_id,
            Membership.created_at,
            Membership.confirmed_at,
            Membership.unsubscribed_at,
        ).where(window)
    ):
        tally(list_id, created, 0)
        tally(list_id, confirmed, 1)
        tally(list_id, left, 2)
    lists = db.session.scalars(
        select(MailingList).order_by(MailingList.position, MailingList.name)
    )
    return [
        ListGrowth(
            list_id=item.id,
            name=item.name,
            months=[MonthGrowth(month, *tallies[item.id][month]) for month in months],
        )
        for item in lists
    ]


#: the CSV's columns; the same rows are printed by `flask stats`
CSV_HEADER = ["metric", "value", "machine", "position", "text", "url"]


def _ranking_rows(metric: str, ranking: Ranking, *, in_url: bool) -> list[list[str]]:
    """Return a ranking as rows: people's count in value, machines' in machine."""

    def row(value: str, machine: str, text: str) -> list[str]:
        return [
            metric,
            value,
            machine,
            "",
            "" if in_url else text,
            text if in_url else "",
        ]

    return [
        *(row(str(t.count), "", t.value) for t in ranking.people),
        *(row("", str(t.count), t.value) for t in ranking.machines),
        [
            f"{metric}_other",
            str(ranking.people_other),
            str(ranking.machines_other),
            "",
            "",
            "",
        ],
    ]


def csv_rows(stats: SendStats, sources: Sources | None = None) -> list[list[str]]:
    """Return a send's numbers as CSV rows (without the header), per link last.

    Unique numbers are empty where they are not knowable, never a misleading 0.
    With `sources`, the mail programs (user agent in text) and click origins (in
    url) of the kept raw events follow the links.
    """

    def known(value: int | None) -> str:
        return "" if value is None else str(value)

    rows = [
        ["recipients", str(stats.recipients), "", "", "", ""],
        ["sent", str(stats.sent), "", "", "", ""],
        ["deferred", str(stats.deferred), "", "", "", ""],
        ["failed", str(stats.failed), "", "", "", ""],
        ["bounced", str(stats.bounced), "", "", "", ""],
        ["complaints", str(stats.complaints), "", "", "", ""],
        ["unsubscribed", str(stats.unsubscribed), "", "", "", ""],
        ["opens", str(stats.opens.total), str(stats.opens.machine), "", "", ""],
        ["unique_opens", known(stats.opens.unique), "", "", "", ""],
        ["clicks", str(stats.clicks.total), str(stats.clicks.machine), "", "", ""],
        ["unique_clicks", known(stats.clicks.unique), "", "", "", ""],
        ["consenting_readers", str(stats.consenting), "", "", "", ""],
    ]
    for link in stats.links:
        rows.append(
            [
                "link_clicks",
                str(link.clicks),
                str(link.machine),
                str(link.position + 1),
                link.text,
                link.url,
            ]
        )
    if sources is not None:
        rows += _ranking_rows("mail_program", sources.mail_programs, in_url=False)
        rows += _ranking_rows("click_origin", sources.click_origins, in_url=True)
    return rows


def csv_text(stats: SendStats, sources: Sources | None = None) -> str:
    """Return the CSV file of a send's numbers, formula cells neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in csv_rows(stats, sources):
        writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue()
