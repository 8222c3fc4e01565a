"""Whether a secret is honoured now: the one place that decides roll grace, revoke and expiry.

Pure: it takes the moments and returns a verdict, so every caller (the Integration API, the
Metrics token exchange, the settings page's state column) decides the same way.
"""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class Refusal(enum.StrEnum):
    """Why a known secret is not honoured."""

    REVOKED = "revoked"
    EXPIRED = "expired"
    ROLLED = "rolled"


# The roll graces an admin may pick: name -> (how long the old secret stays valid, label).
GRACE_PERIODS: dict[str, tuple[timedelta, str]] = {
    "none": (timedelta(0), "None: the old secret stops now"),
    "1h": (timedelta(hours=1), "1 hour"),
    "24h": (timedelta(hours=24), "24 hours"),
    "7d": (timedelta(days=7), "7 days"),
}
# The same graces as form choices (page and admin), and the one a roll form starts on.
GRACE_CHOICES: list[tuple[str, str]] = [(name, label) for name, (_, label) in GRACE_PERIODS.items()]
DEFAULT_GRACE = "1h"


def secret_refusal(
    *,
    now: datetime,
    revoked_at: datetime | None,
    expires_at: datetime | None,
    retires_at: datetime | None,
) -> Refusal | None:
    """Why a secret is refused at `now`, or None when it is honoured."""
    if revoked_at is not None and revoked_at <= now:
        return Refusal.REVOKED
    if expires_at is not None and expires_at <= now:
        return Refusal.EXPIRED
    if retires_at is not None and retires_at <= now:
        return Refusal.ROLLED
    return None


def retires_at_after_roll(
    *, now: datetime, grace: str, retires_at: datetime | None
) -> datetime | None:
    """When a secret honoured at a roll stops: the grace's end, never later than an earlier end.

    A secret that is no longer honoured at `now` keeps its moment (None would revive nothing:
    the caller passes only secrets `secret_refusal` honours).
    """
    end = now + GRACE_PERIODS[grace][0]
    if retires_at is None or retires_at > end:
        return end
    return retires_at


@dataclass(frozen=True)
class KeyState:
    """A key's state for people: live, rolling (old secret valid until), expired or revoked."""

    name: str
    until: datetime | None = None

    def __str__(self) -> str:
        if self.name == "rolling" and self.until is not None:
            return f"rolling until {self.until:%Y-%m-%d %H:%M} UTC"
        return self.name


def key_state(
    *,
    now: datetime,
    revoked_at: datetime | None,
    expires_at: datetime | None,
    retiring: list[datetime | None],
) -> KeyState:
    """The state of a key from its moments and the `retires_at` of its secrets."""
    refusal = secret_refusal(now=now, revoked_at=revoked_at, expires_at=expires_at, retires_at=None)
    if refusal is not None:
        return KeyState(refusal.value)
    pending = [moment for moment in retiring if moment is not None and moment > now]
    if pending:
        return KeyState("rolling", max(pending))
    return KeyState("live")
