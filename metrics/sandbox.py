"""Run compiled metrics SQL read-only, time-boxed and capped, and shape a JSON-safe answer.

The compiler (`metrics.sql`) decides *what* may run; this module makes the database itself
refuse anything else: on PostgreSQL a read-only, always rolled-back transaction with a
statement timeout, driven through the extended query protocol, which refuses a second
statement; on SQLite a separate read-only connection with an authorizer, no attachable
databases and a progress-handler deadline. Settings are read at call time; see
docs/metrics-sandbox.md.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connections, transaction

from .sql import CompiledQuery, SqlError, compile_query
from .sql.schema import READABLE_COLUMNS
from .sql.values import json_safe

logger = logging.getLogger(__name__)

DEFAULT_ROW_CAP = 10_000
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 5 * 1024 * 1024

# What the SQLite authorizer lets a query call: the functions the compiler can emit.
SQLITE_FUNCTIONS = frozenset(
    {"count", "sum", "avg", "min", "max"}
    | {"row_number", "rank", "dense_rank", "lag", "lead", "first_value", "last_value"}
    | {"lower", "upper", "length", "trim", "ltrim", "rtrim", "substr", "substring"}
    | {"replace", "instr", "like", "coalesce", "nullif", "abs", "round"}
    | {"floor", "ceil", "date", "datetime", "strftime", "current_timestamp"}
    | {"current_date", "json_type", "json_extract"}
)
_SQLITE_ALLOWED_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE})
_SQLITE_MAX_LENGTH = 16 * 1024 * 1024
_PROGRESS_STEPS = 1_000
# Names of ours that a database error message must not carry back to a customer.
_INTERNAL = re.compile(r"ingest_|workspace|\buf[0-9a-f]{12}", re.IGNORECASE)


def database_dialect(using: str = "default") -> str:
    """The compiler dialect for the database behind `using`."""
    vendor = connections[using].vendor
    if vendor == "postgresql":
        return "postgres"
    if vendor == "sqlite":
        return "sqlite"
    raise ImproperlyConfigured(f"The metrics sandbox does not support {vendor}.")


def run_query(
    text: str,
    variables: Mapping[str, object] | None,
    *,
    workspace_id: int,
    row_cap: int | None = None,
    timeout: float | None = None,
    max_bytes: int | None = None,
    using: str = "default",
) -> dict[str, Any]:
    """Compile `text` for the workspace and run it in the sandbox; raises SqlError."""
    if row_cap is None:
        row_cap = getattr(settings, "METRICS_ROW_CAP", DEFAULT_ROW_CAP)
    compiled = compile_query(
        text,
        variables,
        dialect=database_dialect(using),  # type: ignore[arg-type]
        workspace_id=workspace_id,
        row_cap=row_cap,
        max_length=getattr(settings, "METRICS_MAX_QUERY_LENGTH", 100_000),
    )
    return execute(compiled, timeout=timeout, max_bytes=max_bytes, using=using)


def execute(
    compiled: CompiledQuery,
    *,
    timeout: float | None = None,
    max_bytes: int | None = None,
    using: str = "default",
) -> dict[str, Any]:
    """Run a compiled query; answer `{"columns", "rows", "rowCount", "truncated"}`."""
    if timeout is None:
        timeout = float(getattr(settings, "METRICS_STATEMENT_TIMEOUT", DEFAULT_TIMEOUT))
    if max_bytes is None:
        max_bytes = getattr(settings, "METRICS_MAX_RESULT_BYTES", DEFAULT_MAX_BYTES)
    if compiled.dialect != database_dialect(using):
        raise ValueError("the query was compiled for another database")
    fetch = _fetch_postgres if compiled.dialect == "postgres" else _fetch_sqlite
    names, rows = fetch(
        compiled.sql, compiled.params, limit=compiled.row_cap + 1, timeout=timeout, using=using
    )
    return _shape(names, rows, compiled, max_bytes=max_bytes)


def _shape(
    names: list[str], rows: Sequence[Sequence[Any]], compiled: CompiledQuery, *, max_bytes: int
) -> dict[str, Any]:
    columns = _unique(names)
    kinds = [compiled.column_kinds.get(name) for name in names]
    truncated = len(rows) > compiled.row_cap
    shaped: list[dict[str, Any]] = []
    size = 0
    for row in rows[: compiled.row_cap]:
        item = {
            column: json_safe(value, kind)
            for column, kind, value in zip(columns, kinds, row, strict=True)
        }
        size += len(json.dumps(item, ensure_ascii=False).encode()) + 1
        if size > max_bytes:
            raise SqlError(
                "result_too_large",
                f"The result is larger than {max_bytes} bytes: select fewer columns or rows.",
            )
        shaped.append(item)
    return {"columns": columns, "rows": shaped, "rowCount": len(shaped), "truncated": truncated}


def _unique(names: list[str]) -> list[str]:
    # A row is a JSON object: a repeated column name gets a suffix instead of being lost.
    seen: set[str] = set()
    unique = []
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate)
        unique.append(candidate)
    return unique


def _failed(error: Exception, message: str) -> SqlError:
    logger.info("metrics query failed: %r", error)
    if message and not _INTERNAL.search(message):
        return SqlError("query_failed", f"The database could not run the query: {message}")
    return SqlError("query_failed", "The database could not run the query.")


def _connection_lost(error: Exception) -> bool:
    """Whether the connection failed or the server is shutting down or starting up."""
    sqlstate = getattr(error, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(("08", "57P"))


def _timed_out(timeout: float) -> SqlError:
    return SqlError(
        "query_timeout",
        f"The query ran longer than {timeout:g} seconds: narrow it by time or by event name.",
    )


# PostgreSQL ---------------------------------------------------------------------------------


def _fetch_postgres(
    sql: str, params: Sequence[object], *, limit: int, timeout: float, using: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    import psycopg  # here, not at the top: a SQLite-only install need not have it

    url = getattr(settings, "METRICS_DATABASE_URL", "")
    try:
        if url:
            # A connection of its own, as a role that can only read (see the docs' recipe).
            with closing(psycopg.connect(url, autocommit=False, connect_timeout=5)) as conn:
                conn.read_only = True
                try:
                    return _postgres_run(conn, sql, params, limit=limit, timeout=timeout)
                finally:
                    conn.rollback()
        # Django's connection, inside a transaction or savepoint that is always rolled back.
        with transaction.atomic(using=using):
            transaction.set_rollback(True, using=using)
            raw = connections[using].connection
            return _postgres_run(raw, sql, params, limit=limit, timeout=timeout)
    except psycopg.errors.QueryCanceled:
        raise _timed_out(timeout) from None
    except psycopg.errors.LockNotAvailable:
        raise _timed_out(timeout) from None
    except (psycopg.OperationalError, psycopg.InterfaceError) as error:
        if _connection_lost(error):  # the database went away: 503, not the query's fault
            raise OperationalError(str(error)) from error
        diag = getattr(error, "diag", None)
        raise _failed(error, getattr(diag, "message_primary", "") or "") from None
    except psycopg.Error as error:
        diag = getattr(error, "diag", None)
        raise _failed(error, getattr(diag, "message_primary", "") or "") from None


def _postgres_run(
    conn: Any, sql: str, params: Sequence[object], *, limit: int, timeout: float
) -> tuple[list[str], list[tuple[Any, ...]]]:
    import psycopg

    milliseconds = max(1, int(timeout * 1000))
    # Django's cursors bind on the client and send the simple query protocol, which runs
    # stacked statements. A plain psycopg cursor asked for binary results always uses the
    # extended protocol (PQsendQueryParams), and PostgreSQL refuses a second command there,
    # with or without parameters. (`prepare=True` would not do: Django sets the connection's
    # prepare_threshold to None, which turns it off.)
    with psycopg.Cursor(conn) as cursor:
        cursor.execute("SET LOCAL transaction_read_only = on")
        cursor.execute(f"SET LOCAL statement_timeout = {milliseconds}")
        cursor.execute(f"SET LOCAL lock_timeout = {milliseconds}")
        cursor.execute("SET LOCAL TimeZone = 'UTC'")
        cursor.execute(sql, list(params), binary=True)
        if cursor.description is None:
            raise SqlError("invalid_sql", "The query returned no result set.")
        names = [column.name for column in cursor.description]
        return names, cursor.fetchmany(limit)


# SQLite -------------------------------------------------------------------------------------


def sqlite_uri(name: str) -> tuple[str, bool]:
    """A read-only URI for the database Django uses, and whether it is a shared memory one."""
    if name.startswith("file:"):
        path, _, query = name.partition("?")
        options = dict(parse_qsl(query))
        if options.get("mode") == "memory":
            if options.get("cache") != "shared":
                raise ImproperlyConfigured("A private in-memory SQLite database cannot be read.")
            return name, True
        options["mode"] = "ro"
        return f"{path}?{urlencode(options)}", False
    if not name or name == ":memory:":
        raise ImproperlyConfigured("A private in-memory SQLite database cannot be read.")
    return f"{Path(name).resolve().as_uri()}?mode=ro", False


def _authorize(action: int, arg1: str | None, arg2: str | None, db: str | None, _: Any) -> int:
    if action in _SQLITE_ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    # A real table always has a database name; a CTE read (`count(*)` over one) has none.
    if action == sqlite3.SQLITE_READ and (
        db is None or (db == "main" and arg2 in READABLE_COLUMNS.get(arg1 or "", ()))
    ):
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in SQLITE_FUNCTIONS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _fetch_sqlite(
    sql: str, params: Sequence[object], *, limit: int, timeout: float, using: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    uri, shared_memory = sqlite_uri(str(connections[using].settings_dict["NAME"]))
    return _sqlite_run(uri, sql, params, limit=limit, timeout=timeout, shared=shared_memory)


def _sqlite_run(
    uri: str, sql: str, params: Sequence[object], *, limit: int, timeout: float, shared: bool
) -> tuple[list[str], list[tuple[Any, ...]]]:
    deadline = time.monotonic() + timeout
    expired = False

    def progress() -> int:
        nonlocal expired
        expired = time.monotonic() > deadline
        return 1 if expired else 0

    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)) as conn:
            conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, _SQLITE_MAX_LENGTH)
            conn.execute("PRAGMA query_only = 1")
            conn.execute("PRAGMA case_sensitive_like = 1")  # LIKE as on PostgreSQL
            if shared:
                # The test database: mode=ro is impossible there, and rows written by Django's
                # own (open) transaction are visible only when reading uncommitted.
                conn.execute("PRAGMA read_uncommitted = 1")
            conn.set_authorizer(_authorize)
            conn.set_progress_handler(progress, _PROGRESS_STEPS)
            # sqlite3 refuses to execute() a second statement.
            cursor = conn.execute(sql, tuple(params))
            if cursor.description is None:
                raise SqlError("invalid_sql", "The query returned no result set.")
            names = [column[0] for column in cursor.description]
            return names, cursor.fetchmany(limit)
    except sqlite3.Error as error:
        if expired:
            raise _timed_out(timeout) from None
        raise _failed(error, str(error)) from None
