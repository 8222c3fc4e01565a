"""Reads of ingested data: a profile as `GET /profile/{userId}` answers it; event names seen."""

from datetime import UTC, datetime
from typing import Any

from ingest.exceptions import ProfileNotFound
from ingest.models import EventName, Profile


def profile_get(*, workspace_id: int, user_id: str) -> dict[str, Any]:
    """The profile of a user id in a workspace, in the contract's shape; 404 when there is none."""
    profile = (
        Profile.objects.filter(workspace_id=workspace_id, user_id=user_id)
        .only(
            "user_id",
            "anonymous_ids",
            "properties",
            "computed_properties",
            "segments",
            "device_data",
            "location",
            "created_at",
            "last_seen_at",
        )
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
        "deviceData": profile.device_data,
        "location": profile.location,
        "createdAt": _iso(profile.created_at),
        "lastSeenAt": _iso(profile.last_seen_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_names_seen(workspace: Any, limit: int) -> list[str]:
    """At most `limit` event names seen in a workspace, the most frequent first."""
    return list(
        EventName.objects.filter(workspace=workspace)
        .order_by("-count", "name")
        .values_list("name", flat=True)[:limit]
    )
