"""Signed link tokens, tested without an app."""

from datetime import timedelta

import pytest

from service.db import utcnow
from service.errors import ExpiredToken, InvalidToken
from service.subscribers import tokens

KEYS = ["current-key-0123456789"]


def test_a_token_carries_its_payload_and_no_address() -> None:
    token = tokens.make_token(KEYS, tokens.UNSUBSCRIBE, {"u": "abc"})
    assert tokens.read_token(KEYS, tokens.UNSUBSCRIBE, token) == {"u": "abc"}
    assert "@" not in token


def test_a_token_for_one_purpose_does_not_open_another() -> None:
    token = tokens.make_token(KEYS, tokens.UNSUBSCRIBE, {"u": "abc"})
    with pytest.raises(InvalidToken):
        tokens.read_token(KEYS, tokens.PREFERENCES, token)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: "x" + t,
        lambda t: "",
        lambda t: "eyJ1IjoiYWJjIn0.forged.signature",
    ],
)
def test_tampered_and_forged_tokens_are_refused(mangle) -> None:  # noqa: ANN001
    token = tokens.make_token(KEYS, tokens.PREFERENCES, {"u": "abc"})
    with pytest.raises(InvalidToken):
        tokens.read_token(KEYS, tokens.PREFERENCES, mangle(token))


def test_old_keys_still_verify_after_rotation() -> None:
    token = tokens.make_token(["old-key-0123456789"], tokens.UNSUBSCRIBE, {"u": "abc"})
    rotated = tokens.signing_keys("new-key-0123456789", ["old-key-0123456789"])
    assert tokens.read_token(rotated, tokens.UNSUBSCRIBE, token) == {"u": "abc"}
    with pytest.raises(InvalidToken):
        tokens.read_token(["new-key-0123456789"], tokens.UNSUBSCRIBE, token)


def test_expiry_is_judged_against_the_now_passed_in() -> None:
    token = tokens.make_token(KEYS, tokens.CONFIRM, {"u": "abc", "n": "1"})
    week = 7 * 86400
    soon, later = utcnow() + timedelta(days=6), utcnow() + timedelta(days=8)
    payload = tokens.read_token(
        KEYS, tokens.CONFIRM, token, max_age_seconds=week, now=soon
    )
    assert payload["u"] == "abc"
    with pytest.raises(ExpiredToken):
        tokens.read_token(KEYS, tokens.CONFIRM, token, max_age_seconds=week, now=later)
