"""Reading bounces, pure: what each server's bounce says, whose it is, what is refused.

No app and no database: these take bytes and return values.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from service.delivery import bounces, verp

CORPUS = Path(__file__).parent / "bounces"
SECRET = "test-secret-key-0123456789"
OLD_SECRET = "an-old-key-from-before-rotation"
BOUNCE_ADDRESS = "bounces@postbode.example.nl"
DELIVERY = 42


def tag_for(delivery_id: int, secret: str = SECRET) -> str:
    """Return the signed tag the sender puts in the envelope for a delivery."""
    address = verp.bounce_address(BOUNCE_ADDRESS, secret, delivery_id)
    return address.split("+", 1)[1].split("@", 1)[0]


def corpus_message(name: str, tag: str | None = None) -> bytes:
    """Return a corpus file with the tag filled in (a genuine one by default)."""
    raw = (CORPUS / name).read_bytes()
    return raw.replace(b"{TAG}", (tag or tag_for(DELIVERY)).encode())


def report_of(raw: bytes, envelope: tuple[str, ...] = ()) -> bounces.Report:
    return bounces.parse_report(bounces.read_message(raw), envelope)


#: file -> (kind, how it was recognised, status code)
EXPECTED = {
    "postfix_user_unknown.eml": ("hard", "dsn", "5.1.1"),
    "postfix_delayed_mailbox_full.eml": ("soft", "dsn", "4.2.2"),
    "exim_permanent.eml": ("hard", "exim", "5.1.1"),
    "exim_delay_warning.eml": ("soft", "exim", "4.2.2"),
    "exchange_2003_ndr.eml": ("hard", "exchange", "5.1.1"),
    "exchange_2016_dsn.eml": ("hard", "dsn", "5.1.10"),
    "gmail_no_such_user.eml": ("hard", "dsn", "5.1.1"),
    "yahoo_failure_notice.eml": ("hard", "yahoo", "554"),
    "qmail_no_mailbox.eml": ("hard", "qmail", "5.1.1"),
    "domino_not_listed.eml": ("hard", "domino", ""),
    "arf_complaint.eml": ("complaint", "arf", ""),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_servers_bounce_is_read_as_the_server_meant_it(name: str) -> None:
    report = report_of(corpus_message(name))
    assert (report.kind, report.format, report.status_code) == EXPECTED[name]
    assert report.diagnostic  # the admin sees the server's words


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bounce_in_the_corpus_is_attributed_by_its_signed_tag(name: str) -> None:
    report = report_of(corpus_message(name))
    assert bounces.attribute(report, [SECRET]) == DELIVERY


def test_the_failed_recipient_is_read_from_a_delivery_status_notification() -> None:
    report = report_of(corpus_message("postfix_user_unknown.eml"))
    assert report.recipients == ("lezer0001@example.nl",)
    assert "User unknown" in report.diagnostic


def test_the_address_quoted_in_the_returned_message_is_not_taken_for_a_recipient() -> (
    None
):
    report = report_of(corpus_message("qmail_no_mailbox.eml"))
    assert report.recipients == ("lezer0009@example.net",)


@pytest.mark.parametrize("name", ["dsn_relayed_success.eml", "out_of_office.eml"])
def test_good_news_and_an_out_of_office_reply_are_not_bounces(name: str) -> None:
    assert report_of(corpus_message(name)).kind == ""


def test_a_not_spam_feedback_report_is_not_a_complaint() -> None:
    raw = corpus_message("arf_complaint.eml").replace(
        b"Feedback-Type: abuse", b"Feedback-Type: not-spam"
    )
    assert report_of(raw).kind == ""


def test_a_bounce_with_a_forged_tag_is_attributed_to_nobody() -> None:
    forged = f"d{DELIVERY}-0123456789"
    report = report_of(corpus_message("postfix_user_unknown.eml", tag=forged))
    assert report.kind == "hard"
    assert bounces.attribute(report, [SECRET]) is None


def test_a_tag_for_another_delivery_signed_with_another_key_is_refused() -> None:
    report = report_of(
        corpus_message("gmail_no_such_user.eml", tag=tag_for(7, "somebody-else's-key"))
    )
    assert bounces.attribute(report, [SECRET]) is None


def test_a_bounce_without_any_tag_is_attributed_to_nobody() -> None:
    raw = corpus_message("exim_permanent.eml").replace(
        f"bounces+{tag_for(DELIVERY)}".encode(), b"bounces"
    )
    report = report_of(raw)
    assert report.kind == "hard"
    assert bounces.attribute(report, [SECRET]) is None


def test_a_tag_signed_with_an_old_key_still_counts_after_rotation() -> None:
    report = report_of(corpus_message("exim_permanent.eml", tag_for(5, OLD_SECRET)))
    assert bounces.attribute(report, [OLD_SECRET, SECRET]) == 5


def test_the_envelope_recipient_is_trusted_before_the_headers() -> None:
    raw = corpus_message("out_of_office.eml").replace(b"Afwezig", b"Undeliverable")
    envelope = (f"bounces+{tag_for(9)}@postbode.example.nl",)
    report = bounces.parse_report(bounces.read_message(raw), envelope)
    assert bounces.attribute(report, [SECRET]) == 9


def test_a_complaint_is_attributed_through_the_returned_messages_return_path() -> None:
    raw = corpus_message("arf_complaint.eml").replace(
        f"Original-Mail-From: <bounces+{tag_for(DELIVERY)}".encode(),
        b"Original-Mail-From: <bounces",
    )
    report = report_of(raw)
    assert report.kind == "complaint"
    assert bounces.attribute(report, [SECRET]) == DELIVERY


def test_a_message_over_a_megabyte_is_rejected_before_it_is_parsed() -> None:
    huge = corpus_message("postfix_user_unknown.eml") + b"x" * (1024 * 1024)
    with pytest.raises(bounces.Rejected, match="too large"):
        bounces.read_message(huge)


def nested(depth: int) -> bytes:
    """Return a message of `depth` multiparts, each inside the one before."""
    head = b"From: mailer-daemon@example.org\r\nSubject: x\r\n"
    opening = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nhi" + closing


@pytest.mark.parametrize("depth", [11, 60, 5000])
def test_a_deeply_nested_message_is_rejected_calmly(depth: int) -> None:
    with pytest.raises(bounces.Rejected, match="too deeply nested"):
        bounces.read_message(nested(depth))


def test_a_message_nested_as_deep_as_real_bounces_is_read() -> None:
    assert bounces.read_message(nested(5)).is_multipart()


@pytest.mark.parametrize(
    "raw",
    [
        (CORPUS / "malformed_binary.eml").read_bytes(),
        b"",
        b"\r\n\r\n\r\n",
        b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\nno parts",
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=x\r\n"
        b"\r\n--x\r\nContent-Type: message/feedback-report\r\n\r\n--x--\r\n",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n"
        b"\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\n\xff\xfe: \x00\r\n"
        b"Action: failed\r\n--x--\r\n",
        b"To: =?utf-8?q?broken\r\nFrom: <<<@@@>>>\r\nSubject: \xff\r\n\r\nbody",
    ],
)
def test_malformed_messages_are_rejected_or_read_as_nothing_never_raised(
    raw: bytes,
) -> None:
    try:
        report = report_of(raw)
    except bounces.Rejected as rejected:
        assert rejected.reason == "malformed"
    else:
        assert bounces.attribute(report, [SECRET]) is None
