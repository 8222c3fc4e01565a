"""Reads about keys for the pages: what was refused recently."""

from django.db.models import QuerySet

from apikeys.models import ApiKey, RejectedCall
from workspaces.models import Workspace


def rejected_calls_recent(
    *, workspace: Workspace, key: ApiKey | None = None, limit: int = 50
) -> QuerySet[RejectedCall]:
    """The workspace's most recent rejected calls (of one key, when given), newest first."""
    calls = RejectedCall.objects.filter(workspace=workspace).select_related("key")
    if key is not None:
        calls = calls.filter(key=key)
    return calls.order_by("-created_at", "-id")[: max(0, limit)]
