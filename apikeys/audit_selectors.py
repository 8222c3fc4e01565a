"""The audit trail as the pages show it: in words, filtered by key and action, a page at a time."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.paginator import Page, Paginator

from apikeys.models import ApiKey
from workspaces.models import AuditEvent, Workspace

AUDIT_PAGE_SIZE = 25

AUDIT_ACTIONS = {
    "workspace.create": "Created the workspace",
    "membership.add": "Added a member",
    "membership.set_role": "Changed a member's role",
    "api_key.create": "Created a key",
    "api_key.rename": "Renamed a key",
    "api_key.roll": "Rolled a secret",
    "api_key.revoke": "Revoked a key",
    "api_key.set_expiry": "Changed the expiry",
    "api_key.set_access_mode": "Changed where the key may be used from",
    "api_key.set_access": "Changed where the key may be used from",
    "api_key.set_enforcement": "Switched a list between Enforce and Monitor",
    "key_secret.end_now": "Ended a previous secret's grace now",
    "ip_rule.add": "Added an address",
    "ip_rule.remove": "Removed an address",
    "api_key.set_allowed_events": "Changed the allowed events",
    "metrics.set_cache_ttl": "Changed the cache TTL",
    "metric.create": "Created a saved metric",
    "metric.update": "Edited a saved metric",
    "metric.delete": "Deleted a saved metric",
}


@dataclass(frozen=True)
class AuditRow:
    """An audit event with its action and changes put in words."""

    event: AuditEvent
    action: str
    summary: str


@dataclass(frozen=True)
class AuditPage:
    """One page of a workspace's (or one key's) audit trail, and the filter that made it."""

    rows: list[AuditRow]
    page: Page
    action: str
    actions: list[tuple[str, str]]


def audit_page_read(
    *, workspace: Workspace, key: ApiKey | None = None, action: str = "", number: Any = 1
) -> AuditPage:
    """Newest first; `action` keeps one kind of change; a page past the end gives the last."""
    events = AuditEvent.objects.filter(workspace=workspace)
    if key is not None:
        events = events.filter(target_type=ApiKey._meta.model_name, target_id=str(key.pk))
    present = sorted(set(events.values_list("action", flat=True)))
    if action in present:
        events = events.filter(action=action)
    else:
        action = ""
    page = Paginator(events.order_by("-created_at", "-id"), AUDIT_PAGE_SIZE).get_page(number)
    rows = [
        AuditRow(event=event, action=audit_action_label(event.action), summary=audit_summary(event))
        for event in page.object_list
    ]
    actions = [(name, audit_action_label(name)) for name in present]
    return AuditPage(rows=rows, page=page, action=action, actions=actions)


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
