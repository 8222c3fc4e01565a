"""Writing accepted events, the profiles they make and their names' catalogue: all or nothing.

On PostgreSQL the whole request is ONE statement, atomic on its own: the events, each with its
dedup key (made in Python: ingest/dedup.py), travel as one JSON document that
`jsonb_to_recordset` expands server-side; data-modifying CTEs insert them (skipping, by
ON CONFLICT DO NOTHING on the unique dedup key, any event already stored), make or move the
profiles of the rows actually inserted (CONTRACT.md §2, "Events make profiles") and upsert the
catalogue (`count = count + excluded.count`). That spares Django's per-object preparation and
every extra round trip; the price of deduplication and of profiles is measured in
docs/performance.md.

Elsewhere (SQLite, for development and tests) `ingest.eventstore_generic` does the same in
several statements of one transaction.
"""

from contextlib import contextmanager
from datetime import datetime
from functools import cache

from django.db import connection

from core.jsonbody import json_encode
from ingest import dedup, derive
from ingest.models import Event, EventName, Profile, ProfileAlias
from ingest.parsing import ParsedEvent

_EVENT = Event._meta.db_table
_NAME = EventName._meta.db_table
_PROFILE = Profile._meta.db_table
_ALIAS = ProfileAlias._meta.db_table

_ROWS = """
WITH rows AS (
    SELECT n, u, a, e, s, to_timestamp(t / 1000) AS ts, p, f, d, h
    FROM jsonb_to_recordset(%(doc)s::jsonb) AS r(
        n text, u text, a text, e text, s text, t double precision, p jsonb, f jsonb, d jsonb,
        h uuid
    )
)"""

_EVENTS = f"""
, inserted AS (
    INSERT INTO {_EVENT} (
        workspace_id, key_id, name, user_id, anonymous_id, external_id, session_id,
        "timestamp", received_at, properties, uf_properties, device_data, dedup_key
    )
    SELECT %(ws)s::bigint, %(key)s::bigint, n, u, a, e, s, ts, %(at)s::timestamptz, p, f, d,
        {{key}}
    FROM rows
    {{conflict}}
    RETURNING name, user_id, anonymous_id, "timestamp"
)"""  # noqa: S608 (table names come from the models, values are bound parameters)

_PROFILES = f"""
, users AS (
    INSERT INTO {_PROFILE} AS profile (
        workspace_id, user_id, anonymous_ids, properties, computed_properties, segments,
        location, created_at, updated_at, last_seen_at
    )
    SELECT %(ws)s::bigint, user_id, '[]', '{{}}', '{{}}', '[]', %(loc)s::jsonb,
        %(at)s::timestamptz, %(at)s::timestamptz, LEAST(max("timestamp"), %(at)s::timestamptz)
    FROM inserted WHERE user_id IS NOT NULL GROUP BY user_id ORDER BY user_id
    ON CONFLICT (workspace_id, user_id) WHERE user_id IS NOT NULL DO UPDATE SET
        last_seen_at = GREATEST(profile.last_seen_at, EXCLUDED.last_seen_at),
        location = COALESCE(EXCLUDED.location, profile.location)
), anonymous AS (
    SELECT anonymous_id AS a, LEAST(max("timestamp"), %(at)s::timestamptz) AS seen
    FROM inserted WHERE user_id IS NULL GROUP BY anonymous_id
), aliased AS (
    UPDATE {_PROFILE} AS profile SET
        last_seen_at = GREATEST(profile.last_seen_at, moved.seen),
        location = COALESCE(%(loc)s::jsonb, profile.location)
    FROM (
        SELECT alias.profile_id, max(anonymous.seen) AS seen
        FROM anonymous JOIN {_ALIAS} AS alias
            ON alias.workspace_id = %(ws)s::bigint AND alias.anonymous_id = anonymous.a
        GROUP BY alias.profile_id
    ) AS moved
    WHERE profile.id = moved.profile_id AND (
        profile.user_id IS NULL
        OR profile.user_id NOT IN (SELECT user_id FROM inserted WHERE user_id IS NOT NULL)
    )
), created AS (
    INSERT INTO {_PROFILE} (
        workspace_id, origin_anonymous_id, anonymous_ids, properties, computed_properties,
        segments, location, created_at, updated_at, last_seen_at
    )
    SELECT %(ws)s::bigint, a, jsonb_build_array(a), '{{}}', '{{}}', '[]', %(loc)s::jsonb,
        %(at)s::timestamptz, %(at)s::timestamptz, seen
    FROM anonymous
    WHERE NOT EXISTS (
        SELECT 1 FROM {_ALIAS} AS alias
        WHERE alias.workspace_id = %(ws)s::bigint AND alias.anonymous_id = anonymous.a
    )
    ORDER BY a
    ON CONFLICT DO NOTHING
    RETURNING id, origin_anonymous_id
), linked AS (
    INSERT INTO {_ALIAS} (workspace_id, anonymous_id, profile_id)
    SELECT %(ws)s::bigint, origin_anonymous_id, id FROM created
    ON CONFLICT DO NOTHING
)"""  # noqa: S608 (table names come from the models, values are bound parameters)

_CATALOGUE = f"""
INSERT INTO {_NAME} (workspace_id, name, first_seen, last_seen, count)
SELECT %(ws)s::bigint, name, %(at)s::timestamptz, %(at)s::timestamptz, count(*)
FROM inserted GROUP BY name ORDER BY name
ON CONFLICT (workspace_id, name) DO UPDATE SET
    last_seen = GREATEST({_NAME}.last_seen, EXCLUDED.last_seen),
    count = {_NAME}.count + EXCLUDED.count
"""  # noqa: S608 (table names come from the models, values are bound parameters)


def pg_statement(*, dedup: bool = True, profiles: bool = True) -> str:
    """The one statement that stores a request's events on PostgreSQL.

    The events (a re-sent one conflicts on its dedup key and is skipped), then, from the rows
    actually inserted, the profiles they make or move and the names' catalogue. Rows are locked
    in sorted order (users, anonymous ids, names) so concurrent batches cannot deadlock on them.
    Parameters: %(doc)s the events, %(ws)s, %(key)s, %(at)s, %(loc)s. The site always runs the
    whole statement; `bench/store_cost.py` times it without deduplication or without profiles
    to measure what each costs.
    """
    events = _EVENTS.format(
        key="h" if dedup else "NULL::uuid",
        conflict="ON CONFLICT DO NOTHING" if dedup else "",
    )
    return _ROWS + events + (_PROFILES if profiles else "") + _CATALOGUE


_PG_INSERT = pg_statement()


def pg_params(
    *,
    workspace_id: int,
    key_id: int | None,
    events: list[ParsedEvent],
    received_at: datetime,
    location: dict | None,
) -> dict:
    """The parameters of `pg_statement` for these events: one JSON document and four values."""
    rows = [
        {
            "n": event.name,
            "u": event.user_id,
            "a": event.anonymous_id,
            "e": event.external_id,
            "s": event.session_id,
            "t": event.timestamp_ms,
            "p": event.properties,
            "f": derive.uf_properties(event.properties, event.device_data, location),
            "d": event.device_data,
            "h": dedup.event_key(event),
        }
        for event in events
    ]
    return {
        "doc": json_encode(rows).decode(),
        "ws": workspace_id,
        "key": key_id,
        "at": received_at,
        "loc": None if location is None else json_encode(location).decode(),
    }


def _insert_postgresql(**arguments) -> None:
    with prepared_cursor() as cursor:
        cursor.execute(_PG_INSERT, pg_params(**arguments))


@cache
def _preparing_cursor_class():
    import psycopg  # only PostgreSQL needs it

    class PreparingCursor(psycopg.Cursor):
        def execute(self, query, params=None, *, prepare=None, binary=None):
            prepare = True if prepare is None else prepare
            return super().execute(query, params, prepare=prepare, binary=binary)

    return PreparingCursor


@contextmanager
def prepared_cursor():
    """A Django cursor over a psycopg cursor that binds server-side and prepares statements.

    Django's own psycopg cursors bind client-side, so PostgreSQL would lex a 100 KB literal
    and plan the statement on every call; a prepared statement with a bound parameter is
    parsed and planned once per connection. The cursor is still Django's wrapper, so query
    logging, `execute_wrapper`s and the test suite's query counts all see it.
    """
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = connection._prepare_cursor(_preparing_cursor_class()(connection.connection))
    with cursor:
        yield cursor


def events_insert(
    *,
    workspace_id: int,
    key_id: int | None,
    events: list[ParsedEvent],
    received_at: datetime,
    location: dict | None = None,
) -> None:
    """Store these events once each, move their profiles and count their names: all or nothing.

    `location` (from `ingest.location`) is added to every event's ufProperties and set on the
    profiles the events touch.
    """
    if not events:
        return
    if connection.vendor == "postgresql":
        insert = _insert_postgresql
    else:
        from ingest.eventstore_generic import events_insert_generic as insert
    insert(
        workspace_id=workspace_id,
        key_id=key_id,
        events=events,
        received_at=received_at,
        location=location,
    )
