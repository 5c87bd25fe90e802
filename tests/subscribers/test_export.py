"""CSV export: formula cells neutralised, lists and filters, streamed."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask

from service.subscribers import export
from service.subscribers.models import SubscriberStatus
from service.subscribers.operations import SubscriberFilter, search_subscribers
from tests.conftest import make_list, make_subscriber


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+31 6 1234", "'+31 6 1234"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("Jan = Piet", "Jan = Piet"),
        ("", ""),
    ],
)
def test_cells_a_spreadsheet_would_run_as_formulas_get_a_quote(
    cell: str, written: str
) -> None:
    assert export.neutralise(cell) == written


def read(lines: list[str]) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(lines))))


def test_an_export_of_a_list_says_where_each_reader_stands_on_it(app: Flask) -> None:
    newsletter = make_list()
    other = make_list("brieven", "Brieven")
    make_subscriber(
        "jan@example.nl", name="@jan", lists=[newsletter], province="Utrecht"
    )
    make_subscriber("piet@example.nl", lists=[other])
    query = search_subscribers(SubscriberFilter(list_id=newsletter.id))
    rows = read(list(export.export_lines(query, newsletter)))
    assert rows[0][:4] == ["email", "name", "province", "status"]
    assert rows[0][-3:] == ["list_status", "confirmed_at", "unsubscribed_at"]
    assert rows[1][:5] == ["jan@example.nl", "'@jan", "Utrecht", "active", "nl"]
    assert rows[1][6] == "active"
    assert len(rows) == 2


def test_an_export_of_a_filter_holds_only_the_matching_readers(app: Flask) -> None:
    make_subscriber("jan@example.nl", province="Drenthe")
    make_subscriber("piet@example.nl", province="Utrecht")
    make_subscriber(
        "kees@example.nl", province="Drenthe", status=SubscriberStatus.BOUNCED
    )
    query = search_subscribers(SubscriberFilter(province="Drenthe", status="active"))
    rows = read(list(export.export_lines(query)))
    assert [row[0] for row in rows[1:]] == ["jan@example.nl"]
    assert export.count_rows(query) == 1


def test_the_longest_name_and_line_breaks_stay_in_one_cell(
    app: Flask,
) -> None:
    make_subscriber("jan@example.nl", name="J" * 200)
    make_subscriber("piet@example.nl", name="Piet\r\nBcc: x@example.org")
    rows = read(list(export.export_lines(search_subscribers(SubscriberFilter()))))
    assert {row[0]: row[1] for row in rows[1:]} == {
        "jan@example.nl": "J" * 200,
        "piet@example.nl": "Piet\r\nBcc: x@example.org",
    }
