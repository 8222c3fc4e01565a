"""The event store on databases other than PostgreSQL (SQLite, for development and tests).

The same outcome as `ingest.eventstore`'s one statement, in several statements of one
transaction: keys computed in Python (ingest/dedup.py), events already stored skipped, then the
profiles and the catalogue moved for the events actually inserted.
"""

import uuid
from collections import Counter
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Q

from ingest import dedup, derive
from ingest.models import Event, EventName, Profile, ProfileAlias
from ingest.parsing import ParsedEvent

_NAME = EventName._meta.db_table
_UPSERT = f"""
INSERT INTO {_NAME} (workspace_id, name, first_seen, last_seen, count) VALUES {{values}}
ON CONFLICT (workspace_id, name) DO UPDATE SET
    last_seen = MAX({_NAME}.last_seen, excluded.last_seen),
    count = {_NAME}.count + excluded.count
"""  # noqa: S608 (table names come from the models, values are bound parameters)


def _event(
    event: ParsedEvent, workspace_id: int, key_id: int | None, at: datetime, location
) -> Event:
    timestamp = datetime.fromtimestamp(event.timestamp_ms / 1000, tz=UTC)
    key = dedup.event_key(event)
    return Event(
        workspace_id=workspace_id,
        key_id=key_id,
        name=event.name,
        user_id=event.user_id,
        anonymous_id=event.anonymous_id,
        external_id=event.external_id,
        session_id=event.session_id,
        timestamp=timestamp,
        received_at=at,
        properties=event.properties,
        uf_properties=derive.uf_properties(event.properties, event.device_data, location),
        device_data=event.device_data,
        dedup_key=None if key is None else uuid.UUID(hex=key),
    )


def _new_only(workspace_id: int, objects: list[Event]) -> list[Event]:
    """The events not stored yet, each key once (the first of a batch wins)."""
    keys = {item.dedup_key for item in objects if item.dedup_key is not None}
    seen = set(
        Event.objects.filter(workspace_id=workspace_id, dedup_key__in=keys).values_list(
            "dedup_key", flat=True
        )
    )
    fresh = []
    for item in objects:
        if item.dedup_key is not None:
            if item.dedup_key in seen:
                continue
            seen.add(item.dedup_key)
        fresh.append(item)
    return fresh


def _seen_move(profiles, seen: datetime, location: dict | None) -> None:
    profiles.filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=seen)).update(
        last_seen_at=seen
    )
    if location is not None:
        profiles.update(location=location)


def _profiles_touch(
    workspace_id: int, inserted: list[Event], at: datetime, location: dict | None
) -> None:
    users: dict[str, datetime] = {}
    anonymous: dict[str, datetime] = {}
    for item in inserted:
        if item.user_id is not None:
            users[item.user_id] = max(users.get(item.user_id, item.timestamp), item.timestamp)
        else:
            anonymous[item.anonymous_id] = max(
                anonymous.get(item.anonymous_id, item.timestamp), item.timestamp
            )
    for user_id, last in sorted(users.items()):
        seen = min(last, at)
        Profile.objects.bulk_create(
            [
                Profile(
                    workspace_id=workspace_id,
                    user_id=user_id,
                    created_at=at,
                    updated_at=at,
                    last_seen_at=seen,
                    location=location,
                )
            ],
            ignore_conflicts=True,
        )
        _seen_move(
            Profile.objects.filter(workspace_id=workspace_id, user_id=user_id), seen, location
        )
    for anonymous_id, last in sorted(anonymous.items()):
        seen = min(last, at)
        alias = ProfileAlias.objects.filter(
            workspace_id=workspace_id, anonymous_id=anonymous_id
        ).first()
        if alias is not None:
            profiles = Profile.objects.filter(pk=alias.profile_id).exclude(user_id__in=list(users))
            _seen_move(profiles, seen, location)
            continue
        profile = Profile.objects.create(
            workspace_id=workspace_id,
            origin_anonymous_id=anonymous_id,
            anonymous_ids=[anonymous_id],
            created_at=at,
            updated_at=at,
            last_seen_at=seen,
            location=location,
        )
        ProfileAlias.objects.create(
            workspace_id=workspace_id, anonymous_id=anonymous_id, profile=profile
        )


def events_insert_generic(
    *,
    workspace_id: int,
    key_id: int | None,
    events: list[ParsedEvent],
    received_at: datetime,
    location: dict | None,
) -> None:
    """`ingest.eventstore.events_insert` for SQLite: the same outcome, in one transaction."""
    objects = [_event(event, workspace_id, key_id, received_at, location) for event in events]
    with transaction.atomic():
        inserted = _new_only(workspace_id, objects)
        if not inserted:
            return
        Event.objects.bulk_create(inserted)
        _profiles_touch(workspace_id, inserted, received_at, location)
        counts = sorted(Counter(item.name for item in inserted).items())
        seen = connection.ops.adapt_datetimefield_value(received_at)
        params: list = []
        for name, count in counts:
            params += [workspace_id, name, seen, seen, count]
        values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(counts))
        with connection.cursor() as cursor:
            cursor.execute(_UPSERT.format(values=values), params)
