"""Tracking as a send and the site need it: prepare a send's HTML, record, expire.

Operations change the session and flush; the caller commits. What TRACKING_MODE
means is decided here, once:

- off: the message is left as the editors made it, and nothing is recorded;
- anonymous: one pixel and one click URL per send and link, the same for every
  reader, so nothing in the mail or the events can tell readers apart;
- personal: the same URLs end in the READER slot, which the engine fills with a
  signed piece naming the delivery only for readers who agreed, else with nothing.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import delete, select

from service.delivery.models import Send
from service.extensions import db
from service.rendering import SLOT_READER, SLOTS
from service.subscribers.models import Subscriber
from service.subscribers.operations import personal_data_requested
from service.subscribers.tokens import signing_keys
from service.tracking import links
from service.tracking.machines import is_scanner_agent
from service.tracking.models import Link, TrackingEvent
from service.tracking.recorder import (
    Event,
    clean_agent,
    recorder_for,
    referrer_origin,
)


def keys(config: dict[str, Any]) -> list[str]:
    """Return the signing keys: the fallbacks, then SECRET_KEY."""
    return signing_keys(config["SECRET_KEY"], config["SECRET_KEY_FALLBACKS"])


def track_send(send: Send) -> str:
    """Store the send's links and return its HTML with click URLs and a pixel.

    With TRACKING_MODE off the HTML is returned unchanged and no Link is stored.
    """
    config = current_app.config
    mode = config["TRACKING_MODE"]
    if mode == "off":
        return send.html
    found = links.find_links(send.html, SLOTS)
    rows = [
        Link(send_id=send.id, url=item.url, text=item.text, position=item.position)
        for item in found
    ]
    db.session.add_all(rows)
    db.session.flush()
    return links.rewrite(
        send.html,
        {row.url: row.id for row in rows},
        base_url=config["BASE_URL"],
        keys=keys(config),
        send_id=send.id,
        reader_slot=SLOT_READER if mode == "personal" else "",
        slots=SLOTS,
    )


def reader_slot_value(
    config: dict[str, Any], delivery_id: int, tracking_consent: bool
) -> str:
    """Return what fills a reader's READER slot: a signed piece only with consent."""
    if config["TRACKING_MODE"] != "personal" or not tracking_consent:
        return ""
    return links.reader_value(keys(config), delivery_id)


def read_hit(app: Flask, token: str, *, click: bool) -> links.Hit | None:
    """Return what a tracking token names, or None when it is not ours or tampered."""
    return links.read_token(keys(app.config), token, click=click)


def record_hit(
    app: Flask,
    hit: links.Hit,
    *,
    user_agent: str | None,
    referrer: str | None,
    is_head: bool,
    now: datetime,
) -> None:
    """Queue the event of a verified hit; with TRACKING_MODE off, count nothing.

    Only a click keeps its referrer, and only as an origin: that tells editors
    where readers click (a webmail, a forwarded page); a pixel's referrer would add
    nothing the user agent does not. Nothing is written here (see recorder): the
    endpoints stay as fast as a static file.
    """
    if app.config["TRACKING_MODE"] == "off":
        return
    agent = clean_agent(user_agent)
    is_click = hit.link_id is not None
    recorder_for(app).add(
        Event(
            kind="click" if is_click else "open",
            send_id=hit.send_id,
            link_id=hit.link_id,
            delivery_id=hit.delivery_id,
            user_agent=agent,
            referrer=referrer_origin(referrer) if is_click else "",
            is_machine=is_head or is_scanner_agent(agent),
            at=now,
        )
    )


#: how long a process trusts what it read of a link
LINK_CACHE_SECONDS = 60.0
#: at most this many links per process (a few hundred a year is usual)
LINK_CACHE_SIZE = 10_000


#: the extension key of each app's LinkCache
LINK_CACHE = "postbode.tracking.links"


class LinkCache:
    """Each link's send and URL, kept per process for LINK_CACHE_SECONDS.

    A link never changes once its send is frozen, so a click need not ask the
    database every time; the expiry bounds how long a deleted send's links still
    redirect (to the address its editors wrote), and LINK_CACHE_SIZE bounds memory.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._entries: dict[int, tuple[float, int, str | None]] = {}
        self._lock = threading.Lock()

    def url(self, send_id: int, link_id: int) -> str | None:
        """Return the URL of the link, or None when that send has no such link."""
        now = time.monotonic()
        entry = self._entries.get(link_id)
        if entry is None or entry[0] < now:
            entry = (now + LINK_CACHE_SECONDS, *self._load(link_id))
            with self._lock:
                if len(self._entries) >= LINK_CACHE_SIZE:
                    self._entries.clear()
                self._entries[link_id] = entry
        _expires, owner, url = entry
        return url if owner == send_id else None

    def _load(self, link_id: int) -> tuple[int, str | None]:
        with self.app.app_context():
            row = db.session.execute(
                select(Link.send_id, Link.url).where(Link.id == link_id)
            ).first()
            db.session.remove()
        return (row.send_id, row.url) if row is not None else (0, None)


def link_url(app: Flask, send_id: int, link_id: int) -> str | None:
    """Return the stored URL a click token names, if the link belongs to that send."""
    cache = app.extensions.get(LINK_CACHE)
    if cache is None:
        cache = app.extensions.setdefault(LINK_CACHE, LinkCache(app))
    return cache.url(send_id, link_id)


def flush(app: Flask) -> int:
    """Write the app's waiting events now (tests, shutdown); return how many."""
    return recorder_for(app).flush()


def expire_events(now: datetime, days: int) -> int:
    """Delete raw events older than `days`; the hourly counts stay. Return how many."""
    result = db.session.execute(
        delete(TrackingEvent)
        .where(TrackingEvent.created_at < now - timedelta(days=days))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


@personal_data_requested.connect
def tracking_data(subscriber: Subscriber) -> dict[str, Any]:
    """Add the reader's own opens and clicks to their data download (GDPR art. 15)."""
    rows = db.session.execute(
        select(
            TrackingEvent.kind,
            TrackingEvent.created_at,
            TrackingEvent.user_agent,
            TrackingEvent.referrer,
            TrackingEvent.is_machine,
            Link.url,
        )
        .outerjoin(Link, Link.id == TrackingEvent.link_id)
        .where(TrackingEvent.subscriber_id == subscriber.id)
        .order_by(TrackingEvent.id)
    )
    return {
        "tracking_events": [
            {
                "kind": row.kind,
                "at": row.created_at.isoformat() + "Z",
                "link": row.url,
                "user_agent": row.user_agent,
                "referrer": row.referrer,
                "is_machine": row.is_machine,
            }
            for row in rows
        ]
    }
