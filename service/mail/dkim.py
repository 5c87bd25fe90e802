"""DKIM signatures over the exact bytes that are sent (dkimpy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dkim

#: the headers the signature covers; List-Unsubscribe and its -Post companion too,
#: because RFC 8058 §4 requires them to be signed for one-click to be trusted
SIGNED_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
    b"content-type", b"list-id", b"list-unsubscribe", b"list-unsubscribe-post",
)  # fmt: skip


@dataclass(frozen=True)
class Signer:
    """Signs messages for one domain with one key."""

    domain: bytes
    selector: bytes
    private_key: bytes

    @classmethod
    def from_config(cls, config: dict) -> Signer | None:
        """Return a signer when DKIM is configured, else None."""
        if not config.get("DKIM_PRIVATE_KEY_FILE"):
            return None
        return cls(
            domain=config["DKIM_DOMAIN"].encode(),
            selector=config["DKIM_SELECTOR"].encode(),
            private_key=Path(config["DKIM_PRIVATE_KEY_FILE"]).read_bytes(),
        )

    def sign(self, message: bytes) -> bytes:
        """Return the message with a DKIM-Signature header in front."""
        present = {
            line.split(b":", 1)[0].strip().lower()
            for line in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            if line and not line[:1].isspace()
        }
        headers = [name for name in SIGNED_HEADERS if name in present]
        signature = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.private_key,
            include_headers=headers,
            linesep=b"\r\n",
        )
        return signature + message
