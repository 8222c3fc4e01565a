"""Reads about keys: what was refused recently; what a form saw (to tell a form sent twice)."""

from django.db.models import QuerySet

from apikeys.models import ApiKey, KeySecret, RejectedCall
from workspaces.models import Workspace


def rejected_calls_recent(
    *, workspace: Workspace, key: ApiKey | None = None, limit: int = 50
) -> QuerySet[RejectedCall]:
    """The workspace's most recent rejected calls (of one key, when given), newest first."""
    calls = RejectedCall.objects.filter(workspace=workspace).select_related("key")
    if key is not None:
        calls = calls.filter(key=key)
    return calls.order_by("-created_at", "-id")[: max(0, limit)]


def current_secret_id(*, key: ApiKey, role: str) -> int | None:
    """The id of the secret a key answers to now for this role: what a roll form last saw."""
    return (
        KeySecret.objects.filter(key=key, role=role, retires_at__isnull=True)
        .values_list("pk", flat=True)
        .first()
    )


def latest_key_id() -> int:
    """The id of the newest key of any workspace (0 when none): what a create form last saw."""
    return ApiKey.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
