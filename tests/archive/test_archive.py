"""The public archive: only sent issues, stable addresses, theme pages, the feed."""

from __future__ import annotations

from datetime import date, datetime
from xml.etree import ElementTree

from flask import Flask, render_template
from flask.testing import FlaskClient
from sqlalchemy import select

from service.archive.operations import latest_sent_issue
from service.demo import seed_demo
from service.editorial.models import Article, Issue, IssueStatus, Theme
from service.extensions import db
from tests.conftest import NOW

ATOM = "{http://www.w3.org/2005/Atom}"


def make_theme(slug: str = "verschulding", name: str = "Verschulding") -> Theme:
    """Add a theme with a Markdown description."""
    theme = Theme(
        slug=slug,
        name=name,
        description=f"Over **{name.lower()}** en wat eraan te doen is.",
    )
    db.session.add(theme)
    db.session.flush()
    return theme


def make_issue(
    number: int,
    title: str,
    *,
    year: int = 2026,
    theme: Theme | None = None,
    status: IssueStatus = IssueStatus.SENT,
    sent_at: datetime | None = None,
    slug: str | None = None,
) -> Issue:
    """Add an issue with one article; sent ones get a sent_at."""
    issue = Issue(
        year=year,
        number=number,
        title=title,
        slug=slug if slug is not None else title.lower().replace(" ", "-"),
        theme=theme,
        status=status,
        planned_date=date(year, number, 10),
        sent_at=sent_at
        or (datetime(year, number, 10, 8, 0) if status == IssueStatus.SENT else None),
    )
    issue.articles.append(
        Article(
            position=0,
            title=f"Artikel in {title}",
            body="Tekst met [link](https://example.nl/a).",
            author="Hub Crijns",
        )
    )
    db.session.add(issue)
    db.session.flush()
    return issue


def static_text(client: FlaskClient, name: str) -> str:
    """Return a static file as served (and close it: it is streamed from disk)."""
    with client.get(f"/static/{name}") as response:
        assert response.status_code == 200
        return response.get_data(as_text=True)


def test_only_sent_issues_appear_in_the_archive(client: FlaskClient) -> None:
    make_issue(1, "Verschenen nummer")
    make_issue(2, "Geheim concept", status=IssueStatus.DRAFT)
    make_issue(3, "Klaar voor controle", status=IssueStatus.APPROVED)
    page = client.get("/archive").get_data(as_text=True)
    assert "Verschenen nummer" in page
    assert "Geheim concept" not in page
    assert "Klaar voor controle" not in page


def test_a_drafts_address_is_not_found(client: FlaskClient) -> None:
    make_issue(2, "Geheim concept", status=IssueStatus.DRAFT)
    assert client.get("/archive/2026/2-geheim-concept").status_code == 404
    assert client.get("/archive/2026/9-bestaat-niet").status_code == 404


def test_the_archive_groups_issues_by_year_newest_first_with_the_dutch_date(
    client: FlaskClient,
) -> None:
    make_issue(11, "Vorig jaar", year=2025, sent_at=datetime(2025, 11, 20, 23, 30))
    make_issue(1, "Dit jaar")
    page = client.get("/archive").get_data(as_text=True)
    assert page.index('<h2 id="year-2026">') < page.index('<h2 id="year-2025">')
    assert page.index("Dit jaar") < page.index("Vorig jaar")
    # 23:30 UTC is past midnight in Amsterdam: the reader's calendar day counts.
    assert '<time datetime="2025-11-21">21 november 2025</time>' in page


def test_the_archive_can_be_filtered_by_theme_without_javascript(
    client: FlaskClient,
) -> None:
    schulden = make_theme()
    lokaal = make_theme("lokaal-sociaal-beleid", "Lokaal sociaal beleid")
    make_issue(1, "Over schulden", theme=schulden)
    make_issue(2, "Over de gemeente", theme=lokaal)
    page = client.get("/archive").get_data(as_text=True)
    assert 'href="/archive?thema=verschulding"' in page
    filtered = client.get("/archive?thema=verschulding").get_data(as_text=True)
    assert "Over schulden" in filtered
    assert "Over de gemeente" not in filtered
    assert client.get("/archive?thema=onbekend").status_code == 404


def test_a_wrong_slug_redirects_permanently_to_the_right_one(
    client: FlaskClient,
) -> None:
    make_issue(1, "Armoede in cijfers", slug="armoede-in-cijfers")
    response = client.get("/archive/2026/1-oude-titel")
    assert response.status_code == 301
    assert response.headers["Location"] == "/archive/2026/1-armoede-in-cijfers"
    assert client.get("/archive/2026/1").status_code == 301
    assert client.get("/archive/2026/1-armoede-in-cijfers").status_code == 200


def test_an_issue_page_has_a_title_date_theme_link_and_neighbours(
    client: FlaskClient,
) -> None:
    theme = make_theme()
    make_issue(1, "Eerste", theme=theme)
    make_issue(2, "Tweede", theme=theme)
    make_issue(3, "Concept", status=IssueStatus.DRAFT)
    make_issue(4, "Vierde")
    page = client.get("/archive/2026/2-tweede").get_data(as_text=True)
    assert "<title>Tweede · nummer 2, 2026 ·" in page
    assert '<time datetime="2026-02-10">10 februari 2026</time>' in page
    assert 'href="/themes/verschulding"' in page
    assert 'rel="prev" href="/archive/2026/1-eerste"' in page
    # The draft in between is skipped: the next published issue is number 4.
    assert 'rel="next" href="/archive/2026/4-vierde"' in page
    assert "Concept" not in page


def test_the_english_archive_writes_the_day_before_the_month(
    client: FlaskClient,
) -> None:
    make_issue(2, "Tweede")
    page = client.get("/archive/2026/2-tweede?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "published on" in page  # the English texts, not only the formats
    assert '<time datetime="2026-02-10">10 February 2026</time>' in page
    listing = client.get("/archive").get_data(as_text=True)
    assert '<time datetime="2026-02-10">10 February 2026</time>' in listing


def test_the_issue_page_links_the_print_stylesheet_and_a_print_button(
    client: FlaskClient,
) -> None:
    make_issue(1, "Eerste")
    page = client.get("/archive/2026/1-eerste").get_data(as_text=True)
    assert 'href="/static/postbode.css"' in page
    assert '<script src="/static/print.js" defer></script>' in page
    # Hidden until print.js shows it: without JavaScript it could do nothing.
    assert "data-print hidden>Afdrukken</button>" in page
    assert "style=" not in page and "<script>" not in page
    assert "@media print" in static_text(client, "postbode.css")
    assert "window.print()" in static_text(client, "print.js")


def test_a_theme_page_shows_its_description_and_sent_issues(
    client: FlaskClient,
) -> None:
    theme = make_theme()
    other = make_theme("verarming", "Verarming")
    make_issue(1, "Schulden en incasso", theme=theme)
    make_issue(2, "Nog niet klaar", theme=theme, status=IssueStatus.DRAFT)
    make_issue(3, "Over verarming", theme=other)
    page = client.get("/themes/verschulding").get_data(as_text=True)
    assert "<h1>Verschulding</h1>" in page
    assert "<strong>verschulding</strong>" in page
    assert 'href="/archive/2026/1-schulden-en-incasso"' in page
    assert "Nog niet klaar" not in page
    assert "Over verarming" not in page
    assert client.get("/themes/onbekend").status_code == 404


def test_the_feed_is_atom_that_parses_with_full_content(client: FlaskClient) -> None:
    theme = make_theme()
    make_issue(1, "Eerste", theme=theme)
    make_issue(2, "Concept", status=IssueStatus.DRAFT)
    response = client.get("/feed.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    root = ElementTree.fromstring(response.data)
    assert root.tag == f"{ATOM}feed"
    self_link = root.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None
    assert self_link.get("href") == "http://localhost/feed.atom"
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == ["Eerste"]
    entry = entries[0]
    assert entry.findtext(f"{ATOM}id") == "tag:localhost,2026:archive/2026/1"
    assert entry.findtext(f"{ATOM}updated") == "2026-01-10T08:00:00Z"
    assert root.findtext(f"{ATOM}updated") == "2026-01-10T08:00:00Z"
    link = entry.find(f"{ATOM}link[@rel='alternate']")
    assert link is not None
    assert link.get("href") == "http://localhost/archive/2026/1-eerste"
    content = entry.find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    assert "<h2>Artikel in Eerste</h2>" in (content.text or "")
    assert '<a href="https://example.nl/a"' in (content.text or "")


def test_the_feed_escapes_markup_and_ampersands_in_titles(client: FlaskClient) -> None:
    make_issue(1, "<script>alert(1)</script> & schulden", slug="schulden")
    raw = client.get("/feed.atom").get_data(as_text=True)
    assert "<script>" not in raw
    root = ElementTree.fromstring(raw)
    entry = root.find(f"{ATOM}entry")
    assert entry is not None
    title = "<script>alert(1)</script> & schulden"
    assert entry.findtext(f"{ATOM}title") == title
    # In the content the title is HTML-escaped once, and XML-escaped around that.
    content = entry.findtext(f"{ATOM}content") or ""
    assert "&lt;script&gt;" in content and "<script>" not in content


def test_the_demo_seeded_archive_shows_the_sent_issue_and_not_the_draft(
    client: FlaskClient,
) -> None:
    seed_demo(NOW, subscribers=5)
    sent = db.session.scalars(
        select(Issue).filter_by(year=NOW.year, status=IssueStatus.SENT)
    ).all()
    draft = db.session.scalar(
        select(Issue).filter_by(year=NOW.year, status=IssueStatus.DRAFT)
    )
    assert sent and draft is not None
    page = client.get("/archive").get_data(as_text=True)
    assert f'id="year-{NOW.year}"' in page and f'id="year-{NOW.year - 1}"' in page
    for issue in sent:
        assert issue.title in page
    assert draft.title not in page
    first = sent[0]
    issue_page = client.get(f"/archive/{first.year}/{first.number}-{first.slug}")
    assert issue_page.status_code == 200
    assert len(first.articles) == 3
    assert first.articles[0].title in issue_page.get_data(as_text=True)
    assert client.get(f"/themes/{first.theme.slug}").status_code == 200


def test_the_home_page_teaser_shows_the_newest_sent_issue(app: Flask) -> None:
    make_issue(1, "Ouder nummer")
    make_issue(2, "Nieuwste nummer")
    make_issue(3, "Nog een concept", status=IssueStatus.DRAFT)
    with app.test_request_context("/"):
        html = render_template("archive/_teaser.html", latest=latest_sent_issue())
        assert 'href="/archive/2026/2-nieuwste-nummer"' in html
        assert "Ouder nummer" not in html and "concept" not in html
        assert render_template("archive/_teaser.html", latest=None).strip() == ""
