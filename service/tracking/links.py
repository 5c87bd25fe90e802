"""Pure link tracking: find a send's links, sign tracking tokens, rewrite the HTML.

Nothing here reads the app, the request or the database: callers pass the base URL,
the signing keys and the link ids in. A token names a send (and a link) and nothing
else; it is the same for every reader. In personal mode a separate signed piece that
names only the delivery is appended per reader through the READER slot (see
`reader_value`), and only for readers who agreed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from html.parser import HTMLParser
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer

#: itsdangerous salts of their own, so no other token of ours is valid here
SEND_SALT = "postbode.tracking"
READER_SALT = "postbode.tracking-reader"
#: joins a token and the reader piece; unreserved in URLs (RFC 3986 §2.3) and never
#: produced by itsdangerous (base64url and ".")
READER_SEPARATOR = "~"
#: the longest link text kept for the heat list (Link.text is String(200))
TEXT_LIMIT = 200


@dataclass(frozen=True)
class FoundLink:
    """A distinct destination in a message, with its first text and position."""

    url: str
    text: str
    position: int


def is_tracked(url: str, slots: Sequence[str] = ()) -> bool:
    """Tell whether a link is rewritten: absolute http(s), not a per-reader slot.

    mailto:, tel:, anchors (#…), relative links and the unsubscribe and preferences
    slots stay as they are: they are not clicks to count, or they are per reader.
    """
    if any(slot in url for slot in slots):
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


@dataclass
class _Anchor:
    start: int  #: offset of "<a" in the source
    end: int  #: offset just after the start tag's ">"
    url: str
    text: list[str]


class _AnchorParser(HTMLParser):
    """Collect every <a href> with where its start tag is and the text inside it."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[_Anchor] = []
        self._open: _Anchor | None = None
        # Offsets of line starts, to turn getpos() (line, column) into an offset.
        self._lines = [0]
        for index, char in enumerate(source):
            if char == "\n":
                self._lines.append(index + 1)

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._lines[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        href = next((value for name, value in attrs if name == "href"), None)
        if href is None:
            self._open = None
            return
        start = self._offset()
        raw = self.get_starttag_text() or ""
        self._open = _Anchor(start, start + len(raw), href, [])
        self.anchors.append(self._open)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.text.append(data)


def _anchors(html: str) -> list[_Anchor]:
    parser = _AnchorParser(html)
    parser.feed(html)
    parser.close()
    return parser.anchors


def find_links(html: str, slots: Sequence[str] = ()) -> list[FoundLink]:
    """Return the distinct tracked destinations of a message in order of appearance."""
    found: dict[str, FoundLink] = {}
    for anchor in _anchors(html):
        url = anchor.url.strip()
        if url in found or not is_tracked(url, slots):
            continue
        text = " ".join("".join(anchor.text).split())[:TEXT_LIMIT]
        found[url] = FoundLink(url=url, text=text, position=len(found))
    return list(found.values())


# Tokens ------------------------------------------------------------------------------


def _serializer(keys: Sequence[str], salt: str) -> URLSafeSerializer:
    return _cached_serializer(tuple(keys), salt)


@lru_cache(maxsize=32)
def _cached_serializer(keys: tuple[str, ...], salt: str) -> URLSafeSerializer:
    # Untimed: links in a mail keep working; itsdangerous signs with the last key and
    # verifies with all, so rotating SECRET_KEY keeps old mails' links valid. Built
    # once per key set: every pixel and click verifies with it.
    return URLSafeSerializer(list(keys), salt=salt)


def open_token(keys: Sequence[str], send_id: int) -> str:
    """Return the signed token of a send's open pixel."""
    return _serializer(keys, SEND_SALT).dumps([send_id])


def click_token(keys: Sequence[str], send_id: int, link_id: int) -> str:
    """Return the signed token of one link of a send."""
    return _serializer(keys, SEND_SALT).dumps([send_id, link_id])


def reader_value(keys: Sequence[str], delivery_id: int) -> str:
    """Return what fills the READER slot for a consenting reader: "~" and the piece.

    The piece names the delivery only (no address, no subscriber id); the flusher
    finds the reader and checks their consent again when it writes the event.
    """
    return READER_SEPARATOR + _serializer(keys, READER_SALT).dumps(delivery_id)


@dataclass(frozen=True)
class Hit:
    """What a tracking URL says once verified: the send, the link, the delivery."""

    send_id: int
    link_id: int | None
    delivery_id: int | None


def read_token(keys: Sequence[str], token: str, *, click: bool) -> Hit | None:
    """Return what a tracking token names, or None when it is not ours or tampered.

    A bad reader piece only drops the reader: the open or click still counts.
    """
    main, _sep, piece = token.partition(READER_SEPARATOR)
    try:
        payload = _serializer(keys, SEND_SALT).loads(main)
    except BadSignature:
        return None
    if not (isinstance(payload, list) and all(type(v) is int for v in payload)):
        return None
    if len(payload) != (2 if click else 1):
        return None
    delivery_id = None
    if piece:
        try:
            value = _serializer(keys, READER_SALT).loads(piece)
        except BadSignature:
            value = None
        delivery_id = value if type(value) is int else None
    return Hit(payload[0], payload[1] if click else None, delivery_id)


# Rewriting ---------------------------------------------------------------------------


def open_url(base_url: str, keys: Sequence[str], send_id: int, reader_slot: str) -> str:
    """Return the pixel's URL; `reader_slot` is "" or the READER slot name."""
    return f"{base_url}/t/o/{open_token(keys, send_id)}{reader_slot}.gif"


def click_url(
    base_url: str, keys: Sequence[str], send_id: int, link_id: int, reader_slot: str
) -> str:
    """Return a link's click URL; `reader_slot` is "" or the READER slot name."""
    return f"{base_url}/t/c/{click_token(keys, send_id, link_id)}{reader_slot}"


def pixel(url: str) -> str:
    """Return the open pixel's tag: 1×1, empty alt so screen readers skip it."""
    return (
        f'<img src="{escape(url)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0" />'
    )


def rewrite(
    html: str,
    link_ids: Mapping[str, int],
    *,
    base_url: str,
    keys: Sequence[str],
    send_id: int,
    reader_slot: str = "",
    slots: Sequence[str] = (),
) -> str:
    """Point every tracked link at its click URL and add the open pixel before </body>.

    `link_ids` maps each destination (as `find_links` returned it) to its Link id;
    links not in it are left alone. Only the href value changes, nothing else in the
    tag or the message.
    """
    base_url = base_url.rstrip("/")
    out: list[str] = []
    done = 0
    for anchor in _anchors(html):
        url = anchor.url.strip()
        if url not in link_ids or not is_tracked(url, slots):
            continue
        tag = html[anchor.start : anchor.end]
        target = click_url(base_url, keys, send_id, link_ids[url], reader_slot)
        out.append(html[done : anchor.start])
        out.append(_replace_href(tag, target))
        done = anchor.end
    out.append(html[done:])
    rewritten = "".join(out)
    image = pixel(open_url(base_url, keys, send_id, reader_slot))
    at = rewritten.lower().rfind("</body>")
    if at == -1:
        return rewritten + image
    return rewritten[:at] + image + rewritten[at:]


def _replace_href(tag: str, target: str) -> str:
    """Return the start tag with its href value replaced (quoted or not)."""
    lower = tag.lower()
    index = 0
    while True:
        index = lower.find("href", index)
        if index == -1:
            return tag  # pragma: no cover - the parser saw an href in this tag
        before = lower[index - 1] if index else " "
        rest = index + 4
        while rest < len(tag) and tag[rest].isspace():
            rest += 1
        if before.isspace() and rest < len(tag) and tag[rest] == "=":
            break
        index += 4
    value = rest + 1
    while value < len(tag) and tag[value].isspace():
        value += 1
    quote = tag[value] if tag[value] in "\"'" else ""
    if quote:
        end = tag.index(quote, value + 1) + 1
    else:
        end = value
        while end < len(tag) and not tag[end].isspace() and tag[end] != ">":
            end += 1
    return f'{tag[:index]}href="{escape(target)}"{tag[end:]}'
