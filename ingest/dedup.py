"""Who an event is, for idempotency (CONTRACT.md §2): pure, no ORM, no settings.

An event's `dedup_key` is a 128-bit hash (MD5, written as 32 hex digits, stored as a UUID):
- of its `eventId` when the client sent one: `md5("id:" + eventId)`;
- else, when the client sent a `timestamp`, of its whole content: name, the four ids, the
  timestamp in microseconds, properties and deviceData, as compact JSON with sorted keys;
- else none: an event timed by the server's clock is never deduplicated.

The unique index on (workspace, dedup_key) then stores a re-sent event once, whichever process
gets it and whenever (ON CONFLICT DO NOTHING). MD5 is used as a fingerprint of the client's own
data, not against an adversary: a client who forges a collision only drops its own event.

This is the only place a key is made, for every database: the worker hashes (about 2 µs for a
1 KB event), and the store only compares. Keys made before this rule lived here (PostgreSQL once
hashed in the insert statement) were re-made by migration 0004.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.jsonbody import json_encode

if TYPE_CHECKING:
    from ingest.parsing import ParsedEvent

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def id_key(event_id: str) -> str:
    """The key of an event that carries the client's own `eventId`."""
    return hashlib.md5(("id:" + event_id).encode()).hexdigest()  # noqa: S324


def content_key(
    *,
    name: str,
    user_id: str | None,
    anonymous_id: str | None,
    external_id: str | None,
    session_id: str | None,
    microseconds: int,
    properties: Any,
    device_data: Any,
) -> str:
    """The key of an event identified by its content (`microseconds` since 1970, UTC)."""
    document = json_encode(
        [
            name,
            user_id,
            anonymous_id,
            external_id,
            session_id,
            microseconds,
            properties,
            device_data,
        ],
        sort_keys=True,
    )
    return hashlib.md5(document).hexdigest()  # noqa: S324


def event_key(event: "ParsedEvent") -> str | None:
    """The key of a valid event as received: by its `eventId`, its content, or none."""
    if event.event_id is not None:
        return id_key(event.event_id)
    if not event.client_timestamp:
        return None
    return content_key(
        name=event.name,
        user_id=event.user_id,
        anonymous_id=event.anonymous_id,
        external_id=event.external_id,
        session_id=event.session_id,
        microseconds=timestamp_ms_microseconds(event.timestamp_ms),
        properties=event.properties,
        device_data=event.device_data,
    )


def timestamp_ms_microseconds(timestamp_ms: float) -> int:
    """A client's timestamp (milliseconds) in whole microseconds, as the store keeps it."""
    return round(timestamp_ms * 1000)


def datetime_microseconds(timestamp: datetime) -> int:
    """A stored timestamp in microseconds since 1970 (what `timestamp_ms_microseconds` gave)."""
    return (timestamp - _EPOCH) // _MICROSECOND
