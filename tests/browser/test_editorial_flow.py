"""An issue goes from the year plan to the clock; a correspondent's text gets in.

Both journeys run through the pages only, with two people in two browser contexts
where the four-eyes rule asks for a second editor.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.dates import format_date
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from service.editorial import operations
from service.editorial.accounts import create_user
from service.extensions import db
from service.security import Role
from tests.browser.conftest import (
    DESKTOP,
    LEGACY_CHOICES,
    PHONE,
    LiveServer,
    new_context,
    snap,
)
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings(LEGACY_CHOICES)]

EDITOR = "redacteur@postbode.nl"
SECOND_EDITOR = "eindredacteur@postbode.nl"
CORRESPONDENT = "correspondent@postbode.nl"
#: a year ahead, so every date in it is in the future and open for contributions
YEAR = date.today().year + 1
#: an ordinary weekday in March, far from Easter and other public holidays
SEND_DAY = date(YEAR, 3, 10)


def make_accounts(live_server: LiveServer, *accounts: tuple[str, Role, str]) -> None:
    """Create accounts (address, role, name) with the password PASSWORD."""
    with live_server.app.app_context():
        for email, role, name in accounts:
            create_user(email, role, PASSWORD, name=name)
        db.session.commit()
        db.session.remove()


def log_in(page: Page, live_server: LiveServer, email: str) -> None:
    """Log in through the login form."""
    page.goto(live_server.url + "/admin/login")
    page.get_by_label("E-mailadres").fill(email)
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    expect(page.get_by_role("button", name="Inloggen")).to_have_count(0)


def status_on_preview(page: Page) -> str:
    """Return the status the preview page states under "Status"."""
    return page.locator("dl.details dt:text-is('Status') + dd").inner_text()


def write_article(
    page: Page, title: str, body: str, image: Path | None = None, alt: str = ""
) -> None:
    """Add an article from the issue's page and come back to it."""
    page.get_by_role("link", name="Artikel toevoegen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nieuw artikel")
    page.get_by_label("Titel").fill(title)
    page.get_by_label("Tekst", exact=True).fill(body)
    if image is not None:
        page.get_by_label("Afbeelding (niet verplicht)").set_input_files(image)
        page.get_by_label("Beschrijving van de afbeelding").fill(alt)
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_text("Het artikel is toegevoegd.")).to_be_visible()


# One width each keeps the suite quick: the preview page shows the mail at phone
# and at computer width at once, and the contribution runs where a correspondent
# writes most, on a phone.
@pytest.mark.parametrize("viewport", [DESKTOP], ids=["desktop"], indirect=True)
def test_an_editor_composes_previews_and_schedules_an_issue_a_second_editor_approved(
    page: Page, browser: Browser, live_server: LiveServer, tmp_path: Path
) -> None:
    make_accounts(
        live_server,
        (EDITOR, Role.EDITOR, "Anna de Vries"),
        (SECOND_EDITOR, Role.EDITOR, "Bram Peters"),
    )
    photo = tmp_path / "buurthuis.png"
    Image.new("RGB", (64, 48), (200, 80, 40)).save(photo)

    # The first editor adds an issue to next year's plan and writes two articles.
    log_in(page, live_server, EDITOR)
    page.goto(f"{live_server.url}/admin/plan/{YEAR}")
    page.get_by_role("link", name="Nummer toevoegen").click()
    page.get_by_label("Werktitel (niet verplicht)").fill("Wonen in de wijk")
    page.get_by_label("Verschijningsdatum").fill(SEND_DAY.isoformat())
    page.get_by_label("Deadline voor bijdragen").fill(date(YEAR, 3, 1).isoformat())
    page.get_by_role("button", name="Toevoegen").click()
    expect(page.get_by_text("Nummer 1 staat in het jaarplan.")).to_be_visible()
    page.get_by_role("link", name="Nummer 1 · Wonen in de wijk").click()
    write_article(
        page,
        "Het buurthuis blijft open",
        "De gemeente betaalt **nog drie jaar** mee.",
        image=photo,
        alt="Het buurthuis aan de Lindelaan",
    )
    write_article(page, "Huurders praten mee", "Een nieuw huurdersplatform begint.")
    articles = page.locator("ol.articles > li")
    expect(articles).to_have_count(2)
    expect(articles.first).to_contain_text("met afbeelding")

    # The preview shows the mail at phone and at computer width, side by side.
    page.get_by_role("link", name="Voorbeeld en controle").click()
    for frame_title in ("Voorbeeld op een telefoon", "Voorbeeld op een computer"):
        frame = page.get_by_title(frame_title).content_frame
        expect(frame.get_by_text("Het buurthuis blijft open")).to_be_visible()
        expect(frame.get_by_text("Huurders praten mee")).to_be_visible()
        expect(frame.get_by_alt_text("Het buurthuis aan de Lindelaan")).to_be_visible()
    snap(page, "flow-preview")
    page.get_by_role("button", name="Ter controle aanbieden").click()
    expect(page.get_by_text("Het nummer ligt ter controle.")).to_be_visible()
    assert status_on_preview(page) == "ter controle"
    preview_url = page.url

    # A second editor, in a browser of their own, approves it.
    other = new_context(browser, page.viewport_size or DESKTOP)
    other.set_default_timeout(5_000)
    try:
        second = other.new_page()
        log_in(second, live_server, SECOND_EDITOR)
        second.goto(preview_url)
        second.get_by_role("button", name="Goedkeuren").click()
        expect(second.get_by_text("Goedgekeurd. Het nummer kan nu")).to_be_visible()
        assert status_on_preview(second) == "goedgekeurd"
        expect(second.locator("#approval-heading + p")).to_contain_text(
            "Goedgekeurd door Bram Peters op"
        )
    finally:
        other.close()

    # The first editor sees the approval and schedules the issue.
    page.reload()
    assert status_on_preview(page) == "goedgekeurd"
    page.get_by_role("link", name="Inplannen").click()
    expect(page.get_by_text("Goedgekeurd door Bram Peters op")).to_be_visible()
    page.get_by_label("Datum").fill(SEND_DAY.isoformat())
    page.get_by_label("Tijd").fill("10:15")
    page.get_by_label("Nieuwsbrief", exact=True).check()
    page.get_by_role("button", name="Inplannen").click()
    anyway = page.get_by_label("Toch op dit moment versturen")
    if anyway.count():  # only on a public holiday or at night
        anyway.check()
        page.get_by_role("button", name="Inplannen").click()
    weekday_moment = f"{format_date(SEND_DAY, 'EEEE d MMMM y', locale='nl')} om 10:15"
    expect(page.get_by_text(f"Ingepland voor {weekday_moment}.")).to_be_visible()
    assert status_on_preview(page) == "ingepland"
    expect(page.locator("dl.details dt:text-is('Verzending') + dd")).to_have_text(
        f"{weekday_moment} · Nieuwsbrief"
    )
    snap(page, "flow-scheduled")

    # The year plan says the same at a glance.
    page.goto(f"{live_server.url}/admin/plan/{YEAR}")
    item = page.locator("li.timeline-item")
    expect(item.locator(".badge")).to_have_text("ingepland")
    weekday = format_date(SEND_DAY, "EEEE d MMMM", locale="nl")
    expect(item).to_contain_text(f"ingepland voor {weekday}")


@pytest.mark.parametrize("viewport", [PHONE], ids=["phone"], indirect=True)
def test_a_correspondent_submits_before_the_deadline_and_an_editor_takes_it_in(
    page: Page, browser: Browser, live_server: LiveServer
) -> None:
    make_accounts(
        live_server,
        (EDITOR, Role.EDITOR, "Anna de Vries"),
        (CORRESPONDENT, Role.CORRESPONDENT, "Fatima El Amrani"),
    )
    with live_server.app.app_context():
        issue = operations.plan_issue(
            year=YEAR,
            theme=None,
            planned_date=SEND_DAY,
            contribution_deadline=date(YEAR, 3, 1),
            title="Wonen in de wijk",
        )
        db.session.commit()
        issue_id = issue.id
        db.session.remove()

    # The correspondent finds the open issue and sends in a text.
    log_in(page, live_server, CORRESPONDENT)
    page.goto(live_server.url + "/admin/contributions/")
    open_issues = page.locator("ul.open-issues")
    expect(open_issues).to_contain_text(f"{YEAR} · nr. 1 · Wonen in de wijk")
    expect(open_issues).to_contain_text(re.compile(r"nog \d+ dagen"))
    open_issues.get_by_role("link", name=re.compile("Bijdrage insturen")).click()
    page.get_by_label("Titel").fill("Moestuin op het dak")
    page.get_by_label("Tekst", exact=True).fill(
        "Bewoners van de Eikenflat kweken sinds mei hun eigen groente."
    )
    page.get_by_role("button", name="Insturen").click()
    expect(page.get_by_text("De redactie heeft uw bijdrage ontvangen.")).to_be_visible()
    expect(page.locator(".contribution-status")).to_have_text("ingediend")

    # An editor takes it into the issue.
    other = new_context(browser, page.viewport_size or DESKTOP)
    other.set_default_timeout(5_000)
    try:
        editor = other.new_page()
        log_in(editor, live_server, EDITOR)
        editor.goto(live_server.url + "/admin/contributions/")
        waiting = editor.locator("section[aria-labelledby=waiting-heading]")
        expect(waiting).to_contain_text("Fatima El Amrani")
        waiting.get_by_role("link", name="Moestuin op het dak").click()
        editor.get_by_role("button", name="Overnemen in het nummer").click()
        expect(
            editor.get_by_text("De bijdrage staat nu als laatste artikel")
        ).to_be_visible()
        expect(editor.locator(".contribution-status")).to_have_text("overgenomen")

        # The article is in the issue, credited to the correspondent.
        editor.goto(f"{live_server.url}/admin/issues/{issue_id}")
        article = editor.locator("ol.articles > li")
        expect(article).to_have_count(1)
        expect(article.get_by_role("heading")).to_have_text("Moestuin op het dak")
        expect(article).to_contain_text("Door Fatima El Amrani")
        expect(article).to_contain_text("uit een bijdrage")
        editor.goto(f"{live_server.url}/admin/issues/{issue_id}/preview")
        frame = editor.get_by_title("Voorbeeld op een computer").content_frame
        expect(frame.get_by_text("Moestuin op het dak")).to_be_visible()
        expect(frame.get_by_text("Fatima El Amrani")).to_be_visible()
    finally:
        other.close()

    # The correspondent sees the decision on their own list.
    page.reload()
    expect(page.locator(".contribution-status")).to_have_text("overgenomen")
