"""Opens and clicks end to end: the mail each mode sends, the endpoints, the records."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import Headers
from werkzeug.test import Client

from service.db import utcnow
from service.delivery.models import Delivery
from service.delivery.scheduler import tick
from service.extensions import db
from service.subscribers import operations as subscribers
from service.subscribers.models import Subscriber, SubscriberEvent
from service.subscribers.notices import preferences_url_for
from service.tracking import links
from service.tracking.models import Link, TrackingCount, TrackingEvent
from service.tracking.operations import expire_events, keys, read_hit, record_hit
from service.tracking.recorder import EXTENSION, referrer_origin
from service.tracking.views import PIXEL
from tests.conftest import Outbox, html_of, make_list, text_of
from tests.tracking.conftest import (
    CIJFERS,
    RAPPORT,
    Sent,
    send_issue,
    written,
)

BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0"
)
TRACKING_URL = re.compile(r"http://localhost/t/[oc]/[^\"'\s<>]+")


def _two_readers(app: Flask, password_hash: str, **consent: bool) -> Sent:
    readers = {"ja@example.nl": True, "nee@example.nl": False}
    return send_issue(app, password_hash, {**readers, **consent}, utcnow())


def _mail_of(outbox: Outbox, address: str) -> tuple[str, str]:
    [message] = outbox.to(address)
    return html_of(message), text_of(message)


def _tracking_urls(html: str) -> list[str]:
    return TRACKING_URL.findall(html)


def _path(url: str) -> str:
    return url.removeprefix("http://localhost")


def _events() -> list[TrackingEvent]:
    return list(db.session.scalars(select(TrackingEvent).order_by(TrackingEvent.id)))


def _counts() -> dict[tuple[int, str, bool], int]:
    rows = db.session.execute(
        select(
            TrackingCount.link_id,
            TrackingCount.kind,
            TrackingCount.is_machine,
            func.sum(TrackingCount.count),
        ).group_by(TrackingCount.link_id, TrackingCount.kind, TrackingCount.is_machine)
    )
    return {(link, kind, machine): int(total) for link, kind, machine, total in rows}


# What each mode sends --------------------------------------------------------------


def test_a_default_install_mails_no_reader_identifier(
    app: Flask, outbox: Outbox, password_hash: str
) -> None:
    assert app.config["TRACKING_MODE"] == "anonymous"
    sent = _two_readers(app, password_hash)
    (html_ja, text_ja), (html_nee, text_nee) = (
        _mail_of(outbox, "ja@example.nl"),
        _mail_of(outbox, "nee@example.nl"),
    )
    urls = _tracking_urls(html_ja)
    assert urls and urls == _tracking_urls(html_nee)
    assert sum("/t/o/" in u for u in urls) == 1
    # Apart from the reader's own unsubscribe and preferences links, the two
    # messages are the same, byte for byte.
    for html in (html_ja, html_nee):
        assert "/preferences/" in html and "/unsubscribe/" in html
    own = re.compile(r"http://localhost/(unsubscribe|preferences)/[^\"'\s<>]+")
    assert own.sub("OWN", html_ja) == own.sub("OWN", html_nee)
    assert own.sub("OWN", text_ja) == own.sub("OWN", text_nee)
    for url in urls:
        assert "@" not in url and "~" not in url
        token = _path(url).split("/")[3].removesuffix(".gif")
        hit = links.read_token(keys(app.config), token, click="/t/c/" in url)
        assert hit is not None and hit.delivery_id is None
        assert hit.send_id == sent.send.id
    stored = {link.url for link in db.session.scalars(select(Link))}
    assert {CIJFERS, RAPPORT} <= stored
    assert not any(u.startswith("mailto:") for u in stored)
    assert "mailto:redactie@postbode.nl" in html_ja  # left as it was


def test_off_sends_the_links_as_written_and_no_pixel(
    app: Flask, outbox: Outbox, password_hash: str
) -> None:
    app.config["TRACKING_MODE"] = "off"
    _two_readers(app, password_hash)
    html, _text = _mail_of(outbox, "ja@example.nl")
    assert _tracking_urls(html) == []
    assert "/t/o/" not in html and 'width="1" height="1"' not in html
    assert f'href="{CIJFERS.replace("&", "&amp;")}"' in html
    assert f'href="{RAPPORT}"' in html
    assert db.session.scalar(select(func.count()).select_from(Link)) == 0


def test_personal_mode_names_only_the_readers_who_agreed(
    app: Flask, client: FlaskClient, outbox: Outbox, password_hash: str
) -> None:
    app.config["TRACKING_MODE"] = "personal"
    sent = _two_readers(app, password_hash)
    ja = sent.readers["ja@example.nl"]
    html_ja, _ = _mail_of(outbox, "ja@example.nl")
    html_nee, _ = _mail_of(outbox, "nee@example.nl")
    assert all("~" in u for u in _tracking_urls(html_ja))
    assert not any("~" in u for u in _tracking_urls(html_nee))
    assert "__PB_" not in html_ja + html_nee
    for html in (html_ja, html_nee):
        for url in _tracking_urls(html):
            response = client.get(_path(url), headers={"User-Agent": BROWSER})
            assert response.status_code in (200, 302)
    assert written(app) == 2 * len(_tracking_urls(html_ja))
    events = _events()
    named = {e.subscriber_id for e in events}
    assert named == {ja.id, None}
    assert sum(e.subscriber_id == ja.id for e in events) == len(events) // 2
    assert not any(e.is_machine for e in events)
    # A withdrawn consent ends it, also for the links in mails already sent.
    db.session.get(Subscriber, ja.id).tracking_consent = False
    db.session.commit()
    client.get(_path(_tracking_urls(html_ja)[0]), headers={"User-Agent": BROWSER})
    written(app)
    assert _events()[-1].subscriber_id is None


# The endpoints ------------------------------------------------------------------------


def test_a_click_goes_only_to_the_stored_url(
    app: Flask, client: FlaskClient, outbox: Outbox, password_hash: str
) -> None:
    _two_readers(app, password_hash)
    html, _ = _mail_of(outbox, "nee@example.nl")
    click = next(u for u in _tracking_urls(html) if "/t/c/" in u)
    target = db.session.scalar(select(Link.url).where(Link.position == 0))
    for extra in ("", "?url=https://evil.example", "?next=//evil.example"):
        response = client.get(_path(click) + extra)
        assert response.status_code == 302
        assert response.headers["Location"] == target
    assert client.head(_path(click)).headers["Location"] == target


def test_open_redirect_attempts_get_the_404_page(
    app: Flask, client: FlaskClient, outbox: Outbox, password_hash: str
) -> None:
    _two_readers(app, password_hash)
    html, _ = _mail_of(outbox, "nee@example.nl")
    token = _path(next(u for u in _tracking_urls(html) if "/t/c/" in u)).split("/")[3]
    hit = links.read_token(keys(app.config), token, click=True)
    assert hit is not None and hit.link_id is not None
    send_id, link_id = hit.send_id, hit.link_id
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    attempts = [
        "/t/c/unknown?url=https://evil.example",
        "/t/c/?url=https://evil.example",
        "/t/c//evil.example",
        "/t/c/%2F%2Fevil.example",
        f"/t/c/{tampered}",
        f"/t/c/{tampered}?url=https://evil.example",
        # Genuinely signed, but no such link, or another send's link.
        f"/t/c/{links.click_token(keys(app.config), send_id, link_id + 999)}",
        f"/t/c/{links.click_token(keys(app.config), send_id + 1, link_id)}",
        f"/t/c/{links.click_token(['some-other-key-0123456789'], send_id, link_id)}",
        f"/t/c/{links.open_token(keys(app.config), send_id)}",
    ]
    for path in attempts:
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 404, path
        assert "Location" not in response.headers, path
        assert "evil" not in response.get_data(as_text=True), path


def test_the_pixel_is_always_a_fresh_one_pixel_gif(
    app: Flask, client: FlaskClient, outbox: Outbox, password_hash: str
) -> None:
    _two_readers(app, password_hash)
    html, _ = _mail_of(outbox, "nee@example.nl")
    genuine = _path(next(u for u in _tracking_urls(html) if "/t/o/" in u))
    for path in (genuine, "/t/o/nonsense.gif", "/t/o/%3Cscript%3E.gif", "/t/o/.x.gif"):
        for method in (client.get, client.head):
            response = method(path)
            assert response.status_code == 200, path
            assert response.mimetype == "image/gif"
            assert "no-store" in response.headers["Cache-Control"]
            assert "Set-Cookie" not in response.headers
        assert client.get(path).data == PIXEL
    assert PIXEL.startswith(b"GIF89a\x01\x00\x01\x00")


def _without_vary(headers: Headers) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in headers.items() if k != "Vary")


def test_the_fast_answers_are_the_views_answers(
    app: Flask, client: FlaskClient, outbox: Outbox, password_hash: str
) -> None:
    # Genuine tokens are answered in front of Flask (service.tracking.dispatch);
    # the views behind it must give the same status, headers and body, and each
    # request is counted once whichever of the two answered it.
    _two_readers(app, password_hash)
    html, _ = _mail_of(outbox, "nee@example.nl")
    urls = [_path(u) for u in _tracking_urls(html)]
    views = Client(app.wsgi_app.inner)  # type: ignore[attr-defined]
    for path in urls:
        for method in ("GET", "HEAD"):
            fast = client.open(path, method=method, headers={"User-Agent": BROWSER})
            slow = views.open(path, method=method, headers={"User-Agent": BROWSER})
            assert fast.status == slow.status, path
            # Flask-Login's after_request touches the session on every response,
            # so Flask adds "Vary: Cookie"; neither answer depends on a cookie.
            assert _without_vary(fast.headers) == _without_vary(slow.headers), path
            assert fast.data == slow.data, path
    written(app)
    clicks = sum("/t/c/" in path for path in urls)
    assert sum(_counts().values()) == 4 * len(urls)
    assert sum(n for (link, _k, _m), n in _counts().items() if link) == 4 * clicks


def test_head_requests_scanners_and_bursts_are_counted_apart(
    app: Flask, client: FlaskClient, outbox: Outbox, password_hash: str
) -> None:
    _two_readers(app, password_hash)
    html, _ = _mail_of(outbox, "nee@example.nl")
    click = _path(next(u for u in _tracking_urls(html) if "/t/c/" in u))
    link_id = db.session.scalar(select(Link.id).where(Link.position == 0))
    client.head(click, headers={"User-Agent": BROWSER})
    client.get(click, headers={"User-Agent": "Barracuda Sentinel (EE)"})
    client.get(
        click, headers={"User-Agent": "Mozilla/5.0 (compatible; BingPreview/1.0b)"}
    )
    client.get(click, headers={"User-Agent": ""})  # no user agent at all
    client.get(click, headers={"User-Agent": BROWSER})
    # GoogleImageProxy loads images when the reader opens the mail: a real open.
    pixel = _path(next(u for u in _tracking_urls(html) if "/t/o/" in u))
    client.get(
        pixel, headers={"User-Agent": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)"}
    )
    written(app)
    assert _counts() == {
        (link_id, "click", True): 4,
        (link_id, "click", False): 1,
        (0, "open", False): 1,
    }
    # Within two seconds of the first message leaving: a gateway, whoever it says.
    token = pixel.split("/")[3].removesuffix(".gif")
    first = db.session.scalar(select(func.min(TrackingEvent.created_at)))
    first_sent = first - timedelta(hours=1)  # see send_issue
    sent_at = db.session.scalar(
        select(func.min(Delivery.sent_at)).where(Delivery.sent_at.is_not(None))
    )
    hit = read_hit(app, token, click=False)
    assert hit is not None
    record_hit(
        app,
        hit,
        user_agent=BROWSER,
        referrer=None,
        is_head=False,
        now=sent_at + timedelta(seconds=1),
    )
    written(app)
    assert _counts()[(0, "open", True)] == 1
    assert first_sent is not None


def test_counts_add_up_across_flushes_in_the_same_hour(
    app: Flask, client: FlaskClient, outbox: Outbox, password_hash: str
) -> None:
    _two_readers(app, password_hash)
    html, _ = _mail_of(outbox, "nee@example.nl")
    pixel = _path(next(u for u in _tracking_urls(html) if "/t/o/" in u))
    for _round in range(3):
        for _open in range(4):
            client.get(pixel, headers={"User-Agent": BROWSER})
        written(app)
    assert _counts() == {(0, "open", False): 12}
    assert len(_events()) == 12


def test_user_agents_are_stored_short_and_handed_out_as_data(
    app: Flask, client: FlaskClient, outbox: Outbox, password_hash: str
) -> None:
    app.config["TRACKING_MODE"] = "personal"
    sent = _two_readers(app, password_hash)
    html, _ = _mail_of(outbox, "ja@example.nl")
    pixel = _path(next(u for u in _tracking_urls(html) if "/t/o/" in u))
    script = "<script>alert('x')</script>\tX-Injected: 1\x1b[2J\x7f"
    client.get(pixel, headers={"User-Agent": script + "Mozilla " + "A" * 100_000})
    written(app)
    [event] = _events()
    assert len(event.user_agent) == 300
    assert event.user_agent.startswith("<script>alert('x')</script> X-Injected")
    assert event.user_agent.isprintable()
    ja = sent.readers["ja@example.nl"]
    token = preferences_url_for(ja.uid).rsplit("/", 1)[1]
    response = client.post(f"/preferences/{token}/data")
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    [shown] = data["tracking_events"]
    assert shown["kind"] == "open" and shown["user_agent"] == event.user_agent
    assert shown["referrer"] == ""
    click = _path(next(u for u in _tracking_urls(html) if "/t/c/" in u))
    client.get(click, headers={"User-Agent": BROWSER, "Referer": WEBMAIL})
    written(app)
    response = client.post(f"/preferences/{token}/data")
    data = json.loads(response.get_data(as_text=True))
    [_open, shown] = data["tracking_events"]
    assert shown["kind"] == "click" and shown["referrer"] == "https://mail.example.nl"


WEBMAIL = "https://mail.example.nl/inbox/123?id=9"


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (WEBMAIL, "https://mail.example.nl"),
        ("HTTPS://Mail.Example.NL:443/#inbox", "https://mail.example.nl"),
        ("http://192.0.2.7:8080/webmail/", "http://192.0.2.7:8080"),
        ("https://[2001:DB8::1]/x", "https://[2001:db8::1]"),
        ("javascript:alert(1)", ""),
        ("data:text/html,<script>alert(1)</script>", ""),
        ("ftp://files.example.nl/", ""),
        ("//mail.example.nl/inbox", ""),
        ("https://lezer:geheim@mail.example.nl/", ""),
        ("https://<script>alert(1)</script>/", ""),
        ("https://mail.example.nl:99999/", ""),
        ("niet een adres", ""),
        ("", ""),
        (None, ""),
        ("https://" + "a" * 10_000, "https://" + "a" * 192),
    ],
)
def test_a_referrer_is_kept_as_its_origin_or_not_at_all(
    sent: str | None, stored: str
) -> None:
    assert referrer_origin(sent) == stored


def test_a_click_stores_its_referrers_origin_by_either_road(
    app: Flask, client: FlaskClient, outbox: Outbox, password_hash: str
) -> None:
    # The dispatch in front of Flask and the views behind it store the same.
    _two_readers(app, password_hash)
    html, _ = _mail_of(outbox, "nee@example.nl")
    click = _path(next(u for u in _tracking_urls(html) if "/t/c/" in u))
    pixel = _path(next(u for u in _tracking_urls(html) if "/t/o/" in u))
    views = Client(app.wsgi_app.inner)  # type: ignore[attr-defined]
    sent = [WEBMAIL, "javascript:alert(document.cookie)", "%%garbage <b>", ""]
    for referrer in sent:
        for road in (client, views):
            headers = {"User-Agent": BROWSER, "Referer": referrer}
            assert road.get(click, headers=headers).status_code == 302
    client.get(pixel, headers={"User-Agent": BROWSER, "Referer": WEBMAIL})
    written(app)
    stored = [(e.kind, e.referrer) for e in _events()]
    assert stored == [
        ("click", "https://mail.example.nl"),
        ("click", "https://mail.example.nl"),
        *[("click", "")] * 6,
        ("open", ""),  # a pixel's referrer is not kept
    ]


# Keeping and forgetting -------------------------------------------------------------


def test_old_events_expire_and_the_counts_stay(
    app: Flask, client: FlaskClient, outbox: Outbox, password_hash: str
) -> None:
    _two_readers(app, password_hash)
    html, _ = _mail_of(outbox, "nee@example.nl")
    pixel = _path(next(u for u in _tracking_urls(html) if "/t/o/" in u))
    client.get(pixel, headers={"User-Agent": BROWSER})
    client.get(pixel, headers={"User-Agent": BROWSER})
    written(app)
    [old, recent] = _events()
    old.created_at = utcnow() - timedelta(days=200)
    db.session.commit()
    assert expire_events(utcnow(), 365) == 0
    tick(utcnow())  # the clock expires with the setting: 183 days
    db.session.expire_all()
    assert [e.id for e in _events()] == [recent.id]
    assert _counts() == {(0, "open", False): 2}


def test_erasing_a_reader_erases_their_events(
    app: Flask, client: FlaskClient, outbox: Outbox, password_hash: str
) -> None:
    app.config["TRACKING_MODE"] = "personal"
    sent = _two_readers(app, password_hash)
    html, _ = _mail_of(outbox, "ja@example.nl")
    for url in _tracking_urls(html):
        client.get(_path(url), headers={"User-Agent": BROWSER})
    written(app)
    ja = sent.readers["ja@example.nl"]
    mine = select(func.count()).where(TrackingEvent.subscriber_id == ja.id)
    assert db.session.scalar(mine) == len(_tracking_urls(html))
    subscribers.erase_subscriber(db.session.get(Subscriber, ja.id))
    db.session.commit()
    assert db.session.scalar(mine) == 0
    assert db.session.scalar(select(func.count()).select_from(TrackingEvent)) == 0
    assert sum(_counts().values()) == len(_tracking_urls(html))


# The reader's choice ------------------------------------------------------------------

CHOICE = "Ja, jullie mogen bijhouden of ik de nieuwsbrief open"


def test_the_choice_is_offered_only_in_personal_mode(
    app: Flask, client: FlaskClient
) -> None:
    make_list()
    make_list("bulletin", "Bulletin")  # two lists: the page then preselects none
    db.session.commit()
    assert CHOICE not in client.get("/subscribe").get_data(as_text=True)
    app.config["TRACKING_MODE"] = "personal"
    assert CHOICE in client.get("/subscribe").get_data(as_text=True)


def test_signup_and_preferences_record_the_choice(
    app: Flask, client: FlaskClient
) -> None:
    app.config["TRACKING_MODE"] = "personal"
    mailing_list = make_list()
    db.session.commit()
    response = client.post(
        "/subscribe",
        data={"email": "keuze@example.nl", "lists": [mailing_list.id], "tracking": "y"},
    )
    assert response.status_code == 302
    reader = db.session.scalar(select(Subscriber).filter_by(email="keuze@example.nl"))
    assert reader.tracking_consent is True
    token = preferences_url_for(reader.uid).rsplit("/", 1)[1]
    page = client.get(f"/preferences/{token}").get_data(as_text=True)
    assert CHOICE in page and "checked" in page
    client.post(f"/preferences/{token}", data={"name": "", "locale": "nl"})
    db.session.expire_all()
    assert reader.tracking_consent is False
    choices = [
        e.detail
        for e in db.session.scalars(
            select(SubscriberEvent).filter_by(
                subscriber_id=reader.id, kind="tracking-consent"
            )
        )
    ]
    assert choices == [
        {"given": True, "via": "signup"},
        {"given": False, "via": "preferences"},
    ]


def test_nothing_is_started_before_the_first_event(
    app: Flask, client: FlaskClient, outbox: Outbox, password_hash: str
) -> None:
    _two_readers(app, password_hash)
    assert EXTENSION not in app.extensions  # no buffer, no thread at start-up
    html, _ = _mail_of(outbox, "nee@example.nl")
    client.get(_path(_tracking_urls(html)[0]), headers={"User-Agent": BROWSER})
    assert app.extensions[EXTENSION]._thread.is_alive()
    assert written(app) + len(_events()) >= 1


def test_switching_tracking_off_keeps_old_links_working_and_counts_nothing(
    app: Flask, client: FlaskClient, outbox: Outbox, password_hash: str
) -> None:
    _two_readers(app, password_hash)
    app.config["TRACKING_MODE"] = "off"
    html, _ = _mail_of(outbox, "nee@example.nl")
    click = _path(next(u for u in _tracking_urls(html) if "/t/c/" in u))
    assert client.get(click).status_code == 302
    assert EXTENSION not in app.extensions
    assert _events() == [] and _counts() == {}
