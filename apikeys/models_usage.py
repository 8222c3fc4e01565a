"""What keys were used for: counts per hour, per client address and per event name.

Written only by `apikeys.usage.flush` (added up in each process, merged by upserts that add
counts), read by `apikeys.usage_selectors`. Rows older than `USAGE_RETENTION_DAYS` are pruned.
Every count is exact (no sampling); the address and event-name tables keep the busiest rows of
a key per day, up to `USAGE_MAX_ADDRESSES_PER_KEY_DAY` / `USAGE_MAX_EVENT_NAMES_PER_KEY_DAY`.
"""

from django.db import models


class Outcome(models.TextChoices):
    """How a call ended, as counted: a monitored refusal is both accepted and would-refuse."""

    ACCEPTED = "accepted", "Accepted"
    REFUSED = "refused", "Refused"
    WOULD_REFUSE = "would_refuse", "Would refuse (monitor)"


class KeyUsageHour(models.Model):
    """Calls of a key in one hour with one outcome (and reason, empty when accepted)."""

    key = models.ForeignKey("apikeys.ApiKey", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    reason = models.CharField(max_length=50, blank=True, default="")
    calls = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key", "hour", "outcome", "reason"], name="keyusagehour_unique"
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="keyusagehour_hour")]

    def __str__(self) -> str:
        return f"{self.key_id} {self.hour:%Y-%m-%d %H}h {self.outcome} {self.reason}: {self.calls}"


class KeyUsageAddress(models.Model):
    """Calls of a key from one client address on one day (UTC)."""

    key = models.ForeignKey("apikeys.ApiKey", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    address = models.CharField(max_length=45)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    accepted = models.BigIntegerField(default=0)
    refused = models.BigIntegerField(default=0)
    would_refuse = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key", "day", "address"], name="keyusageaddress_unique"
            ),
        ]
        indexes = [models.Index(fields=["day"], name="keyusageaddress_day")]

    def __str__(self) -> str:
        return f"{self.key_id} {self.day} {self.address}"


class KeyUsageEvent(models.Model):
    """Events of one name sent with a key on one day (UTC)."""

    key = models.ForeignKey("apikeys.ApiKey", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    name = models.CharField(max_length=200)
    accepted = models.BigIntegerField(default=0)
    refused = models.BigIntegerField(default=0)
    would_refuse = models.BigIntegerField(default=0)
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "day", "name"], name="keyusageevent_unique"),
        ]
        indexes = [models.Index(fields=["day"], name="keyusageevent_day")]

    def __str__(self) -> str:
        return f"{self.key_id} {self.day} {self.name}"
