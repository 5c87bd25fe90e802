"""The message built once per send: what each reader's copy looks like on the wire."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from service.mail.frozen import FrozenMessage

SLOT = "%%UNSUBSCRIBE%%"


def _frozen(text: str) -> FrozenMessage:
    return FrozenMessage.build(
        sender="nieuws@postbode.nl",
        sender_name="Sociale Alliantie",
        subject="Nieuwsbrief",
        text=text,
        html=f"<p>{text}</p><p><a href='{SLOT}'>Afmelden</a></p>",
        headers={},
        slot_names=(SLOT,),
    )


def test_no_line_starts_with_a_dot_so_smtp_has_nothing_to_double() -> None:
    # Quoted-printable wraps at 76: these sentences put a full stop at the start of
    # wrapped lines, and one line of the text starts with a dot of its own.
    text = (
        "Armoede in Nederland" + "x" * 55 + ". Gemeenten moeten meer doen" + "y" * 40
        + ". En het Rijk ook.\n.Een regel die met een punt begint.\n."
    )  # fmt: skip
    # …and the reader's link wraps with its dot at the start of a line.
    value = "https://postbode.example.nl/unsubscribe/" + "a" * 35 + "." + "b" * 40
    message = _frozen(text).render(
        to="lezer@example.nl",
        to_name="Lezer",
        message_id="<1.2@postbode.nl>",
        values={SLOT: value},
    )

    assert b"\n." not in message and not message.startswith(b".")
    assert all(len(line) <= 76 for line in message.split(b"\r\n")[12:])
    parsed = BytesParser(policy=policy.default).parsebytes(message)
    plain = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert plain.replace("\r\n", "\n").rstrip("\n") == text.rstrip("\n")
    assert f"href='{value}'" in html
