"""Link rewriting, tokens and the scanner rules, without an app."""

from __future__ import annotations

from datetime import datetime, timedelta

from service.rendering import SLOT_PREFERENCES_URL, SLOT_READER, SLOT_UNSUBSCRIBE_URL
from service.tracking import links
from service.tracking.machines import is_burst, is_scanner_agent

KEYS = ["old-key-0123456789", "current-key-0123456789"]
SLOTS = (SLOT_UNSUBSCRIBE_URL, SLOT_PREFERENCES_URL, SLOT_READER)
BASE = "https://postbode.example.nl"
HTML = f"""<html><body>
<a href="https://example.org/a?x=1&amp;y=2" style="color:red">Eerste  <b>link</b></a>
<a class="k" href='https://example.org/b'>Tweede</a>
<a href="https://example.org/a?x=1&amp;y=2">Nog eens de eerste</a>
<a href="mailto:redactie@postbode.nl">mail</a>
<a href="#top">boven</a>
<a href="/relatief">relatief</a>
<a href="{SLOT_UNSUBSCRIBE_URL}">Afmelden</a>
<a href="{SLOT_PREFERENCES_URL}">Voorkeuren</a>
<a name="top">geen href</a>
</body></html>"""


def test_only_distinct_web_links_are_found_with_their_text_and_order() -> None:
    found = links.find_links(HTML, SLOTS)
    assert [(f.url, f.text, f.position) for f in found] == [
        ("https://example.org/a?x=1&y=2", "Eerste link", 0),
        ("https://example.org/b", "Tweede", 1),
    ]


def test_rewriting_changes_only_the_tracked_hrefs_and_adds_one_pixel() -> None:
    ids = {"https://example.org/a?x=1&y=2": 7, "https://example.org/b": 8}
    out = links.rewrite(HTML, ids, base_url=BASE, keys=KEYS, send_id=3, slots=SLOTS)
    assert "https://example.org/" not in out
    assert out.count(f'href="{BASE}/t/c/') == 3
    for kept in ("mailto:redactie@postbode.nl", "#top", "/relatief"):
        assert f'href="{kept}"' in out
    assert f'href="{SLOT_UNSUBSCRIBE_URL}"' in out
    assert f'href="{SLOT_PREFERENCES_URL}"' in out
    assert 'style="color:red"' in out and 'class="k"' in out
    assert out.count("<img") == 1
    assert out.index("<img") < out.index("</body>")
    assert f'src="{BASE}/t/o/' in out and 'width="1" height="1" alt=""' in out
    assert SLOT_READER not in out  # anonymous: nothing per reader


def test_personal_urls_end_in_the_reader_slot() -> None:
    ids = {"https://example.org/b": 8}
    out = links.rewrite(
        HTML,
        ids,
        base_url=BASE,
        keys=KEYS,
        send_id=3,
        reader_slot=SLOT_READER,
        slots=SLOTS,
    )
    assert out.count(SLOT_READER) == 2  # one link and the pixel
    assert f'{SLOT_READER}.gif"' in out


def test_tokens_name_the_send_and_link_and_nothing_else() -> None:
    token = links.click_token(KEYS, 3, 8)
    assert links.read_token(KEYS, token, click=True) == links.Hit(3, 8, None)
    assert links.read_token(KEYS, links.open_token(KEYS, 3), click=False) == (
        links.Hit(3, None, None)
    )
    # An open token is no click token and the reverse.
    assert links.read_token(KEYS, token, click=False) is None
    assert links.read_token(KEYS, links.open_token(KEYS, 3), click=True) is None


def test_a_tampered_or_foreign_token_is_refused() -> None:
    token = links.click_token(KEYS, 3, 8)
    assert (
        links.read_token(
            KEYS, token[:-1] + ("A" if token[-1] != "A" else "B"), click=True
        )
        is None
    )
    assert links.read_token(["another-key-0123456789"], token, click=True) is None
    assert links.read_token(KEYS, "", click=True) is None
    assert links.read_token(KEYS, "//evil.example", click=True) is None


def test_old_keys_still_verify_and_the_current_key_signs() -> None:
    token = links.click_token(KEYS[:1], 3, 8)  # signed before a rotation
    assert links.read_token(KEYS, token, click=True) == links.Hit(3, 8, None)


def test_the_reader_piece_is_signed_apart_and_names_only_the_delivery() -> None:
    value = links.reader_value(KEYS, 41)
    assert value.startswith("~")
    token = links.click_token(KEYS, 3, 8) + value
    assert links.read_token(KEYS, token, click=True) == links.Hit(3, 8, 41)
    # A forged piece drops the reader, not the click.
    forged = links.click_token(KEYS, 3, 8) + "~" + links.click_token(KEYS, 41, 1)
    assert links.read_token(KEYS, forged, click=True) == links.Hit(3, 8, None)


def test_scanners_and_scripts_are_told_from_mail_clients() -> None:
    for agent in (
        "",
        "Mozilla/5.0 (compatible; BingPreview/1.0b)",
        "Barracuda Sentinel (EE)",
        "python-requests/2.31",
        "curl/8.5.0",
        "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0",
        "Slackbot-LinkExpanding 1.0",
        "Microsoft Office Existence Discovery",
    ):
        assert is_scanner_agent(agent), agent
    for agent in (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/123.0",
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
        "(via ggpht.com GoogleImageProxy)",
        "Mozilla/5.0 (Linux; Android 12; Cubot X50) Mobile",
    ):
        assert not is_scanner_agent(agent), agent


def test_events_within_seconds_of_sending_are_a_burst() -> None:
    sent = datetime(2026, 3, 2, 9, 0, 0)
    assert is_burst(sent + timedelta(seconds=1), sent)
    assert is_burst(sent, None)  # not even recorded as sent yet
    assert not is_burst(sent + timedelta(seconds=30), sent)
