"""Exporting readers as CSV, streamed, with formula cells neutralised."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Select, func, select

from service.extensions import db
from service.subscribers.models import MailingList, Membership, Subscriber

#: cells starting with one of these are read as a formula by spreadsheet programs
#: (OWASP "CSV injection"); tab and carriage return can hide one behind them
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = ["email", "name", "province", "status", "locale", "created_at"]
LIST_COLUMNS = ["list_status", "confirmed_at", "unsubscribed_at"]

#: rows fetched from the database at a time while streaming
CHUNK = 1000


def neutralise(value: str) -> str:
    """Prefix a quote to a cell a spreadsheet would run as a formula."""
    if value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _moment(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") + "Z" if value else ""


def count_rows(query: Select) -> int:
    """Return how many readers an export of this query will hold."""
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return db.session.scalar(counted) or 0


def export_lines(
    query: Select, mailing_list: MailingList | None = None
) -> Iterator[str]:
    """Yield the CSV header and one line per reader, fetching in chunks.

    With a list, each line also says where the reader stands on that list.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([neutralise(cell) for cell in cells])
        return buffer.getvalue()

    yield line(COLUMNS + (LIST_COLUMNS if mailing_list else []))
    columns = [
        Subscriber.email,
        Subscriber.name,
        Subscriber.province,
        Subscriber.status,
        Subscriber.locale,
        Subscriber.created_at,
    ]
    if mailing_list is not None:
        statement = (
            query.with_only_columns(
                *columns,
                Membership.status,
                Membership.confirmed_at,
                Membership.unsubscribed_at,
            )
            .join(
                Membership,
                (Membership.subscriber_id == Subscriber.id)
                & (Membership.list_id == mailing_list.id),
            )
            .execution_options(yield_per=CHUNK)
        )
    else:
        statement = query.with_only_columns(*columns).execution_options(yield_per=CHUNK)
    for row in db.session.execute(statement):
        cells = [
            row[0],
            row[1],
            row[2],
            str(row[3]),
            row[4],
            _moment(row[5]),
        ]
        if mailing_list is not None:
            cells += [str(row[6]), _moment(row[7]), _moment(row[8])]
        yield line(cells)
