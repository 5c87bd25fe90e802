"""Pure rules: what an SMTP reply means for a delivery, and when to try again."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from service.mail.sessions import Phase, Reply


class Outcome(StrEnum):
    """What happens to a delivery after one attempt."""

    SENT = "sent"
    DEFERRED = "deferred"  #: try again later
    FAILED = "failed"  #: refused for good; counts as a bounce
    UNCERTAIN = "uncertain"  #: the connection dropped after the final dot


#: the first retry waits this long; every next one twice as long, up to the cap
FIRST_RETRY = timedelta(minutes=5)
RETRY_CAP = timedelta(hours=6)


def classify(reply: Reply) -> Outcome:
    """Return what a reply means (RFC 5321 §4.2.1 and §4.5.3.1.10)."""
    if reply.accepted:
        return Outcome.SENT
    if reply.phase == Phase.AFTER_DOT:
        return Outcome.UNCERTAIN
    if reply.code == 0:  # no answer at all: refused, reset or timed out
        return Outcome.DEFERRED
    if reply.phase == Phase.RCPT and reply.code == 552:
        # "Too much mail data" on RCPT: RFC 5321 says to treat it as temporary.
        return Outcome.DEFERRED
    if 400 <= reply.code < 500:
        return Outcome.DEFERRED
    if reply.code >= 500:
        return Outcome.FAILED
    return Outcome.DEFERRED


def next_attempt(attempts: int, now: datetime) -> datetime:
    """Return when to try again after `attempts` attempts (exponential backoff)."""
    # The doubling stops long before it could overflow a timedelta.
    doublings = min(max(attempts - 1, 0), 16)
    return now + min(FIRST_RETRY * 2**doublings, RETRY_CAP)


def gives_up(first_attempt: datetime, now: datetime, period: timedelta) -> bool:
    """Tell whether retrying has gone on for longer than the give-up period."""
    return now - first_attempt >= period
