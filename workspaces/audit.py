"""The audit row that every service writes with its change, and the one list of its actions.

Every action any app audits is an `AuditAction`: its value is what the row stores, its label
what the pages show. `audit_record` refuses an action that is not on the list.
"""

from typing import Any

from django.db import models
from django.utils import timezone

from core.actors import Actor
from workspaces.models import AuditEvent, Workspace


class AuditAction(models.TextChoices):
    """What an audit row records, named `<entity>.<change>`, with its words for people."""

    WORKSPACE_CREATE = "workspace.create", "Created the workspace"
    MEMBERSHIP_ADD = "membership.add", "Added a member"
    MEMBERSHIP_SET_ROLE = "membership.set_role", "Changed a member's role"
    API_KEY_CREATE = "api_key.create", "Created a key"
    API_KEY_RENAME = "api_key.rename", "Renamed a key"
    API_KEY_ROLL = "api_key.roll", "Rolled a secret"
    API_KEY_REVOKE = "api_key.revoke", "Revoked a key"
    API_KEY_SET_EXPIRY = "api_key.set_expiry", "Changed the expiry"
    API_KEY_SET_ACCESS_MODE = "api_key.set_access_mode", "Changed where the key may be used from"
    API_KEY_SET_ACCESS = "api_key.set_access", "Changed where the key may be used from"
    API_KEY_SET_ENFORCEMENT = (
        "api_key.set_enforcement",
        "Switched a list between Enforce and Monitor",
    )
    KEY_SECRET_END_NOW = "key_secret.end_now", "Ended a previous secret's grace now"
    IP_RULE_ADD = "ip_rule.add", "Added an address"
    IP_RULE_REMOVE = "ip_rule.remove", "Removed an address"
    API_KEY_SET_ALLOWED_EVENTS = "api_key.set_allowed_events", "Changed the allowed events"
    METRICS_SET_CACHE_TTL = "metrics.set_cache_ttl", "Changed the cache TTL"
    METRIC_CREATE = "metric.create", "Created a saved metric"
    METRIC_UPDATE = "metric.update", "Edited a saved metric"
    METRIC_DELETE = "metric.delete", "Deleted a saved metric"
    LOGIN_LOCKED_OUT = "login.locked_out", "Sign-in locked after too many wrong passwords"


def audit_action_label(action: str) -> str:
    """An audit action in words; an action no longer on the list is shown as stored."""
    try:
        return AuditAction(action).label
    except ValueError:
        return action


def audit_record(
    *,
    workspace: Workspace,
    by: Actor,
    action: AuditAction,
    target: models.Model,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit row; call it inside the transaction of the change it records."""
    action = AuditAction(action)  # an action that is not on the list is a programming error
    return AuditEvent.objects.create(
        workspace=workspace,
        actor=by.user,
        actor_label=by.label,
        actor_ip=by.ip,
        action=action,
        target_type=target._meta.model_name,
        target_id=str(target.pk),
        target_label=str(target)[:200],
        changes=changes or {},
        created_at=timezone.now(),
    )
