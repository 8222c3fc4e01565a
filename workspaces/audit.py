"""The audit row that every service writes with its change."""

from typing import Any

from django.db import models
from django.utils import timezone

from core.actors import Actor
from workspaces.models import AuditEvent, Workspace


def audit_record(
    *,
    workspace: Workspace,
    by: Actor,
    action: str,
    target: models.Model,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit row; call it inside the transaction of the change it records."""
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
