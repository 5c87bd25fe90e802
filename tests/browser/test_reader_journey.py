"""A reader subscribes, confirms, changes preferences and leaves, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LEGACY_CHOICES, LiveServer, snap
from tests.conftest import text_of

pytestmark = pytest.mark.browser


def link_in_mail(live_server: LiveServer, address: str, subject: str, path: str) -> str:
    """Return the first link to `path` in the mail with `subject` sent to `address`."""
    mails = [m for m in live_server.outbox.to(address) if m["Subject"] == subject]
    assert len(mails) == 1, [m["Subject"] for m in live_server.outbox.to(address)]
    pattern = re.escape(live_server.url + path) + r"\S+"
    found = re.search(pattern, text_of(mails[0]))
    assert found, text_of(mails[0])
    return found.group(0)


def heading(page: Page) -> object:
    """Return the page's one level-1 heading."""
    return page.get_by_role("heading", level=1)


@pytest.mark.filterwarnings(LEGACY_CHOICES)
def test_a_reader_subscribes_confirms_changes_preferences_and_leaves(
    page: Page, live_server: LiveServer
) -> None:
    address = "anna.devries@example.nl"

    page.goto(live_server.url + "/subscribe")
    expect(heading(page)).to_have_text("Blijf op de hoogte")
    page.get_by_label("E-mailadres").fill(address)
    page.get_by_label("Naam (niet verplicht)").fill("Anna de Vries")
    page.get_by_role("checkbox", name="Nieuwsbrief").check()
    snap(page, "1-signup")
    page.get_by_role("button", name="Aanmelden").click()
    expect(heading(page)).to_have_text("Kijk in uw mailbox")
    snap(page, "2-check-inbox")

    confirm_link = link_in_mail(
        live_server,
        address,
        "Bevestig uw aanmelding bij Sociale Alliantie",
        "/subscribe/confirm/",
    )
    page.goto(confirm_link)
    expect(heading(page)).to_have_text("Aanmelding bevestigen")
    expect(page.get_by_text(address)).to_be_visible()
    snap(page, "3-confirm")
    page.get_by_role("button", name="Ja, ik bevestig mijn aanmelding").click()
    expect(heading(page)).to_have_text("Welkom!")
    expect(page.get_by_role("listitem")).to_have_text(["Nieuwsbrief"])
    snap(page, "4-confirmed")

    page.get_by_role("link", name="Uw voorkeuren aanpassen").click()
    expect(heading(page)).to_have_text("Uw voorkeuren")
    expect(page.get_by_label("Naam", exact=True)).to_have_value("Anna de Vries")
    expect(page.get_by_role("checkbox", name="Nieuwsbrief")).to_be_checked()
    page.get_by_label("Naam", exact=True).fill("Anna")
    page.get_by_label("Taal van de mail").select_option("en")
    page.get_by_role("checkbox", name="Lokale brief gemeenteraden").check()
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_role("status")).to_have_text("Uw voorkeuren zijn opgeslagen.")
    expect(page.get_by_label("Naam", exact=True)).to_have_value("Anna")
    expect(page.get_by_label("Taal van de mail")).to_have_value("en")
    expect(
        page.get_by_role("checkbox", name="Lokale brief gemeenteraden")
    ).to_be_checked()
    snap(page, "5-preferences")

    unsubscribe_link = link_in_mail(
        live_server,
        address,
        "Welkom bij Sociale Alliantie",
        "/unsubscribe/",
    )
    page.goto(unsubscribe_link)
    expect(heading(page)).to_have_text("Afmelden")
    snap(page, "6-unsubscribe")
    page.get_by_role("button", name="Ja, meld mij af").click()
    expect(heading(page)).to_have_text("U bent afgemeld")
    expect(
        page.get_by_text("U ontvangt geen mail meer van Sociale Alliantie.")
    ).to_be_visible()
    snap(page, "7-unsubscribed")

    page.get_by_role("link", name="Naar mijn voorkeuren").click()
    expect(page.get_by_role("checkbox", name="Nieuwsbrief")).not_to_be_checked()
    expect(
        page.get_by_role("checkbox", name="Lokale brief gemeenteraden")
    ).not_to_be_checked()


def test_a_reader_who_forgets_a_list_is_told_what_to_fix_next_to_it(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.url + "/subscribe")
    page.get_by_label("E-mailadres").fill("carla@example.nl")
    page.get_by_role("button", name="Aanmelden").click()

    expect(page).to_have_title("Fout: Aanmelden · Sociale Alliantie")
    lists = page.get_by_role("group", name="Waarover wilt u mail ontvangen?")
    expect(lists).to_have_accessible_description("Kies ten minste één nieuwsbrief.")
    expect(page.get_by_label("E-mailadres")).to_have_value("carla@example.nl")
    snap(page, "8-signup-error")
    assert live_server.outbox.messages() == []
