"""Messages are built with the standard library, safely, one recipient each."""

from email import policy
from email.parser import BytesParser

from service.mail.message import build_message


def _parse(raw: bytes):  # noqa: ANN202 - an EmailMessage
    return BytesParser(policy=policy.strict).parsebytes(raw)


def test_a_name_with_a_line_break_cannot_inject_a_header() -> None:
    message = build_message(
        sender="nieuwsbrief@postbode.nl",
        to="lezer@example.nl",
        to_name="Jan\r\nBcc: everyone@example.nl",
        subject="Hallo\r\nBcc: x@example.nl",
        text="tekst",
    )
    parsed = _parse(message.as_bytes())
    assert parsed["Bcc"] is None
    assert len(parsed.get_all("To")) == 1
    assert parsed["To"].addresses[0].addr_spec == "lezer@example.nl"
    assert "Bcc" in parsed["To"].addresses[0].display_name  # harmless text now


def test_no_line_exceeds_998_octets_even_with_long_html_lines() -> None:
    html = "<p>" + "é lange regel zonder einde " * 300 + "</p>"
    assert len(html) > 2000
    message = build_message(
        sender="nieuwsbrief@postbode.nl",
        to="lezer@example.nl",
        subject="Lang",
        text="x" * 1500,
        html=html,
    )
    raw = message.as_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert _parse(raw).get_body(("html",)).get_content().strip() == html


def test_message_id_uses_our_domain_and_idn_domains_are_encoded() -> None:
    message = build_message(
        sender="nieuwsbrief@postbode.nl",
        to="jan+nieuws@bücher.example",
        subject="Hoi",
        text="tekst",
    )
    assert message["Message-ID"].endswith("@postbode.nl>")
    assert "xn--bcher-kva.example" in str(message["To"])
    assert message.as_bytes().isascii()
