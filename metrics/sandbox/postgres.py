"""PostgreSQL: a read-only, always rolled-back transaction, time-boxed, streamed row by row.

The query runs through a plain psycopg cursor's `stream()`: the extended query protocol (which
refuses a second statement), binary results, and libpq's single-row mode, so the driver holds
one row at a time instead of the whole result. Stopping early (the byte budget, the row cap,
the deadline) cancels the statement on the server. A named (server-side) cursor was not used:
`FETCH n` bounds rows, not bytes, and n rows of a megabyte each are still n megabytes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from typing import Any

from django.conf import settings
from django.db import OperationalError, connections, transaction

from metrics.sql import SqlError

from .errors import failed, timed_out, too_expensive

logger = logging.getLogger("metrics.sandbox")

Consume = Callable[[list[str], Iterator[tuple[Any, ...]]], None]

# Memory sizes as PostgreSQL writes them; anything else in the settings is refused.
_SIZE = re.compile(r"(-1|[0-9]{1,12}(kB|MB|GB|TB)?)")
_warned_unbounded = False


def fetch(
    sql: str,
    params: Sequence[object],
    *,
    limit: int,
    timeout: float,
    using: str,
    consume: Consume | None = None,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run `sql` read-only; hand `consume` the names and a row stream (default: collect)."""
    import psycopg  # here, not at the top: a SQLite-only install need not have it

    collected: tuple[list[str], list[tuple[Any, ...]]] = ([], [])

    def run(conn: Any) -> None:
        def keep(names: list[str], rows: Iterator[tuple[Any, ...]]) -> None:
            collected[0].extend(names)
            for row in rows:
                if len(collected[1]) >= limit:
                    break
                collected[1].append(row)

        _run(conn, sql, params, timeout=timeout, consume=consume or keep)

    url = getattr(settings, "METRICS_DATABASE_URL", "")
    try:
        if url:
            # A connection of its own, as a role that can only read (see the docs' recipe).
            connect_timeout = max(1, min(5, int(timeout)))
            with closing(
                psycopg.connect(url, autocommit=False, connect_timeout=connect_timeout)
            ) as conn:
                conn.read_only = True
                try:
                    run(conn)
                finally:
                    conn.rollback()
        else:
            # Django's connection, inside a transaction or savepoint that is always rolled back.
            with transaction.atomic(using=using):
                transaction.set_rollback(True, using=using)
                run(connections[using].connection)
    except psycopg.errors.QueryCanceled:
        raise timed_out(timeout) from None
    except psycopg.errors.LockNotAvailable:
        raise timed_out(timeout) from None
    except psycopg.errors.ConfigurationLimitExceeded as error:
        raise too_expensive(_primary(error) or "temp_file_limit") from None
    except (psycopg.OperationalError, psycopg.InterfaceError) as error:
        if _connection_lost(error):  # the database went away: 503, not the query's fault
            raise OperationalError(str(error)) from error
        raise failed(error, _primary(error)) from None
    except psycopg.Error as error:
        raise failed(error, _primary(error)) from None
    return collected


def _connection_lost(error: Exception) -> bool:
    """Whether the connection failed or the server is shutting down or starting up."""
    sqlstate = getattr(error, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(("08", "57P"))


def _primary(error: Exception) -> str:
    diag = getattr(error, "diag", None)
    return getattr(diag, "message_primary", "") or ""


def _size(name: str, default: str) -> str:
    value = str(getattr(settings, name, default) or default).strip()
    if not _SIZE.fullmatch(value):
        raise SqlError("query_failed", f"{name} is not a size PostgreSQL reads.", status=500)
    return value


def _run(
    conn: Any, sql: str, params: Sequence[object], *, timeout: float, consume: Consume
) -> None:
    import psycopg

    milliseconds = str(max(1, int(timeout * 1000)))
    work_mem = _size("METRICS_WORK_MEM", "16MB")
    temp_file_limit = _size("METRICS_TEMP_FILE_LIMIT", "256MB")
    # Django's cursors bind on the client and send the simple query protocol, which runs
    # stacked statements. A plain psycopg cursor asked for binary results always uses the
    # extended protocol (PQsendQueryParams), and PostgreSQL refuses a second command there,
    # with or without parameters. (`prepare=True` would not do: Django sets the connection's
    # prepare_threshold to None, which turns it off.) stream() uses it too.
    with psycopg.Cursor(conn) as cursor:
        cursor.execute("SET LOCAL transaction_read_only = on")
        # One round trip for every limit. temp_file_limit is a superuser setting: it is set
        # where the role may (a superuser, or GRANT SET ON PARAMETER, see the docs' recipe),
        # otherwise the role's own value (ALTER ROLE ... SET temp_file_limit) stands.
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, true),"
            " set_config('lock_timeout', %s, true),"
            " set_config('work_mem', %s, true),"
            " set_config('TimeZone', 'UTC', true),"
            " CASE WHEN has_parameter_privilege('temp_file_limit', 'SET')"
            " THEN set_config('temp_file_limit', %s, true)"
            " ELSE current_setting('temp_file_limit') END",
            [milliseconds, milliseconds, work_mem, temp_file_limit],
            binary=True,
        )
        row = cursor.fetchone()
        if row is not None and row[4] == "-1":
            _warn_unbounded()
        rows = cursor.stream(sql, list(params), binary=True)
        try:
            first = next(rows, None)
            if first is None:
                # psycopg keeps no column names from an empty stream: ask for them alone
                # (LIMIT 0 stops the executor before it reads a row).
                describe = f"SELECT * FROM ({sql}) AS q LIMIT 0"  # noqa: S608 (compiled SQL)
                cursor.execute(describe, list(params), binary=True)
            if cursor.description is None:
                raise SqlError("invalid_sql", "The query returned no result set.")
            names = [column.name for column in cursor.description]
            consume(names, _chain(first, rows))
        finally:
            rows.close()  # cancels the statement on the server if rows are left


def _chain(first: tuple[Any, ...] | None, rest: Iterator[tuple[Any, ...]]):
    if first is None:
        return
    yield first
    yield from rest


def _warn_unbounded() -> None:
    global _warned_unbounded
    if not _warned_unbounded:
        _warned_unbounded = True
        logger.warning(
            "temp_file_limit is unbounded for the metrics role and cannot be set per query: "
            "apply the read-only role recipe in docs/metrics-sandbox.md"
        )
