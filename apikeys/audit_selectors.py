"""The audit trail as the pages show it: in words, filtered by key and action, a page at a time."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.paginator import Page, Paginator

from apikeys.models import ApiKey
from workspaces.audit import audit_action_label
from workspaces.models import AuditEvent, Workspace

AUDIT_PAGE_SIZE = 25


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
