"""The virtual tables a workspace may query, and the physical tables and columns behind them."""

from __future__ import annotations

from dataclasses import dataclass

# Kinds the sandbox uses to give the same JSON answer on PostgreSQL and SQLite.
JSON = "json"
TIMESTAMP = "timestamp"
BOOLEAN = "boolean"


@dataclass(frozen=True)
class VirtualTable:
    """A table the customer's SQL names, backed by one physical table filtered by workspace."""

    name: str
    physical: str
    # virtual column name -> physical column name, in the order `SELECT *` returns them
    columns: dict[str, str]


EVENTS = VirtualTable(
    name="eventsTable",
    physical="ingest_event",
    columns={
        "timestamp": "timestamp",
        "name": "name",
        "userId": "user_id",
        "anonymousId": "anonymous_id",
        "externalId": "external_id",
        "sessionId": "session_id",
        "properties": "properties",
        "ufProperties": "uf_properties",
        "deviceData": "device_data",
    },
)

PROFILES = VirtualTable(
    name="profilesTable",
    physical="ingest_profile",
    columns={
        "userId": "user_id",
        "anonymousIds": "anonymous_ids",
        "properties": "properties",
        "computedProperties": "computed_properties",
        "deviceData": "device_data",
        "location": "location",
        "createdAt": "created_at",
        "updatedAt": "updated_at",
        "lastSeenAt": "last_seen_at",
    },
)

WORKSPACE_COLUMN = "workspace_id"

VIRTUAL_TABLES: dict[str, VirtualTable] = {t.name.lower(): t for t in (EVENTS, PROFILES)}

# Columns holding JSON documents: the only ones `column.key` dot access may read.
JSON_COLUMNS = frozenset(
    {"properties", "ufProperties", "deviceData", "computedProperties", "location"}
)

# What kind of value each virtual column holds, by its (canonical) name.
COLUMN_KINDS: dict[str, str] = {
    "timestamp": TIMESTAMP,
    "createdAt": TIMESTAMP,
    "updatedAt": TIMESTAMP,
    "lastSeenAt": TIMESTAMP,
    "properties": JSON,
    "ufProperties": JSON,
    "deviceData": JSON,
    "computedProperties": JSON,
    "location": JSON,
    "anonymousIds": JSON,
}

# Canonical spelling of every virtual name, keyed by its lower-case form.
CANONICAL_NAMES: dict[str, str] = {
    name.lower(): name for table in VIRTUAL_TABLES.values() for name in table.columns
} | {table.name.lower(): table.name for table in VIRTUAL_TABLES.values()}

# What the SQLite authorizer lets the generated SQL read: table -> columns.
READABLE_COLUMNS: dict[str, frozenset[str]] = {
    table.physical: frozenset({*table.columns.values(), WORKSPACE_COLUMN})
    for table in VIRTUAL_TABLES.values()
}
