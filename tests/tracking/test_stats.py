"""The statistics editors read: per send, per year and theme, per list; CSV and CLI."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from html import escape, unescape

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from service.audit import AuditLog
from service.db import utcnow
from service.delivery.bounce_models import BounceEvent
from service.delivery.models import Delivery, DeliveryStatus, Send, SendStatus
from service.editorial.models import Issue, IssueStatus, Theme
from service.extensions import db
from service.security import Role
from service.subscribers import operations as subscribers
from service.subscribers.models import (
    MailingList,
    Membership,
    MembershipStatus,
    Subscriber,
)
from service.tracking import links as tokens
from service.tracking.models import Link, TrackingCount, TrackingEvent
from service.tracking.operations import keys
from tests.conftest import login, make_list, make_subscriber, make_user
from tests.tracking.conftest import CIJFERS, RAPPORT, send_issue, written

STAT = re.compile(r'data-stat="([a-z_]+)">([^<]*)<')


def _numbers(page: str) -> dict[str, str]:
    return dict(STAT.findall(page))


def _issue(year: int, number: int, theme: Theme | None = None) -> Issue:
    issue = Issue(
        year=year,
        number=number,
        theme_id=theme.id if theme else None,
        title=f"Nummer {number}",
        status=IssueStatus.SENT,
    )
    db.session.add(issue)
    db.session.flush()
    return issue


def _send(
    issue: Issue | None,
    readers: dict[Subscriber, DeliveryStatus],
    *,
    at: datetime,
    links: list[tuple[str, str]] = (),  # type: ignore[assignment]
    mailing_list: MailingList | None = None,
) -> Send:
    """Add a finished send with one delivery per reader and its links in order."""
    send = Send(
        issue_id=issue.id if issue else None,
        list_id=mailing_list.id if mailing_list else None,
        subject=issue.title if issue else "Een brief",
        html="",
        text="",
        from_address="nieuwsbrief@postbode.nl",
        status=SendStatus.DONE,
        total=len(readers),
        created_at=at,
    )
    db.session.add(send)
    db.session.flush()
    for reader, status in readers.items():
        db.session.add(
            Delivery(
                send_id=send.id,
                subscriber_id=reader.id,
                status=status,
                sent_at=at if status == DeliveryStatus.SENT else None,
            )
        )
    for position, (text, url) in enumerate(links):
        db.session.add(Link(send_id=send.id, url=url, text=text, position=position))
    db.session.flush()
    return send


def _count(
    send: Send, kind: str, hour: datetime, count: int, *, link: Link | None = None
) -> None:
    db.session.add(
        TrackingCount(
            send_id=send.id,
            link_id=link.id if link else 0,
            kind=kind,
            is_machine=False,
            hour=hour,
            count=count,
        )
    )


def _machine(send: Send, kind: str, hour: datetime, count: int) -> None:
    db.session.add(
        TrackingCount(
            send_id=send.id,
            link_id=0,
            kind=kind,
            is_machine=True,
            hour=hour,
            count=count,
        )
    )


def _links(send: Send) -> list[Link]:
    return list(
        db.session.scalars(
            select(Link).where(Link.send_id == send.id).order_by(Link.position)
        )
    )


def _delivery(send: Send, reader: Subscriber) -> Delivery:
    return db.session.scalars(
        select(Delivery).where(
            Delivery.send_id == send.id, Delivery.subscriber_id == reader.id
        )
    ).one()


def _staff(client: FlaskClient) -> None:
    login(client, make_user("redactie@postbode.nl", Role.EDITOR))


def _a_week_old_send() -> tuple[Send, dict[str, Subscriber]]:
    """Build a send of ten readers with deliveries, counts, a bounce and a departure."""
    at = (utcnow() - timedelta(days=8)).replace(minute=5, second=0, microsecond=0)
    news = make_list()
    readers = {
        f"lezer{i}@example.nl": make_subscriber(f"lezer{i}@example.nl", lists=[news])
        for i in range(10)
    }
    statuses = [DeliveryStatus.SENT] * 7 + [
        DeliveryStatus.DEFERRED,
        DeliveryStatus.FAILED,
        DeliveryStatus.FAILED,
    ]
    issue = _issue(at.year, 1)
    send = _send(
        issue,
        dict(zip(readers.values(), statuses, strict=True)),
        at=at,
        links=[("Het rapport", RAPPORT), ("De cijfers", CIJFERS)],
        mailing_list=news,
    )
    report, figures = _links(send)
    hour = at.replace(minute=0)
    _count(send, "open", hour + timedelta(hours=1), 4)
    _count(send, "open", hour + timedelta(hours=26), 2)
    _machine(send, "open", hour, 9)
    _count(send, "click", hour + timedelta(hours=1), 3, link=figures)
    _count(send, "click", hour + timedelta(hours=2), 1, link=report)
    _machine(send, "click", hour, 2)
    failed = _delivery(send, readers["lezer8@example.nl"])
    db.session.add(
        BounceEvent(
            subscriber_id=failed.subscriber_id,
            delivery_id=failed.id,
            kind="hard",
            score=1.0,
            source="smtp",
            status_code="5.1.1",
        )
    )
    subscribers.unsubscribe(readers["lezer0@example.nl"], at + timedelta(hours=3))
    db.session.commit()
    return send, readers


# Per send ---------------------------------------------------------------------------


def test_a_sends_numbers_built_from_real_rows_appear_on_its_page(
    client: FlaskClient,
) -> None:
    send, _readers = _a_week_old_send()
    _staff(client)
    page = client.get(f"/admin/stats/sends/{send.id}").get_data(as_text=True)
    assert _numbers(page) == {
        "recipients": "10",
        "sent": "7",
        "deferred": "1",
        "failed": "2",
        "bounced": "1",
        "complaints": "0",
        "unsubscribed": "1",
        "opens": "6",
        "clicks": "4",
        "machine_opens": "9",
        "machine_clicks": "2",
    }
    assert "Anoniem gemeten" in page


def test_the_send_page_links_to_its_statistics(client: FlaskClient) -> None:
    send, _readers = _a_week_old_send()
    _staff(client)
    page = client.get(f"/admin/sends/{send.id}").get_data(as_text=True)
    assert f'href="/admin/stats/sends/{send.id}"' in page


def test_the_heat_list_orders_links_as_in_the_message(
    app: Flask, client: FlaskClient, password_hash: str
) -> None:
    sent = send_issue(app, password_hash, {"lezer@example.nl": False}, utcnow())
    links = _links(sent.send)
    urls = [link.url for link in links]
    # The rendered message: "de cijfers" in the article, then the button's report.
    assert urls.index(CIJFERS) < urls.index(RAPPORT)
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    for clicks, link in enumerate(reversed(links), start=1):
        _count(sent.send, "click", hour, clicks * 10, link=link)
    db.session.commit()
    _staff(client)
    page = client.get(f"/admin/stats/sends/{sent.send.id}").get_data(as_text=True)
    heat = page[page.index('class="heat-list"') :]
    shown = [int(p) for p in re.findall(r'<li data-position="(\d+)">', heat)]
    assert shown == [link.position for link in links] == sorted(shown)
    texts = re.findall(r'<span class="heat-text">([^<]*)<', heat)
    assert texts.index("de cijfers") < texts.index("Het rapport")
    clicks = [int(c) for c in re.findall(r"<span data-link-clicks>(\d+)</span>", heat)]
    assert clicks == [10 * (len(links) - i) for i in range(len(links))]
    widths = re.findall(r'class="heat-fill" width="([\d.]+)"', heat)
    assert widths[0] == "100"


def test_the_chart_has_a_title_and_a_table_alternative(client: FlaskClient) -> None:
    send, _readers = _a_week_old_send()
    _staff(client)
    page = client.get(f"/admin/stats/sends/{send.id}").get_data(as_text=True)
    chart = page[page.index('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') :]
    assert re.match(
        r'<svg[^>]+aria-labelledby="chart-days-title chart-days-desc"', chart
    )
    assert '<title id="chart-days-title">Openen en klikken per dag' in chart
    table = page[page.index('id="table-days"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr><th scope=\"row\">([^<]+)</th><td>[^<]+</td>"
                      r"<td>(\d+)</td><td>(\d+)</td></tr>", table)  # fmt: skip
    assert rows[:2] == [("dag 1", "4", "4"), ("dag 2", "2", "0")]
    assert len(rows) == 7
    assert 'id="table-hours"' in page
    assert "style=" not in page.split("<main", 1)[1]


def test_link_text_with_a_script_is_shown_escaped(client: FlaskClient) -> None:
    at = utcnow() - timedelta(hours=2)
    reader = make_subscriber("lezer@example.nl", lists=[make_list()])
    send = _send(
        _issue(at.year, 1),
        {reader: DeliveryStatus.SENT},
        at=at,
        links=[("<script>alert('tekst')</script>", "https://example.org/?a=<script>")],
    )
    db.session.add(
        TrackingEvent(
            send_id=send.id,
            kind="open",
            user_agent="<script>alert('agent')</script>",
        )
    )
    db.session.commit()
    _staff(client)
    page = client.get(f"/admin/stats/sends/{send.id}").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;tekst&#39;)&lt;/script&gt;" in page
    assert "https://example.org/?a=&lt;script&gt;" in page
    assert "&lt;script&gt;alert(&#39;agent&#39;)&lt;/script&gt;" in page


# Mail programs and click origins ----------------------------------------------------

ROW = re.compile(r'<tr(?: class="source-other")?><th scope="row">(.*?)</th><td>(\d+)<')


def _ranking(page: str, table_id: str) -> tuple[list[tuple[str, int]], ...]:
    """Return a ranking table's rows as (shown text, count): people's, machines'."""
    table = page[page.index(f'id="{table_id}"') :]
    table = table[: table.index("</table>")]
    people, _sep, machines = table.partition('class="source-machines"')
    return tuple(
        [
            (unescape(re.sub(r"<[^>]+>", "", cell)), int(n))
            for cell, n in ROW.findall(part)
        ]
        for part in (people, machines)
    )


def _section(page: str) -> str:
    start = page.index('aria-labelledby="sources-heading"')
    return page[start : page.index("</section>", start)]


def test_scripts_and_huge_strings_from_readers_software_are_shown_escaped_and_short(
    app: Flask, client: FlaskClient, password_hash: str
) -> None:
    app.config["TRACKING_MODE"] = "personal"
    sent = send_issue(app, password_hash, {"ja@example.nl": True}, utcnow())
    link = _links(sent.send)[0]
    pixel = f"/t/o/{tokens.open_token(keys(app.config), sent.send.id)}.gif"
    click = f"/t/c/{tokens.click_token(keys(app.config), sent.send.id, link.id)}"
    script = "<script>alert(1)</script>"
    huge_agent = "Mozilla/5.0 (" + "X" * 10_000 + ")"
    huge_referrer = "https://" + "a" * 10_000 + "/inbox?id=9"
    client.get(pixel, headers={"User-Agent": script})
    client.get(pixel, headers={"User-Agent": huge_agent})
    client.get(click, headers={"User-Agent": script, "Referer": huge_referrer})
    written(app)
    # A referrer is stored as a plain origin: a script cannot get in that way, but
    # the page must escape one that did.
    db.session.add(
        TrackingEvent(
            send_id=sent.send.id,
            link_id=link.id,
            kind="click",
            referrer="https://<script>alert(2)</script>" + "x" * 40,
        )
    )
    db.session.commit()
    _staff(client)
    page = client.get(f"/admin/stats/sends/{sent.send.id}").get_data(as_text=True)
    assert "<script>alert(" not in page
    section = _section(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    long_texts = [
        "Mozilla/5.0 (" + "X" * 287,  # stored: the first 300 characters
        "https://" + "a" * 192,  # stored: the first 200 characters of the origin
        "https://<script>alert(2)</script>" + "x" * 40,
    ]
    for stored in long_texts:
        shown = stored[:59] + "…"
        assert f'title="{escape(stored)}">{escape(shown)}</span>' in section
        assert stored[:61] not in section.replace(f'title="{stored}"', "")
    assert "ja@example.nl" not in section and "Lezer" not in section


def test_mail_programs_and_click_origins_are_counted_and_ranked(
    client: FlaskClient, runner: FlaskCliRunner
) -> None:
    at = utcnow() - timedelta(hours=5)
    reader = make_subscriber("lezer@example.nl", lists=[make_list()])
    send = _send(
        _issue(at.year, 1), {reader: DeliveryStatus.SENT}, at=at, links=[("L", RAPPORT)]
    )
    other = _send(None, {reader: DeliveryStatus.SENT}, at=at)
    [link] = _links(send)
    bing = "Mozilla/5.0 (compatible; BingPreview/1.0b)"
    opens = (
        [("Agent 00", False)] * 5
        + [("Agent 01", False)] * 3
        + [(f"Agent {i:02}", False) for i in range(2, 12)]
        + [(bing, True)] * 2
        + [("", True)]
    )
    clicks = (
        [("https://mail.example.nl", False)] * 3
        + [("", False)] * 2
        + [("https://outlook.live.com", False), ("", True)]
    )
    for agent, machine in opens:
        db.session.add(
            TrackingEvent(
                send_id=send.id, kind="open", user_agent=agent, is_machine=machine
            )
        )
    for referrer, machine in clicks:
        db.session.add(
            TrackingEvent(
                send_id=send.id,
                link_id=link.id,
                kind="click",
                referrer=referrer,
                is_machine=machine,
            )
        )
    db.session.add(TrackingEvent(send_id=other.id, kind="open", user_agent="Agent 00"))
    db.session.commit()
    _staff(client)
    page = client.get(f"/admin/stats/sends/{send.id}").get_data(as_text=True)
    people, machines = _ranking(page, "table-mail-programs")
    assert people == [
        ("Agent 00", 5),
        ("Agent 01", 3),
        *[(f"Agent {i:02}", 1) for i in range(2, 10)],
        ("overig", 2),
    ]
    assert machines == [(bing, 2), ("onbekend (geen user agent)", 1)]
    people, machines = _ranking(page, "table-click-origins")
    assert people == [
        ("https://mail.example.nl", 3),
        ("onbekend (geen referrer)", 2),
        ("https://outlook.live.com", 1),
    ]
    assert machines == [("onbekend (geen referrer)", 1)]
    assert "na 183 dagen gewist" in _section(page)

    body = client.get(f"/admin/stats/sends/{send.id}.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body)))
    programs = [
        (r["value"], r["machine"], r["text"])
        for r in rows
        if r["metric"].startswith("mail_program")
    ]
    assert programs[:2] == [("5", "", "Agent 00"), ("3", "", "Agent 01")]
    assert programs[-3:] == [("", "2", bing), ("", "1", ""), ("2", "0", "")]
    origins = [
        (r["metric"], r["value"], r["machine"], r["url"])
        for r in rows
        if r["metric"].startswith("click_origin")
    ]
    assert origins == [
        ("click_origin", "3", "", "https://mail.example.nl"),
        ("click_origin", "2", "", ""),
        ("click_origin", "1", "", "https://outlook.live.com"),
        ("click_origin", "", "1", ""),
        ("click_origin_other", "0", "0", ""),
    ]
    printed = runner.invoke(args=["stats", str(send.id)])
    assert printed.exit_code == 0, printed.output
    assert "  mail program: 5  Agent 00\n" in printed.output
    assert f"  mail program: 2 machine  {bing}\n" in printed.output
    assert "  mail_program_other: 2 (+0 machine)\n" in printed.output
    assert "  click origin: 3  https://mail.example.nl\n" in printed.output
    assert "  click origin: 2  (none sent)\n" in printed.output


def test_the_sources_say_when_tracking_is_off(app: Flask, client: FlaskClient) -> None:
    app.config["TRACKING_MODE"] = "off"
    at = utcnow() - timedelta(hours=5)
    reader = make_subscriber("lezer@example.nl", lists=[make_list()])
    send = _send(None, {reader: DeliveryStatus.SENT}, at=at)
    db.session.commit()
    _staff(client)
    page = client.get(f"/admin/stats/sends/{send.id}").get_data(as_text=True)
    assert "Meten staat uit" in _section(page)
    assert 'id="table-mail-programs"' not in page


def test_the_csv_parses_and_matches_the_page(app: Flask, client: FlaskClient) -> None:
    send, _readers = _a_week_old_send()
    _staff(client)
    page = client.get(f"/admin/stats/sends/{send.id}").get_data(as_text=True)
    response = client.get(f"/admin/stats/sends/{send.id}.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    totals = {row["metric"]: row for row in rows if row["metric"] != "link_clicks"}
    for metric, shown in _numbers(page).items():
        if metric.startswith("machine_"):
            assert totals[metric.removeprefix("machine_")]["machine"] == shown
        else:
            assert totals[metric]["value"] == shown, metric
    assert totals["unique_opens"]["value"] == ""  # anonymous: not knowable, not 0
    links = [row for row in rows if row["metric"] == "link_clicks"]
    assert [(r["position"], r["text"], r["url"], r["value"]) for r in links] == [
        ("1", "Het rapport", RAPPORT, "1"),
        ("2", "De cijfers", CIJFERS, "3"),
    ]
    heat = page[page.index('class="heat-list"') :]
    assert re.findall(r"<span data-link-clicks>(\d+)</span>", heat) == ["1", "3"]
    [entry] = db.session.scalars(
        select(AuditLog).where(AuditLog.action == "export.send_stats")
    )
    assert entry.detail == {"send_id": send.id}
    assert "redactie@postbode.nl" in entry.actor


def test_a_link_text_that_looks_like_a_formula_is_neutralised_in_the_csv(
    client: FlaskClient,
) -> None:
    at = utcnow() - timedelta(hours=2)
    reader = make_subscriber("lezer@example.nl", lists=[make_list()])
    send = _send(
        None,
        {reader: DeliveryStatus.SENT},
        at=at,
        links=[('=HYPERLINK("http://evil")', "https://example.org/")],
    )
    db.session.commit()
    _staff(client)
    body = client.get(f"/admin/stats/sends/{send.id}.csv").get_data(as_text=True)
    [link] = [
        r for r in csv.DictReader(io.StringIO(body)) if r["metric"] == "link_clicks"
    ]
    assert link["text"] == '\'=HYPERLINK("http://evil")'


def test_flask_stats_prints_the_same_numbers(
    client: FlaskClient, runner: FlaskCliRunner
) -> None:
    send, _readers = _a_week_old_send()
    _staff(client)
    page = client.get(f"/admin/stats/sends/{send.id}").get_data(as_text=True)
    downloaded = client.get(f"/admin/stats/sends/{send.id}.csv").get_data(as_text=True)
    as_csv = runner.invoke(args=["stats", str(send.id), "--csv"])
    assert as_csv.exit_code == 0, as_csv.output
    assert as_csv.output.splitlines() == downloaded.splitlines()
    printed = runner.invoke(args=["stats", str(send.id)])
    assert printed.exit_code == 0, printed.output
    lines = dict(re.findall(r"^  ([a-z_]+): (\S+)", printed.output, flags=re.MULTILINE))
    for metric, shown in _numbers(page).items():
        if not metric.startswith("machine_"):
            assert lines[metric] == shown, metric
    assert "opens: 6 (+9 machine)" in printed.output
    assert f"link 2: 3  De cijfers  <{CIJFERS}>" in printed.output
    missing = runner.invoke(args=["stats", "999"])
    assert missing.exit_code != 0


def test_personal_mode_counts_unique_consenting_readers_and_says_their_share(
    app: Flask, client: FlaskClient
) -> None:
    app.config["TRACKING_MODE"] = "personal"
    at = utcnow() - timedelta(hours=5)
    news = make_list()
    readers = [make_subscriber(f"l{i}@example.nl", lists=[news]) for i in range(4)]
    readers[0].tracking_consent = True
    readers[1].tracking_consent = True
    send = _send(
        _issue(at.year, 1),
        {r: DeliveryStatus.SENT for r in readers},
        at=at,
        links=[("Lees", CIJFERS)],
    )
    [link] = _links(send)
    for reader, kind, link_id in [
        (readers[0], "open", None),
        (readers[0], "open", None),
        (readers[1], "open", None),
        (readers[0], "click", link.id),
        (None, "open", None),  # a reader without consent: counted, not named
    ]:
        db.session.add(
            TrackingEvent(
                send_id=send.id,
                link_id=link_id,
                kind=kind,
                subscriber_id=reader.id if reader else None,
            )
        )
    _count(send, "open", at.replace(minute=0), 4)
    _count(send, "click", at.replace(minute=0), 1, link=link)
    db.session.commit()
    _staff(client)
    page = client.get(f"/admin/stats/sends/{send.id}").get_data(as_text=True)
    numbers = _numbers(page)
    assert numbers["opens"] == "4"
    assert numbers["unique_opens"] == "2"
    assert numbers["unique_clicks"] == "1"
    assert "2 van de 4 ontvangers (50%)" in unescape(page)


def test_unsubscribes_count_for_the_last_send_a_reader_received(
    client: FlaskClient,
) -> None:
    first_at = utcnow() - timedelta(days=20)
    second_at = utcnow() - timedelta(days=10)
    news = make_list()
    early, late, by_editor = (
        make_subscriber(f"{name}@example.nl", lists=[news])
        for name in ("vroeg", "laat", "redactie")
    )
    everyone = {r: DeliveryStatus.SENT for r in (early, late, by_editor)}
    first = _send(_issue(first_at.year, 1), everyone, at=first_at)
    second = _send(_issue(first_at.year, 2), everyone, at=second_at)
    subscribers.unsubscribe(early, first_at + timedelta(days=2))
    subscribers.unsubscribe(late, second_at + timedelta(days=1), via="one-click")
    subscribers.unsubscribe(by_editor, second_at + timedelta(days=1), via="admin")
    db.session.commit()
    _staff(client)
    for send, expected in ((first, "1"), (second, "1")):
        page = client.get(f"/admin/stats/sends/{send.id}").get_data(as_text=True)
        assert _numbers(page)["unsubscribed"] == expected


# Per year, theme and list -------------------------------------------------------------


def test_the_year_page_compares_issues_side_by_side(client: FlaskClient) -> None:
    at = datetime(2025, 3, 10, 9, 0)
    news = make_list()
    readers = [make_subscriber(f"l{i}@example.nl", lists=[news]) for i in range(3)]
    werk = Theme(slug="werk", name="Werk en inkomen")
    wonen = Theme(slug="wonen", name="Wonen")
    db.session.add_all([werk, wonen])
    db.session.flush()
    first = _send(
        _issue(2025, 1, werk), {r: DeliveryStatus.SENT for r in readers}, at=at
    )
    second = _send(
        _issue(2025, 2, wonen),
        {readers[0]: DeliveryStatus.SENT, readers[1]: DeliveryStatus.FAILED},
        at=at + timedelta(days=40),
    )
    _send(
        _issue(2024, 7), {readers[0]: DeliveryStatus.SENT}, at=at - timedelta(days=90)
    )
    _count(first, "open", at, 12)
    _count(second, "open", at + timedelta(days=40), 5)
    db.session.commit()
    _staff(client)
    page = client.get("/admin/stats/2025").get_data(as_text=True)
    head = page[page.index('class="stats-compare"') :]
    assert re.findall(r'<th scope="col" data-issue="(\d+)">', head) == [
        str(first.issue_id),
        str(second.issue_id),
    ]
    assert "2025 · nr. 1 · Nummer 1" in head and "2024 · nr. 7" not in page

    def row(name: str) -> list[str]:
        found = re.search(rf'<tr data-row="{name}">(.*?)</tr>', page, flags=re.S)
        assert found is not None, name
        return [re.sub(r"<[^>]+>", "", cell).strip()
                for cell in re.findall(r"<td>(.*?)</td>", found.group(1))]  # fmt: skip

    assert row("recipients") == ["3", "2"]
    assert row("sent") == ["3", "1"]
    assert row("failed") == ["0", "1"]
    assert row("opens") == ["12 (0)", "5 (0)"]
    assert 'id="chart-issues"' in page
    only_housing = client.get("/admin/stats/2025?theme=wonen").get_data(as_text=True)
    assert f'data-issue="{second.issue_id}"' in only_housing
    assert f'data-issue="{first.issue_id}"' not in only_housing
    assert client.get("/admin/stats/2025?theme=onbekend").status_code == 404
    assert client.get("/admin/stats/1").status_code == 404
    assert client.get("/admin/stats/").status_code == 302


def test_list_growth_counts_per_month_across_a_month_boundary_in_amsterdam(
    client: FlaskClient,
) -> None:
    news = make_list()
    other = make_list("brieven", "Brieven", is_public=False)

    def member(email: str, created: datetime, **moments: datetime | None) -> None:
        subscriber = make_subscriber(email)
        subscriber.memberships.append(
            Membership(
                mailing_list=news,
                status=MembershipStatus.ACTIVE,
                created_at=created,
                **moments,
            )
        )

    # 31 January 23:30 UTC is 1 February 00:30 in Amsterdam (CET, UTC+1).
    member("a@example.nl", datetime(2025, 1, 31, 23, 30),
           confirmed_at=datetime(2025, 1, 31, 23, 45))  # fmt: skip
    # 31 January 22:30 UTC is still 31 January 23:30 in Amsterdam.
    member("b@example.nl", datetime(2025, 1, 31, 22, 30),
           confirmed_at=datetime(2025, 2, 1, 8, 0))  # fmt: skip
    # Summer time (CEST, UTC+2): 31 March 22:30 UTC is 1 April 00:30.
    member("c@example.nl", datetime(2025, 3, 3, 12, 0),
           confirmed_at=datetime(2025, 3, 3, 12, 5),
           unsubscribed_at=datetime(2025, 3, 31, 22, 30))  # fmt: skip
    # New Year's Eve 23:30 UTC belongs to 2025 in Amsterdam, not to 2024.
    member("d@example.nl", datetime(2024, 12, 31, 23, 30))
    db.session.commit()
    _staff(client)
    page = client.get("/admin/stats/2025").get_data(as_text=True)
    table = page[page.index(f'data-list="{news.id}"') :]
    table = table[: table.index("</table>")]

    def month(key: str) -> list[str]:
        found = re.search(rf'<tr data-month="{key}">.*?</th>(.*?)</tr>', table)
        assert found is not None, key
        return re.findall(r"<td>(-?\d+)</td>", found.group(1))

    # signups, confirmations, departures, net
    assert month("2025-01") == ["2", "0", "0", "0"]
    assert month("2025-02") == ["1", "2", "0", "2"]
    assert month("2025-03") == ["1", "1", "0", "1"]
    assert month("2025-04") == ["0", "0", "1", "-1"]
    assert len(re.findall(r"<tr data-month=", table)) == 12
    assert f'data-list="{other.id}"' in page
    assert 'id="chart-list-' in page
