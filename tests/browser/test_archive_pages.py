"""The public archive in a browser: axe-clean, a working print button, clean print."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from service.demo import seed_editorial_year
from service.editorial.models import Issue, IssueStatus
from service.extensions import db
from service.subscribers.models import MailingList
from tests.browser.conftest import LiveServer, snap
from tests.browser.test_accessibility import blocking_violations
from tests.conftest import NOW

pytestmark = pytest.mark.browser


def seeded_issue_path(live_server: LiveServer) -> tuple[str, str]:
    """Seed the demo's editorial year; return a sent issue's path and theme slug."""
    with live_server.app.app_context():
        newsletter = db.session.scalar(
            select(MailingList).filter_by(slug="nieuwsbrief")
        )
        assert newsletter is not None
        seed_editorial_year(NOW, newsletter=newsletter)
        db.session.commit()
        issue = db.session.scalars(
            select(Issue)
            .filter_by(status=IssueStatus.SENT)
            .order_by(Issue.year.desc(), Issue.number)
        ).first()
        assert issue is not None and issue.theme is not None
        path = f"/archive/{issue.year}/{issue.number}-{issue.slug}"
        theme = issue.theme.slug
        db.session.remove()
    return path, theme


def test_the_archive_pages_have_no_serious_or_critical_axe_violations(
    page: Page, live_server: LiveServer
) -> None:
    issue_path, theme = seeded_issue_path(live_server)
    found: dict[str, list[str]] = {}
    for name, path in (
        ("archive", "/archive"),
        ("archive-theme-filter", f"/archive?thema={theme}"),
        ("issue", issue_path),
        ("theme", f"/themes/{theme}"),
    ):
        page.goto(live_server.url + path)
        snap(page, f"axe-{name}")
        found[name] = blocking_violations(page)
    assert {name: lines for name, lines in found.items() if lines} == {}


def test_the_print_button_appears_with_javascript_and_prints_only_the_issue(
    page: Page, live_server: LiveServer
) -> None:
    issue_path, _ = seeded_issue_path(live_server)
    page.goto(live_server.url + issue_path)
    button = page.get_by_role("button", name="Afdrukken")
    assert button.is_visible()
    # window.print() blocks in a real browser: record the call instead.
    page.evaluate("window.print = () => { window.printed = true; }")
    button.click()
    assert page.evaluate("window.printed") is True
    page.emulate_media(media="print")
    snap(page, "issue-print")
    assert not page.locator(".site-header").is_visible()
    assert not page.locator(".site-footer").is_visible()
    assert not button.is_visible()
    family = page.locator("body").evaluate("b => getComputedStyle(b).fontFamily")
    assert "Georgia" in family
    link = page.locator(".article a[href^='http']").first
    after = link.evaluate("a => getComputedStyle(a, '::after').content")
    assert "socialealliantie.nl" in after


def test_without_javascript_the_print_button_stays_hidden(
    page: Page, live_server: LiveServer
) -> None:
    issue_path, _ = seeded_issue_path(live_server)
    context = page.context.browser.new_context(java_script_enabled=False)
    try:
        quiet = context.new_page()
        quiet.goto(live_server.url + issue_path)
        assert quiet.get_by_role("heading", level=1).is_visible()
        assert quiet.get_by_role("button", name="Afdrukken").count() == 0
    finally:
        context.close()
