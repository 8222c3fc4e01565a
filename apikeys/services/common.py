"""What every key service shares: the row lock and the change record (version, audit, signal)."""

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import F

from apikeys import keycache
from apikeys.models import (
    ApiKey,
)
from core.actors import Actor
from workspaces.audit import AuditAction, audit_record


def _changed(key: ApiKey, *, by: Actor, action: AuditAction, changes: dict) -> None:
    # The version tells every process's key cache, within its staleness bound, that its
    # snapshot is outdated, whatever becomes of the shared-cache signal sent on commit.
    ApiKey.objects.filter(pk=key.pk).update(version=F("version") + 1)
    audit_record(workspace=key.workspace, by=by, action=action, target=key, changes=changes)
    keycache.key_config_changed_on_commit()


def _locked(key_id: int) -> ApiKey:
    """The key, row-locked for the rest of the transaction; a revoked key cannot change."""
    key = ApiKey.objects.select_for_update().select_related("workspace").get(pk=key_id)
    if key.revoked_at is not None:
        raise ValidationError(
            "This key is revoked; revoked keys cannot be changed.", code="revoked"
        )
    return key


def _shown(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _field_set(
    key: ApiKey,
    field: str,
    value: Any,
    *,
    by: Actor,
    action: AuditAction,
    changes: dict | None = None,
) -> None:
    """Set one field of a locked key, save it, and record the change with before and after."""
    before = getattr(key, field)
    setattr(key, field, value)
    key.save(update_fields=[field])
    changes = {**(changes or {}), "before": _shown(before), "after": _shown(value)}
    _changed(key, by=by, action=action, changes=changes)
