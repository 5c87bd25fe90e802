"""The editors' main pages pass axe-core without serious or critical violations."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import Page, expect

from service.editorial import operations
from service.extensions import db
from service.subscribers import operations as subscriber_operations
from tests.browser.conftest import LEGACY_CHOICES, LiveServer, snap
from tests.browser.test_accessibility import blocking_violations
from tests.conftest import NOW, PASSWORD, make_subscriber, make_user

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings(LEGACY_CHOICES)]

EDITOR = "redacteur@postbode.nl"


def editorial_demo(live_server: LiveServer) -> int:
    """Make an editor, a reader and an issue with an article; return the issue's id."""
    with live_server.app.app_context():
        editor = make_user(EDITOR)
        make_subscriber(
            "bert.jansen@example.nl",
            name="Bert Jansen",
            lists=subscriber_operations.public_lists(),
        )
        year = NOW.year + 1
        issue = operations.plan_issue(
            year=year,
            theme=None,
            planned_date=date(year, 3, 13),
            contribution_deadline=date(year, 3, 2),
            title="Armoede in cijfers",
        )
        issue.preheader = "Wat de nieuwe cijfers zeggen over armoede in Nederland"
        operations.add_article(
            issue,
            editor,
            NOW,
            title="De cijfers",
            body="Eén op de twintig huishoudens leeft in armoede.",
        )
        db.session.commit()
        issue_id = issue.id
        db.session.remove()
    return issue_id


def test_the_main_admin_pages_have_no_serious_or_critical_axe_violations(
    page: Page, live_server: LiveServer
) -> None:
    issue_id = editorial_demo(live_server)
    page.goto(live_server.url + "/admin/login")
    page.get_by_label("E-mailadres").fill(EDITOR)
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overzicht")

    found: dict[str, list[str]] = {}

    def check(name: str, path: str) -> None:
        page.goto(live_server.url + path)
        # Every page keeps the admin's sections one tap away, also on a phone.
        nav = page.get_by_role("navigation", name="Beheer")
        for section in ("Overzicht", "Jaarplan", "Verzendingen", "Lezers"):
            link = nav.get_by_role("link", name=section, exact=True)
            expect(link).to_be_in_viewport()
        snap(page, f"admin-axe-{name}")
        found[name] = blocking_violations(page)

    check("dashboard", "/admin/")
    check("year-plan", "/admin/plan/")
    check("compose", f"/admin/issues/{issue_id}")
    expect(page.get_by_role("link", name="Voorbeeld en controle")).to_be_visible()
    check("preview", f"/admin/issues/{issue_id}/preview")
    check("sends", "/admin/sends/")
    check("readers", "/admin/subscribers/")
    page.get_by_role("link", name="bert.jansen@example.nl").click()
    found["reader"] = blocking_violations(page)

    assert {name: lines for name, lines in found.items() if lines} == {}
    assert len(found) == 7
    # No page is wider than the screen: tables turn into cards on a phone.
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert page.evaluate("document.documentElement.scrollWidth") <= width
