"""The one function that decides roll grace, revoke and expiry, and the state shown to people."""

from datetime import UTC, datetime, timedelta

import pytest

from apikeys import lifecycle
from apikeys.lifecycle import Refusal, key_state, secret_refusal

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("revoked_at", "expires_at", "retires_at", "refusal"),
    [
        (None, None, None, None),
        (None, NOW + HOUR, NOW + HOUR, None),
        (NOW - HOUR, None, None, Refusal.REVOKED),
        (NOW, None, None, Refusal.REVOKED),
        (None, NOW, None, Refusal.EXPIRED),
        (None, NOW - HOUR, None, Refusal.EXPIRED),
        (None, None, NOW, Refusal.ROLLED),
        (None, None, NOW - HOUR, Refusal.ROLLED),
        (NOW - HOUR, NOW - HOUR, NOW - HOUR, Refusal.REVOKED),
    ],
)
def test_secret_refusal(revoked_at, expires_at, retires_at, refusal):
    assert (
        secret_refusal(now=NOW, revoked_at=revoked_at, expires_at=expires_at, retires_at=retires_at)
        == refusal
    )


def test_key_state():
    assert key_state(now=NOW, revoked_at=None, expires_at=None, retiring=[None]).name == "live"
    rolling = key_state(now=NOW, revoked_at=None, expires_at=None, retiring=[None, NOW + HOUR])
    assert rolling.name == "rolling" and rolling.until == NOW + HOUR
    assert "rolling until 2026-11-29 13:00" in str(rolling)
    assert key_state(now=NOW, revoked_at=None, expires_at=None, retiring=[NOW - HOUR]).name == (
        "live"
    )
    assert key_state(now=NOW, revoked_at=NOW, expires_at=None, retiring=[]).name == "revoked"
    assert key_state(now=NOW, revoked_at=None, expires_at=NOW, retiring=[]).name == "expired"


def test_a_roll_ends_a_secret_at_the_grace_and_never_extends_an_earlier_end():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert lifecycle.retires_at_after_roll(now=now, grace="1h", retires_at=None) == now + hour
    assert lifecycle.retires_at_after_roll(now=now, grace="none", retires_at=None) == now
    earlier = now + timedelta(minutes=5)
    assert lifecycle.retires_at_after_roll(now=now, grace="7d", retires_at=earlier) == earlier
    later = now + timedelta(days=3)
    assert (
        lifecycle.retires_at_after_roll(now=now, grace="24h", retires_at=later) == now + 24 * hour
    )


def test_the_grace_choices_are_the_grace_periods():
    assert [name for name, _ in lifecycle.GRACE_CHOICES] == list(lifecycle.GRACE_PERIODS)
    assert lifecycle.DEFAULT_GRACE in lifecycle.GRACE_PERIODS
