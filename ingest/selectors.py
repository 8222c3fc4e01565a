"""Reads of ingested data: a profile as `GET /profile/{userId}` answers it; event names seen."""

from typing import Any

from ingest.exceptions import ProfileNotFound
from ingest.models import EventName, Profile


def profile_get(*, workspace_id: int, user_id: str) -> dict[str, Any]:
    """The profile of a user id in a workspace, in the contract's shape; 404 when there is none."""
    profile = (
        Profile.objects.filter(workspace_id=workspace_id, user_id=user_id)
        .only("user_id", "anonymous_ids", "properties", "computed_properties", "segments")
        .first()
    )
    if profile is None:
        raise ProfileNotFound()
    return {
        "id": profile.user_id,
        "anonymousIds": list(profile.anonymous_ids or []),
        "properties": profile.properties or {},
        "computedProperties": profile.computed_properties or {},
        "segments": list(profile.segments or []),
    }


def event_names_seen(workspace: Any, limit: int) -> list[str]:
    """At most `limit` event names seen in a workspace, the most frequent first."""
    return list(
        EventName.objects.filter(workspace=workspace)
        .order_by("-count", "name")
        .values_list("name", flat=True)[:limit]
    )
