"""What a key's own page shows: its secrets, its rules and the evidence of how it is used."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Max, Sum

from apikeys.models import ApiKey, KeySecret, RejectedCall
from apikeys.page_selectors import (
    EVENT_NOT_ALLOWED,
    IP_NOT_ALLOWED,
    KeyPanel,
    key_panel,
    keys_with_secrets,
    rejection_label,
)

REJECTED_SINCE = timedelta(days=7)
REJECTED_ROWS = 20


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
class RejectedRow:
    """Refused calls of one address, reason, endpoint and event, added up."""

    client_ip: str | None
    reason: str
    reason_label: str
    method: str
    path: str
    event: str
    count: int
    last_seen: datetime
    can_allow_address: bool
    can_allow_event: bool


@dataclass
class KeyPage:
    """Everything on one key's page except its forms, chart and audit trail."""

    panel: KeyPanel
    secrets: list[SecretRow]
    rejected: list[RejectedRow] = field(default_factory=list)

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


def key_page_read(*, key: ApiKey, now: datetime, last_used: dict[int, datetime | None]) -> KeyPage:
    """A key's panel, its secrets with their last use (`last_used` by secret id), refusals."""
    panel = key_panel(key, now=now)
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
    return KeyPage(panel=panel, secrets=secrets, rejected=rejected_rows(panel=panel, now=now))


def rejected_rows(*, panel: KeyPanel, now: datetime) -> list[RejectedRow]:
    """The key's refused calls of the last 7 days, grouped, busiest first."""
    key = panel.key
    groups = (
        RejectedCall.objects.filter(key=key, created_at__gte=now - REJECTED_SINCE)
        .values("client_ip", "reason", "method", "path")
        .annotate(count=Sum("count"), rows=Count("id"), last_seen=Max("created_at"))
        .order_by("-last_seen", "-count")[:REJECTED_ROWS]
    )
    live = not panel.is_revoked
    rows = []
    for group in groups:
        address, reason = group["client_ip"], group["reason"]
        event = group.get("event") or ""
        rows.append(
            RejectedRow(
                client_ip=address,
                reason=reason,
                reason_label=rejection_label(reason),
                method=group["method"],
                path=group["path"],
                event=event,
                count=group["count"],
                last_seen=group["last_seen"],
                can_allow_address=live
                and reason == IP_NOT_ALLOWED
                and address is not None
                and not panel.address_listed(address),
                can_allow_event=live
                and reason == EVENT_NOT_ALLOWED
                and bool(event)
                and event not in key.allowed_events,
            )
        )
    return rows


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
