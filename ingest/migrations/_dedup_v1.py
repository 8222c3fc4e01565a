"""The first rule for content keys (migration 0003), frozen: PostgreSQL hashed the `jsonb` text.

Migration 0003 keyed existing rows with it, and the insert statement keyed new ones with it until
the rule moved to Python (ingest/dedup.py); migration 0004 finds the rows keyed this way and
re-keys them. Not a migration: Django skips modules whose name starts with "_".
"""

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

CONTENT_KEY_SQL = (
    "md5(jsonb_build_array({name}, {user_id}, {anonymous_id}, {external_id}, {session_id}, "
    "(extract(epoch FROM {timestamp}) * 1000000)::bigint, {properties}, {device_data})::text)::uuid"
)
# The expression over ingest_event's own columns.
CONTENT_KEY_OF_ROW_SQL = CONTENT_KEY_SQL.format(
    name="name",
    user_id="user_id",
    anonymous_id="anonymous_id",
    external_id="external_id",
    session_id="session_id",
    timestamp='"timestamp"',
    properties="properties",
    device_data="device_data",
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


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
    """The first rule's key in Python (the databases other than PostgreSQL used it)."""
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


def content_key_of_row(event) -> uuid.UUID:
    """The first rule's key of a stored event (a model instance, historical or current)."""
    return content_key(
        name=event.name,
        user_id=event.user_id,
        anonymous_id=event.anonymous_id,
        external_id=event.external_id,
        session_id=event.session_id,
        timestamp=event.timestamp,
        properties=event.properties,
        device_data=event.device_data,
    )
