"""Who an event is, for idempotency (CONTRACT.md §2): pure, no ORM, no settings.

An event's `dedup_key` is a 128-bit hash (MD5, as a UUID):
- of its `eventId` when the client sent one: `md5("id:" + eventId)`;
- else, when the client sent a `timestamp`, of its whole content as stored: name, the four ids,
  the timestamp in microseconds, properties and deviceData;
- else none: an event timed by the server's clock is never deduplicated.

The unique index on (workspace, dedup_key) then stores a re-sent event once, whichever process
gets it and whenever (ON CONFLICT DO NOTHING). MD5 is used as a fingerprint of the client's own
data, not against an adversary: a client who forges a collision only drops its own event.

On PostgreSQL the content hash is computed by the database, in the insert statement, from the
`jsonb` text of the stored values (`CONTENT_KEY_SQL`); the migration that added the column keys
existing rows with the same expression. Elsewhere (SQLite) it is computed here, in Python, from
the same values; keys are compared only within one database, so the two never meet.
"""

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

ID_KEY_SQL = "md5('id:' || {event_id})::uuid"
CONTENT_KEY_SQL = (
    "md5(jsonb_build_array({name}, {user_id}, {anonymous_id}, {external_id}, {session_id}, "
    "(extract(epoch FROM {timestamp}) * 1000000)::bigint, {properties}, {device_data})::text)::uuid"
)


def id_key(event_id: str) -> uuid.UUID:
    """The key of an event that carries the client's own `eventId`."""
    return uuid.UUID(hashlib.md5(("id:" + event_id).encode()).hexdigest())  # noqa: S324


def content_key(
    *,
    name: str,
    user_id: str | None,
    anonymous_id: str | None,
    external_id: str | None,
    session_id: str | None,
    timestamp: datetime,
    properties: Any,
    device_data: Any,
) -> uuid.UUID:
    """The key of an event identified by its content (Python's twin of CONTENT_KEY_SQL)."""
    microseconds = (timestamp - _EPOCH) // _MICROSECOND
    document = json.dumps(
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
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return uuid.UUID(hashlib.md5(document.encode("utf-8", "surrogatepass")).hexdigest())  # noqa: S324
