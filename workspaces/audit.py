"""Who made a change, and the audit row that every service writes with it."""

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils import timezone

from workspaces.models import AuditEvent, Workspace


@dataclass(frozen=True)
class Actor:
    """The person (or system) behind a change, and the address the change came from."""

    user: Any = None
    ip: str | None = None
    label: str = "system"

    @classmethod
    def for_user(cls, user: Any, ip: str | None = None) -> "Actor":
        return cls(user=user, ip=ip, label=user.get_username())

    @classmethod
    def for_request(cls, request: Any) -> "Actor":
        """The signed-in user of a page or admin request, and its (proxy-aware) address."""
        from apikeys.clientip import client_address

        address = client_address(request)
        return cls.for_user(request.user, ip=str(address) if address is not None else None)


SYSTEM = Actor()


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
