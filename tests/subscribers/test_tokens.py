"""Signed link tokens, tested without an app."""

import time
from datetime import timedelta

import pytest
from flask import Flask
from itsdangerous import URLSafeTimedSerializer

from service.db import utcnow
from service.errors import ExpiredToken, InvalidToken
from service.subscribers import tokens
from service.urls import absolute_url, token_url

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


@pytest.mark.parametrize(
    "payload",
    [{"u": "3f2a9c"}, {"u": "3f2a9c", "l": 12}, {"u": "ü€é", "n": "nonce-1"}],
)
def test_tokens_are_the_ones_itsdangerous_makes_and_old_ones_still_read(
    payload: dict,
) -> None:
    keys = ["oude-sleutel-" + "k" * 32, "nieuwe-sleutel-" + "s" * 32]
    # Signed the same second, the written-out signing gives itsdangerous' bytes.
    for _attempt in range(5):
        second = int(time.time())
        ours = tokens.make_token(keys, tokens.UNSUBSCRIBE, payload)
        theirs = URLSafeTimedSerializer(keys, salt="postbode.unsubscribe").dumps(
            payload
        )
        if int(time.time()) == second:
            break
    assert ours == theirs
    assert tokens.read_token(keys, tokens.UNSUBSCRIBE, ours) == payload
    # A compressed token of itsdangerous' own (long payloads) reads as well.
    long = {"u": "x" * 300}
    packed = URLSafeTimedSerializer(keys, salt="postbode.unsubscribe").dumps(long)
    assert packed.startswith(".")
    assert tokens.read_token(keys, tokens.UNSUBSCRIBE, packed) == long


@pytest.mark.parametrize(
    "base_url", ["https://nieuws.example.nl", "https://example.nl/nieuwsbrief"]
)
def test_token_links_are_the_links_flask_would_build(app: Flask, base_url: str) -> None:
    app.config["BASE_URL"] = base_url
    token = tokens.make_token(["k" * 40], tokens.UNSUBSCRIBE, {"u": "ab-c_d", "l": 3})
    for endpoint in ("subscribers.unsubscribe", "subscribers.preferences"):
        assert token_url(endpoint, token) == absolute_url(endpoint, token=token)
    assert token_url("subscribers.unsubscribe", token).startswith(base_url + "/")
