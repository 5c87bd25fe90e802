"""The reader's pages pass axe-core without serious or critical violations."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from service.extensions import db
from service.subscribers import notices, operations
from service.subscribers.models import SubscriberStatus
from tests.browser.conftest import LEGACY_CHOICES, LiveServer, snap
from tests.conftest import make_subscriber

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings(LEGACY_CHOICES)]

#: axe's own names for the two worst of its four impact levels
BLOCKING = ("serious", "critical")


def reader_links(live_server: LiveServer) -> dict[str, str]:
    """Make a pending reader on both lists; return their confirm and other links."""
    with live_server.app.app_context():
        lists = operations.public_lists()
        reader = make_subscriber(
            "bert.jansen@example.nl",
            name="Bert Jansen",
            lists=lists,
            status=SubscriberStatus.PENDING,
        )
        reader.confirmation_nonce = "nonce-for-axe"
        links = {
            "confirm": notices.confirm_url(reader),
            "preferences": notices.preferences_url(reader),
            "unsubscribe": notices.unsubscribe_url(reader, lists[0].id),
        }
        db.session.commit()
        db.session.remove()
    return links


def blocking_violations(page: Page) -> list[str]:
    """Run axe on the page; describe each serious or critical violation in a line.

    axe is injected with page.evaluate, which Chromium runs through DevTools and so
    outside the page's CSP: the page is checked under its real, strict policy.
    """
    results: dict[str, Any] = Axe().run(page).response
    assert results["passes"], "axe did not run on " + page.url
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} -> "
        + ", ".join(str(node["target"]) for node in violation["nodes"])
        for violation in results["violations"]
        if violation["impact"] in BLOCKING
    ]


def test_every_public_page_has_no_serious_or_critical_axe_violations(
    page: Page, live_server: LiveServer
) -> None:
    links = reader_links(live_server)
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        snap(page, f"axe-{name}")
        found[name] = blocking_violations(page)

    page.goto(live_server.url + "/subscribe")
    check("signup")
    page.get_by_role("button", name="Aanmelden").click()
    check("signup-with-errors")
    page.goto(live_server.url + "/subscribe/thanks")
    check("check-inbox")
    page.goto(links["confirm"])
    check("confirm")
    page.get_by_role("button", name="Ja, ik bevestig mijn aanmelding").click()
    check("confirmed")
    page.goto(links["preferences"])
    check("preferences")
    page.goto(links["unsubscribe"])
    check("unsubscribe")
    page.get_by_role("button", name="Ja, meld mij af").click()
    check("unsubscribed")
    page.goto(links["preferences"] + "/erase")
    check("erase")
    page.get_by_role("button", name="Wis mijn gegevens").click()
    check("erase-with-error")
    page.goto(live_server.url + "/preferences/not-a-real-link")
    check("error")

    assert {name: lines for name, lines in found.items() if lines} == {}
    assert len(found) == 11
