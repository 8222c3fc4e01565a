"""What a key was really used for: the reads behind the key list and each key's page.

Every function reads the usage tables that `apikeys.usage` flushes (so numbers are at most
`USAGE_FLUSH_SECONDS` behind, per process) and returns plain, typed rows; times are UTC.

- `usage_by_hour(key=, hours=24)` and `usage_by_day(key=, days=30)`: `list[UsageBucket]`, oldest
  first, one per hour / day (zeros included): `accepted` calls (monitored ones included),
  `refused` and `would_refuse` as {reason: calls}.
- `usage_addresses(key=, days=30, limit=100)`: `list[AddressUsage]`, busiest first: address,
  first/last seen, accepted, refused, would_refuse, and whether the key's rules cover it.
- `usage_event_names(key=, days=30)`: `list[EventNameUsage]`, most sent first: name, count
  (events stored), refused, would_refuse, last seen, and whether the key allows it now.
- `secret_last_used(key=)`: `list[SecretUsage]`, the current secret(s) and the previous ones
  still in their grace, with when each was last used.
- `usage_calls_last_24h(workspace=)`: {key id: `KeyActivity`} (calls, refused, last used).
- `impact_preview(key=, address_rules=… | allowed_events=…, days=7)`: `ImpactPreview`, "with
  these rules, N of M calls (events) in the last 7 days, from K addresses (names), would have
  been refused", with the list.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db.models import Max, Min, Q, Sum
from django.utils import timezone

from apikeys.models import ApiKey, KeySecret
from apikeys.models_usage import KeyUsageAddress, KeyUsageEvent, KeyUsageHour, Outcome
from core import networks
from core.errors import field_error
from workspaces.models import Workspace


@dataclass
class UsageBucket:
    """The calls of one hour or day: accepted (monitored ones included), refused by reason,
    and — among the accepted — those a monitored list would have refused, by reason."""

    start: datetime
    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    would_refuse: dict[str, int] = field(default_factory=dict)

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())

    @property
    def would_refuse_total(self) -> int:
        return sum(self.would_refuse.values())

    @property
    def calls(self) -> int:
        return self.accepted + self.refused_total


@dataclass(frozen=True)
class AddressUsage:
    """One client address of a key over the window (`address` is "" when it was unknown)."""

    address: str
    first_seen: datetime
    last_seen: datetime
    accepted: int
    refused: int
    would_refuse: int
    listed: bool

    @property
    def calls(self) -> int:
        return self.accepted + self.refused


@dataclass(frozen=True)
class EventNameUsage:
    """One event name a key sent: `count` stored (monitored ones included), refused, last seen."""

    name: str
    count: int
    refused: int
    would_refuse: int
    last_seen: datetime
    allowed: bool


@dataclass(frozen=True)
class SecretUsage:
    """A secret of the key that still works: the current one, or a previous one in its grace."""

    secret: KeySecret
    role: str
    mask: str
    current: bool
    retires_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class KeyActivity:
    """A key's calls in the last 24 hours (refused ones among them) and its last use."""

    calls: int = 0
    refused: int = 0
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class ImpactRow:
    """An address (or event name) whose calls (events) the proposed rules would refuse."""

    label: str
    calls: int
    last_seen: datetime


@dataclass(frozen=True)
class ImpactPreview:
    """N (`refused`) of M (`total`) calls — or events — from K (`sources`) addresses — or
    names — would have been refused over the last `days` days; `rows` lists them, busiest first.

    Counted from what the key was accepted for (calls already refused are not in M).
    """

    unit: str  # "calls" (address rules) or "events" (allowed events)
    days: int
    refused: int
    total: int
    rows: list[ImpactRow]

    @property
    def sources(self) -> int:
        return len(self.rows)


def _hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _buckets(key: ApiKey, since: datetime, starts: list[datetime], size: timedelta):
    buckets = {start: UsageBucket(start=start) for start in starts}
    rows = (
        KeyUsageHour.objects.filter(key=key, hour__gte=since)
        .values_list("hour", "outcome", "reason")
        .annotate(n=Sum("calls"))
    )
    for hour, outcome, reason, calls in rows:
        hour = hour.astimezone(UTC)
        start = hour if size == timedelta(hours=1) else hour.replace(hour=0)
        bucket = buckets.get(start)
        if bucket is None:
            continue
        if outcome == Outcome.ACCEPTED:
            bucket.accepted += calls
        else:
            target = bucket.refused if outcome == Outcome.REFUSED else bucket.would_refuse
            target[reason] = target.get(reason, 0) + calls
    return [buckets[start] for start in starts]


def usage_by_hour(*, key: ApiKey, hours: int = 24) -> list[UsageBucket]:
    """The key's calls in each of the last `hours` hours (the current one last)."""
    now = _hour_floor(timezone.now())
    starts = [now - timedelta(hours=n) for n in range(max(1, hours) - 1, -1, -1)]
    return _buckets(key, starts[0], starts, timedelta(hours=1))


def usage_by_day(*, key: ApiKey, days: int = 30) -> list[UsageBucket]:
    """The key's calls on each of the last `days` days, UTC (today last)."""
    today = _hour_floor(timezone.now()).replace(hour=0)
    starts = [today - timedelta(days=n) for n in range(max(1, days) - 1, -1, -1)]
    return _buckets(key, starts[0], starts, timedelta(days=1))


def _since_day(days: int) -> date:
    return timezone.now().astimezone(UTC).date() - timedelta(days=max(1, days) - 1)


def _rules_of(key: ApiKey) -> list[networks.IPNetwork]:
    return [networks.rule_parse(text) for text in key.ip_rules.values_list("network", flat=True)]


def _address_totals(key: ApiKey, days: int):
    return (
        KeyUsageAddress.objects.filter(key=key, day__gte=_since_day(days))
        .values("address")
        .annotate(
            first=Min("first_seen"),
            last=Max("last_seen"),
            accepted_n=Sum("accepted"),
            refused_n=Sum("refused"),
            would_n=Sum("would_refuse"),
        )
    )


def usage_addresses(*, key: ApiKey, days: int = 30, limit: int = 100) -> list[AddressUsage]:
    """The client addresses the key was used from in the last `days` days, busiest first."""
    rules = _rules_of(key)
    rows = [
        AddressUsage(
            address=row["address"],
            first_seen=row["first"],
            last_seen=row["last"],
            accepted=row["accepted_n"],
            refused=row["refused_n"],
            would_refuse=row["would_n"],
            listed=networks.address_in_networks(networks.address_parse(row["address"]), rules),
        )
        for row in _address_totals(key, days)
    ]
    rows.sort(key=lambda row: (-row.calls, -row.last_seen.timestamp(), row.address))
    return rows[: max(0, limit)]


def _event_totals(key: ApiKey, days: int):
    return (
        KeyUsageEvent.objects.filter(key=key, day__gte=_since_day(days))
        .values("name")
        .annotate(
            accepted_n=Sum("accepted"),
            refused_n=Sum("refused"),
            would_n=Sum("would_refuse"),
            last=Max("last_seen"),
        )
    )


def _allows(key: ApiKey, name: str) -> bool:
    return key.events_mode == ApiKey.EventsMode.ALL or name in (key.allowed_events or ())


def usage_event_names(*, key: ApiKey, days: int = 30) -> list[EventNameUsage]:
    """The event names the key sent in the last `days` days, most sent first."""
    rows = [
        EventNameUsage(
            name=row["name"],
            count=row["accepted_n"],
            refused=row["refused_n"],
            would_refuse=row["would_n"],
            last_seen=row["last"],
            allowed=_allows(key, row["name"]),
        )
        for row in _event_totals(key, days)
    ]
    rows.sort(key=lambda row: (-(row.count + row.refused), row.name))
    return rows


def secret_last_used(*, key: ApiKey) -> list[SecretUsage]:
    """The key's working secrets (current first, then previous ones in grace), with last use."""
    now = timezone.now()
    secrets = (
        KeySecret.objects.credentials()
        .filter(key=key)
        .filter(Q(retires_at__isnull=True) | Q(retires_at__gt=now))
        .order_by("role", "-created_at", "-id")
    )
    rows = [
        SecretUsage(
            secret=secret,
            role=secret.role,
            mask=secret.mask,
            current=secret.retires_at is None,
            retires_at=secret.retires_at,
            last_used_at=secret.last_used_at,
        )
        for secret in secrets
    ]
    rows.sort(key=lambda row: (row.role, not row.current))
    return rows


def usage_calls_last_24h(*, workspace: Workspace) -> dict[int, KeyActivity]:
    """Each key of the workspace: calls in the last 24 hours (this hour and the 23 before)."""
    since = _hour_floor(timezone.now()) - timedelta(hours=23)
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    rows = (
        KeyUsageHour.objects.filter(key__workspace=workspace, hour__gte=since)
        .exclude(outcome=Outcome.WOULD_REFUSE)
        .values_list("key_id", "outcome")
        .annotate(n=Sum("calls"))
    )
    for key_id, outcome, calls in rows:
        counts[key_id][0] += calls
        if outcome == Outcome.REFUSED:
            counts[key_id][1] += calls
    activity = {}
    for key_id, last_used_at in ApiKey.objects.filter(workspace=workspace).values_list(
        "id", "last_used_at"
    ):
        calls, refused = counts.get(key_id, (0, 0))
        activity[key_id] = KeyActivity(calls=calls, refused=refused, last_used_at=last_used_at)
    return activity


def _parsed_rules(rules: list[str]) -> list[networks.IPNetwork]:
    parsed = []
    for index, text in enumerate(rules):
        try:
            parsed.append(networks.rule_parse(text))
        except networks.RuleError as error:
            raise field_error("network", f"Rule {index + 1}: {error}", error.code) from None
    return parsed


def impact_preview(
    *,
    key: ApiKey,
    address_rules: list[str] | None = None,
    allowed_events: list[str] | None = None,
    days: int = 7,
) -> ImpactPreview:
    """What the proposed address rules, or allowed events (give one), would have refused."""
    if (address_rules is None) == (allowed_events is None):
        raise TypeError("Give exactly one of address_rules and allowed_events.")
    rows: list[ImpactRow] = []
    total = 0
    if address_rules is not None:
        unit, rules = "calls", _parsed_rules(address_rules)
        for row in _address_totals(key, days):
            calls = row["accepted_n"]
            total += calls
            address = networks.address_parse(row["address"])
            if calls and not networks.address_in_networks(address, rules):
                rows.append(ImpactRow(label=row["address"], calls=calls, last_seen=row["last"]))
    else:
        unit, allowed = "events", set(allowed_events)
        for row in _event_totals(key, days):
            count = row["accepted_n"]
            total += count
            if count and row["name"] not in allowed:
                rows.append(ImpactRow(label=row["name"], calls=count, last_seen=row["last"]))
    rows.sort(key=lambda row: (-row.calls, row.label))
    return ImpactPreview(
        unit=unit, days=days, refused=sum(row.calls for row in rows), total=total, rows=rows
    )
