"""Writing accepted events and their names' catalogue: one transaction, as few statements as can be.

On PostgreSQL the whole request is ONE statement, atomic on its own: the events travel as one
JSON document that `jsonb_to_recordset` expands server-side, a data-modifying CTE inserts them,
and the same statement upserts the catalogue (`count = count + excluded.count`). That spares
Django's per-object, per-field preparation (`bulk_create`) and every extra round trip. Names are
upserted in sorted order so that concurrent batches lock catalogue rows in the same order.

Elsewhere (SQLite, for development and tests) it is `bulk_create` plus the same upsert, in one
transaction.
"""

import json
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache

from django.db import connection, transaction

from ingest import derive
from ingest.models import Event, EventName
from ingest.parsing import ParsedEvent

_EVENT = Event._meta.db_table
_NAME = EventName._meta.db_table

_PG_INSERT = f"""
WITH rows AS (
    SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r(
        n text, u text, a text, e text, s text, t double precision, p jsonb, f jsonb, d jsonb
    )
), inserted AS (
    INSERT INTO {_EVENT} (
        workspace_id, key_id, name, user_id, anonymous_id, external_id, session_id,
        "timestamp", received_at, properties, uf_properties, device_data
    )
    SELECT %s::bigint, %s::bigint, n, u, a, e, s, to_timestamp(t / 1000), %s::timestamptz,
        p, f, d
    FROM rows
)
INSERT INTO {_NAME} (workspace_id, name, first_seen, last_seen, count)
SELECT %s::bigint, n, %s::timestamptz, %s::timestamptz, count(*) FROM rows GROUP BY n ORDER BY n
ON CONFLICT (workspace_id, name) DO UPDATE SET
    last_seen = GREATEST({_NAME}.last_seen, EXCLUDED.last_seen),
    count = {_NAME}.count + EXCLUDED.count
"""  # noqa: S608 (table names come from the models, values are bound parameters)

_UPSERT = f"""
INSERT INTO {_NAME} (workspace_id, name, first_seen, last_seen, count) VALUES {{values}}
ON CONFLICT (workspace_id, name) DO UPDATE SET
    last_seen = MAX({_NAME}.last_seen, excluded.last_seen),
    count = {_NAME}.count + excluded.count
"""  # noqa: S608 (table names come from the models, values are bound parameters)


def _insert_postgresql(
    *, workspace_id: int, key_id: int | None, events: list[ParsedEvent], received_at: datetime
) -> None:
    rows = [
        {
            "n": event.name,
            "u": event.user_id,
            "a": event.anonymous_id,
            "e": event.external_id,
            "s": event.session_id,
            "t": event.timestamp_ms,
            "p": event.properties,
            "f": derive.uf_properties(event.properties, event.device_data),
            "d": event.device_data,
        }
        for event in events
    ]
    document = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    with _prepared_cursor() as cursor:
        cursor.execute(
            _PG_INSERT,
            [document, workspace_id, key_id, received_at, workspace_id, received_at, received_at],
        )


@cache
def _preparing_cursor_class():
    import psycopg  # only PostgreSQL needs it

    class PreparingCursor(psycopg.Cursor):
        def execute(self, query, params=None, *, prepare=None, binary=None):
            prepare = True if prepare is None else prepare
            return super().execute(query, params, prepare=prepare, binary=binary)

    return PreparingCursor


@contextmanager
def _prepared_cursor():
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


def _insert_generic(
    *, workspace_id: int, key_id: int | None, events: list[ParsedEvent], received_at: datetime
) -> None:
    objects = [
        Event(
            workspace_id=workspace_id,
            key_id=key_id,
            name=event.name,
            user_id=event.user_id,
            anonymous_id=event.anonymous_id,
            external_id=event.external_id,
            session_id=event.session_id,
            timestamp=datetime.fromtimestamp(event.timestamp_ms / 1000, tz=UTC),
            received_at=received_at,
            properties=event.properties,
            uf_properties=derive.uf_properties(event.properties, event.device_data),
            device_data=event.device_data,
        )
        for event in events
    ]
    counts = sorted(Counter(event.name for event in events).items())
    seen = connection.ops.adapt_datetimefield_value(received_at)
    params: list = []
    for name, count in counts:
        params += [workspace_id, name, seen, seen, count]
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(counts))
    with transaction.atomic():
        Event.objects.bulk_create(objects)
        with connection.cursor() as cursor:
            cursor.execute(_UPSERT.format(values=values), params)


def events_insert(
    *, workspace_id: int, key_id: int | None, events: list[ParsedEvent], received_at: datetime
) -> None:
    """Store these events and count their names, all or nothing."""
    if not events:
        return
    insert = _insert_postgresql if connection.vendor == "postgresql" else _insert_generic
    insert(workspace_id=workspace_id, key_id=key_id, events=events, received_at=received_at)
