"""Every text on a page or in a mail exists in Dutch (the source) and in English."""

import subprocess
import sys
from datetime import datetime
from pathlib import Path

from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from service.extensions import db
from tests.conftest import login, make_subscriber, make_user

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "service" / "translations" / "en" / "LC_MESSAGES" / "messages.po"


def test_every_text_has_an_english_translation(tmp_path: Path) -> None:
    template = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "_l", "-o", str(template), "--no-location", "."],
        cwd=ROOT,
        check=True,
    )  # fmt: skip
    with template.open("rb") as handle:
        wanted = {m.id for m in read_po(handle) if m.id}
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted((i if isinstance(i, str) else i[0]) for i in wanted - translated)
    assert missing == [], f"{len(missing)} texts lack English (run make translations)"


def test_a_visitor_can_switch_the_signup_page_to_english(client: FlaskClient) -> None:
    page = client.get("/subscribe?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "E-mail address" in page
    assert "Nederlands" in page  # the way back
    assert '<html lang="en">' in client.get("/subscribe").get_data(as_text=True)


def test_english_admin_pages_write_dates_day_first_on_a_24_hour_clock(
    client: FlaskClient,
) -> None:
    subscriber = make_subscriber()
    subscriber.created_at = datetime(2026, 11, 27, 22, 45)  # UTC: 23:45 in Amsterdam
    db.session.commit()
    login(client, make_user())
    page = client.get(f"/admin/subscribers/{subscriber.id}?lang=en")
    text = page.get_data(as_text=True)
    assert "Since" in text  # the English texts, not only the formats
    assert "27/11/2026, 23:45" in text
    assert "11/27/26" not in text and "PM" not in text
