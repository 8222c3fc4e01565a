"""SQLite: a separate read-only connection, an authorizer, and one deadline over every step.

The cursor is read a row at a time (each step runs under the progress handler, so the
deadline covers computing rows as well as reading them), and no value may be longer than the
answer's byte budget: SQLite itself refuses to build one (SQLITE_LIMIT_LENGTH).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from metrics.sql import SqlError
from metrics.sql.schema import READABLE_COLUMNS

from .errors import failed, timed_out, too_large

Consume = Callable[[list[str], Iterator[tuple[Any, ...]]], None]

# What the SQLite authorizer lets a query call: the functions the compiler can emit.
SQLITE_FUNCTIONS = frozenset(
    {"count", "sum", "avg", "min", "max"}
    | {"row_number", "rank", "dense_rank", "lag", "lead", "first_value", "last_value"}
    | {"lower", "upper", "length", "trim", "ltrim", "rtrim", "substr", "substring"}
    | {"replace", "instr", "like", "coalesce", "nullif", "abs", "round"}
    | {"floor", "ceil", "date", "datetime", "strftime", "current_timestamp"}
    | {"current_date", "json_type", "json_extract"}
)
_ALLOWED_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE})
MAX_LENGTH = 16 * 1024 * 1024
_MIN_LENGTH = 64 * 1024
_PROGRESS_STEPS = 1_000
_TOOBIG = 18  # SQLITE_TOOBIG


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


def authorize(action: int, arg1: str | None, arg2: str | None, db: str | None, _: Any) -> int:
    """The SQLite authorizer: reads of readable columns and allowed functions, nothing else."""
    if action in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    # A real table always has a database name; a CTE read (`count(*)` over one) has none.
    if action == sqlite3.SQLITE_READ and (
        db is None or (db == "main" and arg2 in READABLE_COLUMNS.get(arg1 or "", ()))
    ):
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in SQLITE_FUNCTIONS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def fetch(
    sql: str,
    params: Sequence[object],
    *,
    limit: int,
    timeout: float,
    using: str,
    consume: Consume | None = None,
    max_bytes: int | None = None,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run `sql` on a read-only connection to the database Django uses."""
    uri, shared_memory = sqlite_uri(str(connections[using].settings_dict["NAME"]))
    return run(
        uri, sql, params, limit=limit, timeout=timeout, shared=shared_memory,
        consume=consume, max_bytes=max_bytes,
    )  # fmt: skip


def run(
    uri: str,
    sql: str,
    params: Sequence[object],
    *,
    limit: int,
    timeout: float,
    shared: bool,
    consume: Consume | None = None,
    max_bytes: int | None = None,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run `sql` on `uri`; hand `consume` the names and a row stream (default: collect)."""
    deadline = time.monotonic() + timeout
    expired = False
    collected: tuple[list[str], list[tuple[Any, ...]]] = ([], [])

    def progress() -> int:
        nonlocal expired
        expired = time.monotonic() > deadline
        return 1 if expired else 0

    def keep(names: list[str], rows: Iterator[tuple[Any, ...]]) -> None:
        collected[0].extend(names)
        for row in rows:
            if len(collected[1]) >= limit:
                break
            collected[1].append(row)

    length = MAX_LENGTH if max_bytes is None else max(_MIN_LENGTH, min(MAX_LENGTH, max_bytes))
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)) as conn:
            conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, length)
            conn.execute("PRAGMA query_only = 1")
            conn.execute("PRAGMA case_sensitive_like = 1")  # LIKE as on PostgreSQL
            if shared:
                # The test database: mode=ro is impossible there, and rows written by Django's
                # own (open) transaction are visible only when reading uncommitted.
                conn.execute("PRAGMA read_uncommitted = 1")
            conn.set_authorizer(authorize)
            conn.set_progress_handler(progress, _PROGRESS_STEPS)
            # sqlite3 refuses to execute() a second statement.
            cursor = conn.execute(sql, tuple(params))
            if cursor.description is None:
                raise SqlError("invalid_sql", "The query returned no result set.")
            names = [column[0] for column in cursor.description]
            (consume or keep)(names, iter(cursor))
            return collected
    except sqlite3.Error as error:
        if expired:
            raise timed_out(timeout) from None
        if getattr(error, "sqlite_errorcode", None) == _TOOBIG and max_bytes is not None:
            raise too_large(max_bytes) from None
        raise failed(error, str(error)) from None
