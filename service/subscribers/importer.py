"""Importing readers from a CSV file: parsing, checking each line, batch inserts.

The file is streamed (a csv reader over a text wrapper), so memory stays flat however
long it is; rows are handled in batches with one query per batch for suppressions and
bulk inserts that skip known addresses and return the new ids. `read_rows` is pure;
`import_batches` flushes and leaves commits to the caller, who commits (and mails
confirmations) between batches.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import IO, Any, NamedTuple

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from flask_babel import gettext as _
from sqlalchemy import Column, Table, and_, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import selectinload

from service.errors import DomainError
from service.extensions import db
from service.subscribers import notices, operations
from service.subscribers.addresses import InvalidAddress, email_hash, normalise_email
from service.subscribers.consent import CURRENT_VERSION, consent_text, text_hash
from service.subscribers.models import (
    ConsentMethod,
    ConsentRecord,
    MailingList,
    Membership,
    MembershipStatus,
    Subscriber,
    SubscriberStatus,
    Suppression,
    new_uid,
)

#: rows per batch: one lookup per table and one insert per table for each batch
BATCH_SIZE = 5000
#: values bound in one statement: under SQLite's limit (32,766 since 3.32) and
#: PostgreSQL's (65,535)
MAX_PARAMETERS = 32_000
PROVINCE_LIMIT = 40
#: a quoted cell may span lines, but a record longer than this has a stray quote
MAX_RECORD_LINES = 5

#: header names we recognise, compared without case, spaces, dashes, dots, underscores
EMAIL_HEADERS = {
    "email",
    "emailadres",
    "emailaddress",
    "mail",
    "mailadres",
    "mailaddress",
    "adres",
}
NAME_HEADERS = {"name", "naam", "fullname", "volledigenaam", "displayname"}
FIRST_NAME_HEADERS = {"firstname", "voornaam", "givenname"}
LAST_NAME_HEADERS = {"lastname", "achternaam", "surname", "familienaam"}
PROVINCE_HEADERS = {"province", "provincie", "prov", "region", "regio"}

#: what our own export puts a quote before (CSV injection guard), taken off again
_NEUTRALISED_STARTS = frozenset("=+-@\t\r")

#: plain ASCII addresses that email_validator would accept unchanged (after lower()).
#: Checking them here skips ~70 µs of validation per row; anything else, including
#: every IDN, quoted or unusual address, goes through normalise_email.
_PLAIN_ADDRESS = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z])?"
)


SUBSCRIBERS: Table = Subscriber.__table__  # type: ignore[assignment]
MEMBERSHIPS: Table = Membership.__table__  # type: ignore[assignment]
CONSENT_RECORDS: Table = ConsentRecord.__table__  # type: ignore[assignment]
SUPPRESSIONS: Table = Suppression.__table__  # type: ignore[assignment]


#: a cell that is an address on its own (a loose check, only to spot stray quotes)
_LOOKS_LIKE_ADDRESS = re.compile(r"[^\s@\"]+@[^\s@\"]+\.[^\s@\"]+")


class ImportFileError(DomainError):
    """The file as a whole cannot be imported (no e-mail column, not text)."""


class Row(NamedTuple):
    """One usable line of the file, already checked and normalised."""

    line: int
    email: str
    name: str
    province: str


class RowProblem(NamedTuple):
    """One line that was not imported, with its number and the reason, for people."""

    line: int
    reason: str


@dataclass(frozen=True)
class Columns:
    """Where the fields are in each record (indexes; None when absent)."""

    email: int
    name: int | None = None
    first_name: int | None = None
    last_name: int | None = None
    province: int | None = None
    has_header: bool = False


def _header_key(cell: str) -> str:
    return re.sub(r"[\s\-_.]", "", cell.strip().lower())


def detect_columns(first: list[str]) -> Columns:
    """Find the columns from the first record: a header, or the first address cell."""
    keys = [_header_key(cell) for cell in first]

    def find(names: set[str]) -> int | None:
        return next((i for i, key in enumerate(keys) if key in names), None)

    email = find(EMAIL_HEADERS)
    if email is not None:
        return Columns(
            email=email,
            name=find(NAME_HEADERS),
            first_name=find(FIRST_NAME_HEADERS),
            last_name=find(LAST_NAME_HEADERS),
            province=find(PROVINCE_HEADERS),
            has_header=True,
        )
    email = next((i for i, cell in enumerate(first) if "@" in cell), None)
    if email is None:
        raise ImportFileError(
            _(
                "Geen kolom met e-mailadressen gevonden. Geef de kolom de kop "
                "‘e-mailadres’ (of ‘email’), of zet de adressen in de eerste kolom."
            )
        )
    # Without a header only the address is certain; the first other column is
    # taken as the name, as in the usual "address, name" or "name, address" lists.
    name = next((i for i in range(len(first)) if i != email), None)
    return Columns(email=email, name=name)


def sniff_delimiter(first_line: str) -> str:
    """Return ';' or ',' whichever separates the first line more often."""
    return ";" if first_line.count(";") > first_line.count(",") else ","


def quick_normalise(raw: str) -> str | None:
    """Return the stored form of a plain ASCII address, or None to ask the validator."""
    candidate = raw.strip().lower()
    if len(candidate) > 254 or not _PLAIN_ADDRESS.fullmatch(candidate):
        return None
    local, _at, domain = candidate.partition("@")
    if len(local) > 64 or "--" in domain:
        return None  # R-LDH and Punycode labels: leave them to the validator
    top = domain.rsplit(".", 1)[-1]
    if top in SPECIAL_USE_DOMAIN_NAMES:
        return None
    return candidate


def _cell(record: list[str], index: int | None) -> str:
    if index is None or index >= len(record):
        return ""
    value = record[index]
    if value[:1] == "'" and value[1:2] and value[1] in _NEUTRALISED_STARTS:
        return value[1:]
    return value


def _check(record: list[str], line: int, columns: Columns) -> Row | RowProblem:
    """Turn one CSV record into a Row, or say why it cannot be imported."""
    if columns.email >= len(record):
        return RowProblem(
            line,
            _("te weinig kolommen (%(found)s, verwacht %(expected)s)")
            % {"found": len(record), "expected": columns.email + 1},
        )
    raw_email = _cell(record, columns.email).strip()
    if not raw_email:
        return RowProblem(line, _("geen e-mailadres"))
    address = quick_normalise(raw_email)
    if address is None:
        try:
            address = normalise_email(raw_email)
        except InvalidAddress:
            shown = " ".join(raw_email.split())[:80]
            return RowProblem(
                line, _("ongeldig e-mailadres: %(email)s") % {"email": shown}
            )
    raw_name = _cell(record, columns.name)
    if not raw_name and (columns.first_name is not None or columns.last_name):
        raw_name = " ".join(
            (_cell(record, columns.first_name), _cell(record, columns.last_name))
        )
    # Names go into mail headers: clean_name folds \r\n and tabs into single spaces.
    name = " ".join(raw_name.replace("\x00", " ").split())
    if len(name) > operations.NAME_LIMIT:
        return RowProblem(
            line,
            _("naam is %(length)s tekens lang; het maximum is %(limit)s")
            % {"length": len(name), "limit": operations.NAME_LIMIT},
        )
    province = " ".join(_cell(record, columns.province).split())
    if len(province) > PROVINCE_LIMIT:
        return RowProblem(
            line,
            _("provincie is langer dan %(limit)s tekens") % {"limit": PROVINCE_LIMIT},
        )
    return Row(line=line, email=address, name=name, province=province)


def text_stream(binary: IO[bytes]) -> io.TextIOWrapper:
    """Wrap an uploaded or opened file as UTF-8 text, with or without a BOM.

    Undecodable bytes become U+FFFD so that the line they are on is reported,
    instead of one bad byte stopping the whole import.
    """
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")


def read_rows(text: IO[str]) -> Iterator[Row | RowProblem]:
    """Yield each record of a CSV text stream as a Row or a RowProblem, in order."""
    blank = 0
    first_line = text.readline()
    while first_line and not first_line.strip():
        blank += 1
        first_line = text.readline()
    if not first_line:
        raise ImportFileError(_("Het bestand is leeg."))
    delimiter = sniff_delimiter(first_line)
    columns: Columns | None = None
    numbered = enumerate(_chain_first(first_line, text), start=blank + 1)
    for line, record in _records(numbered, delimiter):
        if isinstance(record, RowProblem):
            yield record
            continue
        if not any(cell.strip() for cell in record):
            continue
        if columns is None:
            columns = detect_columns(record)
            if columns.has_header:
                continue
        yield _check(record, line, columns)


def _records(
    numbered: Iterator[tuple[int, str]], delimiter: str
) -> Iterator[tuple[int, list[str] | RowProblem]]:
    """Yield (first line, cells) per record; an unclosed quote spoils one line only.

    A quoted cell may hold line breaks, so a record may span lines. A stray quote
    would otherwise swallow the rest of the file into one cell: when the quote is
    still open after MAX_RECORD_LINES lines (or at the end), or the joined record
    took in other addresses, the first line is reported as broken and reading
    starts again on the line after it.
    """
    waiting: list[tuple[int, str]] = []  #: lines read again after a broken one
    held: list[tuple[int, str]] = []  #: the lines of the record being read
    quotes = 0
    while True:
        if waiting:
            item = waiting.pop(0)
        else:
            item = next(numbered, None)
            if item is None:
                if not held:
                    return
                # The file ended inside a quoted cell.
                yield held[0][0], _unclosed(held[0][0])
                waiting.extend(held[1:])
                held, quotes = [], 0
                continue
        if "\ufffd" in item[1]:
            # Undecodable bytes (see text_stream): this line only is reported.
            yield (
                item[0],
                RowProblem(item[0], _("deze regel is geen geldige UTF-8-tekst")),
            )
            continue
        if not held and '"' not in item[1]:
            # Most lines hold no quotes: splitting is exact and much faster.
            yield item[0], item[1].rstrip("\r\n").split(delimiter)
            continue
        held.append(item)
        quotes += item[1].count('"')
        if quotes % 2 == 0:
            text = "".join(part for _number, part in held)
            cells = next(csv.reader([text], delimiter=delimiter), [])
            if len(held) == 1 or not _swallowed_lines(held[1:], delimiter):
                yield held[0][0], cells
                held, quotes = [], 0
                continue
        elif len(held) < MAX_RECORD_LINES:
            continue  # inside a quoted cell that spans lines
        yield held[0][0], _unclosed(held[0][0])
        waiting[:0] = held[1:]
        held, quotes = [], 0


def _swallowed_lines(lines: list[tuple[int, str]], delimiter: str) -> bool:
    """Tell whether a record spanning lines took in lines that are records themselves.

    A line break inside a quoted name is fine; a following line with a cell that is
    an address on its own means a stray quote joined separate records.
    """
    for _number, text in lines:
        for cell in text.split(delimiter):
            if _LOOKS_LIKE_ADDRESS.fullmatch(cell.strip().strip('"').strip()):
                return True
    return False


def _chain_first(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


def _unclosed(line: int) -> RowProblem:
    return RowProblem(line, _("aanhalingsteken niet gesloten; regel overgeslagen"))


@dataclass
class ImportReport:
    """What an import did, counted as it goes; bad lines listed with their reason."""

    imported: int = 0  #: new readers
    added: int = 0  #: known readers put on the list
    already: int = 0  #: already on the list (or waiting to confirm it)
    suppressed: int = 0  #: erased or blocked addresses, never brought back
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Return how many lines were not imported for any reason."""
        return len(self.problems)


@dataclass(frozen=True)
class ImportSettings:
    """Who imports what into which list, and on what grounds."""

    mailing_list: MailingList
    #: "Name <email>" of the account, or "cli"
    attested_by: str
    #: where the consent came from, as stated by the importer; None: ask by mail
    consent_source: str | None
    #: the file name, kept as the source of pending consent records
    file_name: str
    org_name: str
    locale: str
    now: datetime


def _batches(rows: Iterable[Row | RowProblem], size: int) -> Iterator[list]:
    batch: list[Row | RowProblem] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_batches(
    rows: Iterable[Row | RowProblem],
    settings: ImportSettings,
    report: ImportReport,
    batch_size: int = BATCH_SIZE,
) -> Iterator[list[int]]:
    """Import rows batch by batch (flushing each); yield the ids of readers to mail.

    New readers are inserted in bulk. Readers already known are put on the list
    through the same operation as an editor's addition, unless they left it, left
    everything, bounced or complained: an old file must not undo a departure.
    """
    shown_hash = text_hash(consent_text(settings.org_name, settings.locale))
    for batch in _batches(rows, batch_size):
        yield _import_batch(batch, settings, report, shown_hash)


def _import_batch(
    batch: list[Row | RowProblem],
    settings: ImportSettings,
    report: ImportReport,
    shown_hash: str,
) -> list[int]:
    rows: dict[str, Row] = {}
    for item in batch:
        if isinstance(item, RowProblem):
            report.problems.append(item)
        elif item.email in rows:
            report.problems.append(_duplicate(item, rows[item.email].line))
        else:
            rows[item.email] = item
    if not rows:
        return []

    hashes = {email_hash(address): address for address in rows}
    for digest in _existing(SUPPRESSIONS.c.email_hash, list(hashes)):
        row = rows.pop(hashes[digest])
        report.suppressed += 1
        report.problems.append(
            RowProblem(
                row.line,
                _("adres is gewist of geblokkeerd; wordt niet opnieuw toegevoegd"),
            )
        )

    # New readers go in first; the insert passes over addresses already known, so
    # a new address costs the insert's own index lookup and no other. Only the
    # addresses it passed over are looked up, to put known readers on the list.
    new = _insert_new(list(rows.values()), settings, shown_hash) if rows else {}
    for address in new:
        del rows[address]
    report.imported += len(new)
    to_mail: list[int] = []
    if rows:
        to_mail = _add_known_rows(rows, settings, report)
    if settings.consent_source is None:
        to_mail.extend(new.values())
    db.session.flush()
    return to_mail


def _add_known_rows(
    rows: dict[str, Row], settings: ImportSettings, report: ImportReport
) -> list[int]:
    """Put known readers on the list where allowed; return the ids to mail."""
    mailing_list = settings.mailing_list
    now = settings.now
    known = db.session.execute(
        select(
            Subscriber.id,
            Subscriber.email,
            Subscriber.status,
            Membership.status,
            Membership.created_at,
        )
        .outerjoin(
            Membership,
            and_(
                Membership.subscriber_id == Subscriber.id,
                Membership.list_id == mailing_list.id,
            ),
        )
        .where(Subscriber.email.in_(list(rows)))
    ).all()
    to_mail: list[int] = []
    to_add: list[tuple[int, Row]] = []
    for subscriber_id, address, status, membership_status, joined_at in known:
        row = rows.pop(address)
        if joined_at is None or joined_at != now:
            if membership_status in (MembershipStatus.ACTIVE, MembershipStatus.PENDING):
                report.already += 1  # a re-import is normal, not a bad line
                continue
        reason = _reason_to_skip(status, membership_status, joined_at, now)
        if reason is None:
            to_add.append((subscriber_id, row))
        else:
            report.problems.append(RowProblem(row.line, reason))
    for subscriber_id, row in to_add:
        if _add_known(subscriber_id, row, settings):
            to_mail.append(subscriber_id)
        report.added += 1
    return to_mail


def _duplicate(row: Row, first_line: int) -> RowProblem:
    return RowProblem(
        row.line,
        _("dubbel: dit adres staat al op regel %(line)s") % {"line": first_line},
    )


def _reason_to_skip(
    status: str,
    membership_status: str | None,
    joined_at: datetime | None,
    now: datetime,
) -> str | None:
    """Say why a known reader is not put on the list, or None to add them."""
    if joined_at is not None and joined_at == now:
        # Put on the list by this very import, from an earlier batch.
        return _("dubbel: dit adres staat eerder in dit bestand")
    if membership_status in (MembershipStatus.ACTIVE, MembershipStatus.PENDING):
        return _("staat al op deze lijst")
    if membership_status == MembershipStatus.UNSUBSCRIBED:
        return _("heeft zich voor deze lijst afgemeld; wordt niet opnieuw aangemeld")
    if status == SubscriberStatus.UNSUBSCRIBED:
        return _("heeft zich voor alles afgemeld; wordt niet opnieuw aangemeld")
    if status in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED):
        return _("dit adres is onbestelbaar of heeft over spam geklaagd")
    return None


def _add_known(subscriber_id: int, row: Row, settings: ImportSettings) -> bool:
    """Put a known reader on the list; True when a confirmation mail should go."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    assert subscriber is not None
    if row.name and not subscriber.name:
        subscriber.name = row.name
    if row.province and not subscriber.province:
        subscriber.province = row.province
    outcome = operations.add_to_lists(
        subscriber,
        [settings.mailing_list],
        confirmed=settings.consent_source is not None,
        source=settings.consent_source or _pending_source(settings),
        method=ConsentMethod.IMPORT
        if settings.consent_source is not None
        else ConsentMethod.DOUBLE_OPT_IN,
        attested_by=settings.attested_by,
        org_name=settings.org_name,
        now=settings.now,
    )
    return outcome.send_confirmation


def _pending_source(settings: ImportSettings) -> str:
    return f"import: {settings.file_name}"[:500]


def _insert_new(
    rows: list[Row], settings: ImportSettings, shown_hash: str
) -> dict[str, int]:
    """Insert the new readers among rows, with membership and consent record.

    Rows whose address is taken are passed over. Return {address: id} of the
    readers inserted, in file order.
    """
    confirmed = settings.consent_source is not None
    mailing_list = settings.mailing_list
    readers = BulkInsert(SUBSCRIBERS, SUBSCRIBER_KEYS)
    now = readers.bind("created_at", settings.now)
    status = SubscriberStatus.ACTIVE if confirmed else SubscriberStatus.PENDING
    sent_at = None if confirmed else now
    attributes: dict[str, object] = {}  #: province -> bound JSON, few distinct ones
    for row in rows:
        if row.province not in attributes:
            value = {"province": row.province} if row.province else {}
            attributes[row.province] = readers.bind("attributes", value)
    # Every uid keeps all of new_uid's random bits; a random prefix shared by the
    # batch puts its uids next to each other in the uid index. Without it each
    # uid lands on a page of its own: at 1M readers the index outgrows SQLite's
    # page cache and every commit rewrites thousands of index pages (a fifth of
    # the import's time at 1M rows, see docs/benchmarks.md).
    prefix = secrets.token_urlsafe(3)
    inserted = readers.run_new(
        [
            (
                prefix + new_uid(),
                row.email,
                row.name,
                status,
                settings.locale,
                attributes[row.province],
                row.province,
                now,
                now,
                sent_at,
                None if confirmed else secrets.token_urlsafe(12),
            )
            for row in rows
        ],
        unique="email",
    )
    subscriber_ids = list(inserted.values())

    membership = (
        mailing_list.id,
        MembershipStatus.ACTIVE if confirmed else MembershipStatus.PENDING,
        now,
        now if confirmed else None,
    )
    BulkInsert(MEMBERSHIPS, MEMBERSHIP_KEYS).run(
        [(subscriber_id, *membership) for subscriber_id in subscriber_ids]
    )
    record = (
        mailing_list.id,
        mailing_list.name,
        CURRENT_VERSION,
        shown_hash,
        (settings.consent_source or _pending_source(settings))[:500],
        ConsentMethod.IMPORT if confirmed else ConsentMethod.DOUBLE_OPT_IN,
        settings.attested_by,
        now,
        now if confirmed else None,
        "import" if confirmed else None,
    )
    BulkInsert(CONSENT_RECORDS, CONSENT_KEYS).run(
        [(subscriber_id, *record) for subscriber_id in subscriber_ids]
    )
    return inserted


#: the columns _insert_new gives, in the order of its tuples
SUBSCRIBER_KEYS = (
    "uid",
    "email",
    "name",
    "status",
    "locale",
    "attributes",
    "province",
    "created_at",
    "updated_at",
    "confirmation_sent_at",
    "confirmation_nonce",
)
MEMBERSHIP_KEYS = ("subscriber_id", "list_id", "status", "created_at", "confirmed_at")
CONSENT_KEYS = (
    "subscriber_id",
    "list_id",
    "list_name",
    "text_version",
    "text_hash",
    "source",
    "method",
    "attested_by",
    "requested_at",
    "confirmed_at",
    "confirmation_method",
)


class BulkInsert:
    """One table's INSERT, compiled once, run as a single DBAPI executemany.

    `session.execute(insert(table), rows)` builds every row's parameters through
    the compiler, which costs three to four times the database's own work at
    this size. Here values are bound by the caller through `bind` (dates on
    SQLite, JSON) once per distinct value, and rows are plain tuples in `keys`
    order. Columns the caller does not give get their constant Python-side default
    (so a column added later with a default does not break the import); columns
    with a callable default must be given.
    """

    def __init__(self, table: Table, given: tuple[str, ...]) -> None:
        self.connection = db.session.connection()
        dialect = self.connection.dialect
        self.table = table
        self.dialect = dialect
        defaults = {
            column.key: column.default.arg
            for column in table.columns
            if column.key not in given
            and column.default is not None
            and column.default.is_scalar
        }
        self.constants = tuple(self.bind(key, value) for key, value in defaults.items())
        keys = given + tuple(defaults)
        self.keys = keys
        self.compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
        order = tuple(self.compiled.positiontup or ())
        #: positions to reorder tuples into the statement's order, when it differs
        self.reorder = (
            itemgetter(*(keys.index(key) for key in order))
            if self.compiled.positional and order != keys
            else None
        )

    def bind(self, key: str, value: object) -> object:
        """Return a value as the database driver takes it for this column."""
        column_type = self.table.c[key].type.dialect_impl(self.dialect)
        process = column_type.bind_processor(self.dialect)
        return process(value) if process and value is not None else value

    def run(self, rows: list[tuple]) -> None:
        """Insert the rows (tuples in `keys` order, values already bound)."""
        if not rows:
            return
        if self.constants:
            rows = [row + self.constants for row in rows]
        if not self.compiled.positional:
            params: list[Any] = [dict(zip(self.keys, row, strict=True)) for row in rows]
        elif self.reorder is not None:
            params = [self.reorder(row) for row in rows]
        else:
            params = rows
        self.connection.exec_driver_sql(str(self.compiled), params)

    def run_new(self, rows: list[tuple], unique: str) -> dict[Any, int]:
        """Insert the rows whose `unique` value is free; return {value: id} of those.

        Multi-row INSERT … ON CONFLICT (unique) DO NOTHING RETURNING statements
        (SQLite 3.35 or later, PostgreSQL) hand back the new ids, so no second
        lookup is needed; rows that clash are left out of the insert and of the
        answer. RETURNING promises no order, so ids are matched to rows by the
        unique value, and the answer follows the order of `rows`.
        """
        if not rows:
            return {}
        if not self.dialect.insert_returning:
            raise RuntimeError("the import needs SQLite 3.35 or later (RETURNING)")
        if self.constants:
            rows = [row + self.constants for row in rows]
        quote = self.dialect.identifier_preparer.quote
        table = self.dialect.identifier_preparer.format_table(self.table)
        columns = ", ".join(quote(self.table.c[key].name) for key in self.keys)
        key_name = quote(self.table.c[unique].name)
        id_name = quote(self.table.c.id.name)
        group = "(" + ", ".join([_placeholder(self.dialect)] * len(self.keys)) + ")"
        ids: dict[Any, int] = {}
        step = MAX_PARAMETERS // len(self.keys)
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            statement = (
                f"INSERT INTO {table} ({columns}) VALUES "
                + ", ".join([group] * len(chunk))
                + f" ON CONFLICT ({key_name}) DO NOTHING"
                + f" RETURNING {key_name}, {id_name}"
            )
            result = self.connection.exec_driver_sql(
                statement, tuple(chain.from_iterable(chunk))
            )
            ids.update(result.all())
        position = self.keys.index(unique)
        values = (row[position] for row in rows)
        return {value: ids[value] for value in values if value in ids}


def _placeholder(dialect: Dialect) -> str:
    """Return the driver's positional placeholder: ? for sqlite3, %s for psycopg."""
    if dialect.paramstyle == "qmark":
        return "?"
    if dialect.paramstyle in ("format", "pyformat"):
        return "%s"
    raise RuntimeError(f"unsupported parameter style {dialect.paramstyle}")


def _existing(column: Column, values: list[str]) -> set[str]:
    """Return which of the values are in a column, in one query per MAX_PARAMETERS.

    The values are plain strings, bound as they are: SQLAlchemy's expanding IN
    names and processes each of a batch's 5,000 values on every query, which cost
    the 1M-row import three times as much as this query.
    """
    connection = db.session.connection()
    quote = connection.dialect.identifier_preparer.quote
    table = connection.dialect.identifier_preparer.format_table(column.table)
    name = quote(column.name)
    mark = _placeholder(connection.dialect)
    found: set[str] = set()
    for start in range(0, len(values), MAX_PARAMETERS):
        chunk = values[start : start + MAX_PARAMETERS]
        statement = (
            f"SELECT {name} FROM {table} WHERE {name} IN "
            f"({', '.join([mark] * len(chunk))})"
        )
        found.update(connection.exec_driver_sql(statement, tuple(chunk)).scalars())
    return found


def send_confirmations(subscriber_ids: list[int]) -> int:
    """Mail the confirmation link to each reader of a committed batch; return how many.

    One mail per reader, with the nonce the import stored; the hourly limit of
    operations.CONFIRMATION_INTERVAL was applied when the nonce was set.
    """
    sent = 0
    for start in range(0, len(subscriber_ids), 500):
        chunk = subscriber_ids[start : start + 500]
        query = (
            select(Subscriber)
            .where(Subscriber.id.in_(chunk))
            .options(selectinload(Subscriber.memberships))
        )
        for subscriber in db.session.scalars(query):
            notices.send_confirmation(subscriber)
            sent += 1
    return sent
