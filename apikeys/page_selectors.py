"""What the API settings pages show about keys, read in a fixed handful of queries.

Page-only reads: the Integration API and the Metrics API never call these.
"""

from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import ip_network
from typing import Any

from django.db.models import Case, F, Prefetch, When

from apikeys.lifecycle import KeyState, key_state
from apikeys.models import ApiKey, IpRule, KeySecret
from core import networks

IP_NOT_ALLOWED = "ip_not_allowed"
EVENT_NOT_ALLOWED = "event_not_allowed"

REJECTION_REASONS = {
    IP_NOT_ALLOWED: "Address not on the key's list",
    EVENT_NOT_ALLOWED: "Event name not allowed for this key",
    "revoked": "Key revoked",
    "expired": "Key expired",
    "rolled": "Old secret used after a roll",
    "insufficient_scope": "Key of the wrong kind for this call",
    "rate_limited": "Over the key's rate limit",
    "too_many_attempts": "Too many failed attempts from this address",
}


@dataclass
class KeyPanel:
    """One key as the pages show it: state, masks (never secrets), rules, and what it did."""

    key: ApiKey
    state: KeyState
    current: dict[str, KeySecret]
    retiring: list[KeySecret]
    rules: list[IpRule]
    calls_24h: int | None = None
    refused_24h: int = 0
    forms: dict[str, Any] = field(default_factory=dict)

    @property
    def dom_id(self) -> str:
        return f"key-{self.key.pk}"

    @property
    def is_revoked(self) -> bool:
        return self.key.revoked_at is not None

    @property
    def mask(self) -> str:
        secret = self.current.get(KeySecret.Role.PRIMARY)
        return secret.mask if secret else "—"

    @property
    def client_secret_mask(self) -> str:
        secret = self.current.get(KeySecret.Role.CLIENT_SECRET)
        return secret.mask if secret else "—"

    @property
    def badges(self) -> list[str]:
        """The key's restrictions in a few words each, for the list."""
        key = self.key
        if key.access_mode == ApiKey.AccessMode.ANYWHERE:
            found = ["Anywhere"]
        else:
            count = len(self.rules)
            found = [f"{count} address{'es' if count != 1 else ''}"]
        if key.is_integration:
            if key.events_mode == ApiKey.EventsMode.ALL:
                found.append("All events")
            else:
                count = len(key.allowed_events)
                found.append(f"{count} event{'s' if count != 1 else ''}")
        return found

    @property
    def warnings(self) -> list[str]:
        """What an admin should fix first: powerful keys usable from anywhere, open public keys."""
        if self.is_revoked:
            return []
        key = self.key
        found = []
        if key.access_mode == ApiKey.AccessMode.ANYWHERE and key.kind != ApiKey.Kind.WRITE_ONLY:
            found.append(f"{key.get_kind_display()} key usable from Anywhere")
        if key.kind == ApiKey.Kind.WRITE_ONLY and key.events_mode == ApiKey.EventsMode.ALL:
            found.append("Public key accepts every event name")
        return found

    @property
    def monitoring(self) -> list[str]:
        """The lists in Monitor: they refuse nothing yet, only count."""
        key = self.key
        found = []
        if (
            key.access_mode == ApiKey.AccessMode.SPECIFIC
            and key.address_enforcement == ApiKey.Enforcement.MONITOR
        ):
            found.append("Addresses monitored")
        if (
            key.is_integration
            and key.events_mode == ApiKey.EventsMode.SPECIFIC
            and key.event_enforcement == ApiKey.Enforcement.MONITOR
        ):
            found.append("Events monitored")
        return found

    def address_listed(self, address: str | None) -> bool:
        """Whether an address is already covered by one of the key's rules."""
        parsed = networks.address_parse(address or "")
        return networks.address_in_networks(
            parsed, [ip_network(rule.network) for rule in self.rules]
        )


@dataclass
class KeyList:
    """Every key of a workspace, live ones first, for the settings page's list."""

    panels: list[KeyPanel]
    latest_key_id: int

    @property
    def live(self) -> list[KeyPanel]:
        return [panel for panel in self.panels if not panel.is_revoked]

    @property
    def revoked(self) -> list[KeyPanel]:
        return [panel for panel in self.panels if panel.is_revoked]

    @property
    def has_live_metrics(self) -> bool:
        return any(not panel.key.is_integration for panel in self.live)


def key_panel(key: ApiKey, *, now: datetime) -> KeyPanel:
    """A key's panel from a key whose `secrets` and `ip_rules` are prefetched (or not)."""
    secrets = list(key.secrets.all())
    current = {secret.role: secret for secret in secrets if secret.retires_at is None}
    retiring = [s for s in secrets if s.retires_at is not None and s.retires_at > now]
    state = key_state(
        now=now,
        revoked_at=key.revoked_at,
        expires_at=key.expires_at,
        retiring=[secret.retires_at for secret in secrets],
    )
    return KeyPanel(
        key=key, state=state, current=current, retiring=retiring, rules=list(key.ip_rules.all())
    )


def keys_with_secrets():
    """Keys with their credentials (newest first per role) and rules, prefetched."""
    return ApiKey.objects.select_related("workspace", "created_by").prefetch_related(
        Prefetch(
            "secrets", queryset=KeySecret.objects.credentials().order_by("role", "-created_at")
        ),
        Prefetch("ip_rules", queryset=IpRule.objects.order_by("created_at", "id")),
    )


def key_list_read(*, workspace, now: datetime, activity: dict[int, Any]) -> KeyList:
    """The keys of a workspace with masks, state and restrictions; `activity` by key id.

    `activity` holds each key's calls (and refused calls) of the last 24 hours.
    """
    keys = keys_with_secrets().filter(workspace=workspace)
    kind_order = Case(
        When(kind=ApiKey.Kind.WRITE_ONLY, then=0),
        When(kind=ApiKey.Kind.READ_WRITE, then=1),
        default=2,
    )
    keys = keys.order_by(F("revoked_at").asc(nulls_first=True), kind_order, "created_at", "id")
    panels = []
    for key in keys:
        panel = key_panel(key, now=now)
        found = activity.get(key.pk)
        panel.calls_24h = found.calls if found else 0
        panel.refused_24h = found.refused if found else 0
        panels.append(panel)
    return KeyList(panels=panels, latest_key_id=max((p.key.pk for p in panels), default=0))


def rejection_label(reason: str) -> str:
    """A refusal's reason in words; unknown codes are shown as they are, made readable."""
    return REJECTION_REASONS.get(reason, reason.replace("_", " ").capitalize())
