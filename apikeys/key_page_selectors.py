"""What a key's own page shows: its secrets, its rules and the evidence of how it is used."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Max, Sum

from apikeys.chart import Bucket, Chart, usage_chart
from apikeys.models import ApiKey, KeySecret, RejectedCall
from apikeys.page_selectors import (
    EVENT_NOT_ALLOWED,
    KeyPanel,
    key_panel,
    keys_with_secrets,
    rejection_label,
)
from apikeys.usage_selectors import (
    secret_last_used,
    usage_addresses,
    usage_by_day,
    usage_by_hour,
    usage_event_names,
)

REJECTED_SINCE = timedelta(days=7)
REJECTED_ROWS = 20
LOG_ROWS = 20


@dataclass(frozen=True)
class SecretRow:
    """One credential of the key: current, or previous and still valid until its grace ends."""

    secret: KeySecret
    label: str
    last_used: datetime | None

    @property
    def in_grace(self) -> bool:
        return self.secret.retires_at is not None


@dataclass(frozen=True)
class LogRow:
    """Refused calls of one address, reason and endpoint in the sampled log, added up."""

    client_ip: str | None
    reason: str
    reason_label: str
    method: str
    path: str
    event: str
    count: int
    last_seen: datetime


@dataclass(frozen=True)
class RefusedAddress:
    """An address this key's calls were refused (or would be) from: exact counts."""

    address: str
    refused: int
    would_refuse: int
    last_seen: datetime
    reasons: list[str]
    can_allow: bool


@dataclass(frozen=True)
class RefusedEvent:
    """An event name this key was refused (or would be) for: exact counts, and where."""

    name: str
    refused: int
    would_refuse: int
    last_seen: datetime
    endpoints: list[str]
    can_allow: bool


@dataclass
class Refusals:
    """What was refused for a key in the last 7 days, by address, by event, and the log."""

    addresses: list[RefusedAddress] = field(default_factory=list)
    events: list[RefusedEvent] = field(default_factory=list)
    log: list[LogRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.addresses or self.events or self.log)


@dataclass
class KeyPage:
    """Everything on one key's page except its forms, chart and audit trail."""

    panel: KeyPanel
    secrets: list[SecretRow]
    rejected: Refusals = field(default_factory=Refusals)

    @property
    def key(self) -> ApiKey:
        return self.panel.key


def _secret_label(key: ApiKey, role: str) -> str:
    if role == KeySecret.Role.CLIENT_SECRET:
        return "Client secret"
    return "API key" if key.kind == ApiKey.Kind.METRICS else "Secret key"


def key_page_key(*, workspace, key_id: int) -> ApiKey | None:
    """The key with its secrets and rules prefetched, when it belongs to the workspace."""
    return keys_with_secrets().filter(workspace=workspace, pk=key_id).first()


def key_page_read(*, key: ApiKey, now: datetime) -> KeyPage:
    """A key's panel, its working secrets with their last use, and its refusals."""
    panel = key_panel(key, now=now)
    last_used = {row.secret.pk: row.last_used_at for row in secret_last_used(key=key)}
    shown = [*panel.current.values(), *panel.retiring]
    shown.sort(key=lambda secret: (secret.role, secret.retires_at is not None, secret.created_at))
    secrets = [
        SecretRow(
            secret=secret,
            label=_secret_label(key, secret.role),
            last_used=last_used.get(secret.pk),
        )
        for secret in shown
    ]
    return KeyPage(panel=panel, secrets=secrets, rejected=refusals_read(panel=panel, now=now))


def _log(key: ApiKey, since: datetime) -> list[LogRow]:
    groups = (
        RejectedCall.objects.filter(key=key, created_at__gte=since)
        .values("client_ip", "reason", "method", "path", "event_name")
        .annotate(count=Sum("count"), last_seen=Max("created_at"))
        .order_by("-last_seen", "-count")[:LOG_ROWS]
    )
    return [
        LogRow(
            client_ip=group["client_ip"],
            reason=group["reason"],
            reason_label=rejection_label(group["reason"]),
            method=group["method"],
            path=group["path"],
            event=group["event_name"],
            count=group["count"],
            last_seen=group["last_seen"],
        )
        for group in groups
    ]


def refusals_read(*, panel: KeyPanel, now: datetime) -> Refusals:
    """The key's refusals of the last 7 days: exact counts from its usage, and the log."""
    key = panel.key
    days = REJECTED_SINCE.days
    log = _log(key, now - REJECTED_SINCE)
    reasons: dict[str, list[str]] = {}
    endpoints: dict[str, set[str]] = {}  # event name ("" when not known) -> endpoints
    for row in log:
        said = reasons.setdefault(row.client_ip or "", [])
        if row.reason_label not in said:
            said.append(row.reason_label)
        if row.reason == EVENT_NOT_ALLOWED and row.path:
            endpoints.setdefault(row.event, set()).add(f"{row.method} {row.path}")
    live = not panel.is_revoked
    specific = key.access_mode == ApiKey.AccessMode.SPECIFIC
    addresses = [
        RefusedAddress(
            address=row.address,
            refused=row.refused,
            would_refuse=row.would_refuse,
            last_seen=row.last_seen,
            reasons=reasons.get(row.address, []),
            can_allow=live and specific and bool(row.address) and not row.listed,
        )
        for row in usage_addresses(key=key, days=days, limit=REJECTED_ROWS * 5)
        if row.refused or row.would_refuse
    ][:REJECTED_ROWS]
    events = [
        RefusedEvent(
            name=row.name,
            refused=row.refused,
            would_refuse=row.would_refuse,
            last_seen=row.last_seen,
            endpoints=sorted(endpoints.get(row.name) or endpoints.get("", ())),
            can_allow=live and not row.allowed and key.events_mode == ApiKey.EventsMode.SPECIFIC,
        )
        for row in usage_event_names(key=key, days=days)
        if row.refused or row.would_refuse
    ][:REJECTED_ROWS]
    return Refusals(addresses=addresses, events=events, log=log)


@dataclass(frozen=True)
class Chip:
    """An event name the admin may switch on: sent by this key (with its count), or known."""

    name: str
    on: bool
    count: int | None


def event_chips(
    *, seen: dict[str, int], catalogue: list[str], allowed: list[str], chosen: list[str] | None
) -> list[Chip]:
    """Names this key sent, busiest first, then the workspace's other names and the allowed ones."""
    chosen = chosen or []
    sent = sorted(seen, key=lambda name: (-seen[name], name))
    others = sorted({*catalogue, *allowed, *chosen} - set(sent))
    return [Chip(name=name, on=name in chosen, count=seen.get(name)) for name in [*sent, *others]]


SPANS = {"24h": "Last 24 hours, by hour", "30d": "Last 30 days, by day"}


@dataclass(frozen=True)
class UsageView:
    """A key's usage chart and the same numbers as table rows."""

    span: str
    caption: str
    chart: Chart
    rows: list[Bucket]
    reasons: list[tuple[str, str]]
    label_format: str

    @property
    def table(self) -> list[tuple[Bucket, list[int]]]:
        """Each bucket with its refusals, one count per reason in `reasons`."""
        return [(row, [row.refused.get(code, 0) for code, _ in self.reasons]) for row in self.rows]

    @property
    def reason_totals(self) -> list[int]:
        return [sum(row.refused.get(code, 0) for row in self.rows) for code, _ in self.reasons]


def usage_view_read(*, key: ApiKey, span: str) -> UsageView:
    """The key's calls over the last 24 hours by hour (or 30 days by day), by outcome."""
    span = span if span in SPANS else "24h"
    if span == "30d":
        found, label_format, every = usage_by_day(key=key, days=30), "%m-%d", 5
    else:
        found, label_format, every = usage_by_hour(key=key, hours=24), "%H:00", 3
    rows = [
        Bucket(
            start=bucket.start,
            accepted=bucket.accepted - bucket.would_refuse_total,
            would_refuse=bucket.would_refuse_total,
            refused=dict(bucket.refused),
        )
        for bucket in found
    ]
    codes = sorted({reason for row in rows for reason in row.refused})
    reasons = [(code, rejection_label(code)) for code in codes]
    return UsageView(
        span=span,
        caption=SPANS[span],
        chart=usage_chart(rows, reasons=reasons, label_format=label_format, every=every),
        rows=rows,
        reasons=reasons,
        label_format=label_format,
    )
