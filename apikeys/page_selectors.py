"""What the API settings page shows, read in a fixed handful of queries whatever the key count.

Page-only reads: the Integration API and the Metrics API never call these.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import ip_network
from typing import Any

from django.db.models import F, Max, Prefetch

from apikeys.catalogue import event_catalogue
from apikeys.lifecycle import KeyState, key_state
from apikeys.models import ApiKey, IpRule, KeySecret, RejectedCall
from apikeys.selectors import rejected_calls_recent
from core import networks
from workspaces.models import AuditEvent, Workspace

AUDIT_LIMIT = 50
REJECTED_LIMIT = 100
REJECTED_PER_KEY = 10
CATALOGUE_LIMIT = 500

IP_NOT_ALLOWED = "ip_not_allowed"

REJECTION_REASONS = {
    IP_NOT_ALLOWED: "Address not on the key's list",
    "event_not_allowed": "Event name not allowed for this key",
    "revoked": "Key revoked",
    "expired": "Key expired",
    "rolled": "Old secret used after a roll",
    "insufficient_scope": "Key of the wrong kind for this call",
    "rate_limited": "Over the key's rate limit",
    "too_many_attempts": "Too many failed attempts from this address",
}

AUDIT_ACTIONS = {
    "workspace.create": "Created the workspace",
    "membership.add": "Added a member",
    "membership.set_role": "Changed a member's role",
    "api_key.create": "Created a key",
    "api_key.roll": "Rolled a secret",
    "api_key.revoke": "Revoked a key",
    "api_key.set_expiry": "Changed the expiry",
    "api_key.set_access_mode": "Changed where the key may be used from",
    "ip_rule.add": "Added an address",
    "ip_rule.remove": "Removed an address",
    "api_key.set_allowed_events": "Changed the allowed events",
    "api_key.set_enforcement": "Switched a list between Enforce and Monitor",
    "api_key.set_access": "Changed where the key may be used from",
    "key_secret.end_now": "Ended a previous secret's grace now",
    "metrics.set_cache_ttl": "Changed the cache TTL",
    "metric.create": "Created a saved metric",
    "metric.update": "Edited a saved metric",
    "metric.delete": "Deleted a saved metric",
}


@dataclass(frozen=True)
class RejectedRow:
    """A refused call, and whether adding its address to the key's list would let it through."""

    call: RejectedCall
    reason: str
    can_allow: bool


@dataclass
class KeyPanel:
    """One key as the page shows it: state, masks (never secrets), rules and refusals."""

    key: ApiKey
    state: KeyState
    current: dict[str, KeySecret]
    retiring: list[KeySecret]
    rules: list[IpRule]
    rejected: list[RejectedRow] = field(default_factory=list)
    forms: dict[str, Any] = field(default_factory=dict)
    chips: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def dom_id(self) -> str:
        """The id of the key's section on the page, and the stem of its controls' ids."""
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

    def address_listed(self, address: str | None) -> bool:
        """Whether an address is already covered by one of the key's rules."""
        parsed = networks.address_parse(address or "")
        return networks.address_allowed(parsed, [ip_network(rule.network) for rule in self.rules])


@dataclass(frozen=True)
class AuditRow:
    """An audit event with its action and changes put in words."""

    event: AuditEvent
    action: str
    summary: str


@dataclass
class SettingsPage:
    """Everything on a workspace's API settings page."""

    workspace: Workspace
    integration: list[KeyPanel]
    metrics: KeyPanel | None
    catalogue: list[str]
    audit: list[AuditRow]
    latest_key_id: int

    @property
    def live_integration(self) -> list[KeyPanel]:
        return [panel for panel in self.integration if not panel.is_revoked]

    def panels(self) -> list[KeyPanel]:
        return self.integration + ([self.metrics] if self.metrics else [])


def _panel(key: ApiKey, *, now: datetime) -> KeyPanel:
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


def settings_page_read(*, workspace: Workspace, now: datetime) -> SettingsPage:
    """The keys of a workspace with their masks, rules and refusals, its catalogue and audit."""
    keys = (
        ApiKey.objects.filter(workspace=workspace)
        .select_related("workspace")
        .prefetch_related(
            Prefetch(
                "secrets", queryset=KeySecret.objects.credentials().order_by("role", "-created_at")
            ),
            Prefetch("ip_rules", queryset=IpRule.objects.order_by("created_at", "id")),
        )
        .order_by(F("revoked_at").asc(nulls_first=True), "kind", "created_at", "id")
    )
    panels = {key.pk: _panel(key, now=now) for key in keys}
    for call in rejected_calls_recent(workspace=workspace, limit=REJECTED_LIMIT):
        panel = panels.get(call.key_id)
        if panel is None or len(panel.rejected) >= REJECTED_PER_KEY:
            continue
        can_allow = (
            call.reason == IP_NOT_ALLOWED
            and call.client_ip is not None
            and not panel.is_revoked
            and not panel.address_listed(call.client_ip)
        )
        panel.rejected.append(
            RejectedRow(call=call, reason=rejection_label(call.reason), can_allow=can_allow)
        )
    integration = [panel for panel in panels.values() if panel.key.is_integration]
    metrics = next(
        (p for p in panels.values() if not p.key.is_integration and not p.is_revoked), None
    )
    catalogue = event_catalogue(workspace, CATALOGUE_LIMIT)
    audit = [
        AuditRow(event=event, action=audit_action_label(event.action), summary=audit_summary(event))
        for event in AuditEvent.objects.filter(workspace=workspace).order_by("-created_at", "-id")[
            :AUDIT_LIMIT
        ]
    ]
    return SettingsPage(
        workspace=workspace,
        integration=integration,
        metrics=metrics,
        catalogue=sorted(catalogue),
        audit=audit,
        latest_key_id=max(panels, default=0),
    )


def latest_key_id(*, workspace: Workspace) -> int:
    """The id of the newest key of a workspace (0 when none): what a create form last saw."""
    return ApiKey.objects.filter(workspace=workspace).aggregate(latest=Max("pk"))["latest"] or 0


def current_secret_id(*, key: ApiKey, role: str) -> int | None:
    """The id of the secret a key answers to now for this role: what a roll form last saw."""
    return (
        KeySecret.objects.filter(key=key, role=role, retires_at__isnull=True)
        .values_list("pk", flat=True)
        .first()
    )


def event_chips(
    *, catalogue: list[str], allowed: list[str], chosen: list[str] | None
) -> list[tuple[str, bool]]:
    """One chip per name seen, allowed or just chosen, and whether it is switched on."""
    chosen = chosen or []
    return [(name, name in chosen) for name in sorted({*catalogue, *allowed, *chosen})]


def rejection_label(reason: str) -> str:
    """A refusal's reason in words; unknown codes are shown as they are, made readable."""
    return REJECTION_REASONS.get(reason, reason.replace("_", " ").capitalize())


def audit_action_label(action: str) -> str:
    """An audit action in words."""
    return AUDIT_ACTIONS.get(action, action)


def _moment(text: str) -> str | None:
    """An ISO 8601 moment (as the services write them) in the page's format, else None."""
    if len(text) < 19 or text[10:11] != "T":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return _moment(value) or value
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{name}: {_value(item)}" for name, item in value.items())
    return str(value)


def audit_summary(event: AuditEvent) -> str:
    """What an audit row changed, in one line: before → after when it has both."""
    changes = event.changes or {}
    if set(changes) >= {"before", "after"}:
        return f"{_value(changes['before'])} → {_value(changes['after'])}"
    return "; ".join(
        f"{name.replace('_', ' ')}: {_value(value)}" for name, value in changes.items()
    )
