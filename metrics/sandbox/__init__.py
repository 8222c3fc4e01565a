"""Run compiled metrics SQL read-only, time-boxed and bounded, and shape a JSON-safe answer.

The compiler (`metrics.sql`) decides *what* may run; this package makes the database itself
refuse anything else: on PostgreSQL a read-only, always rolled-back transaction with a
statement timeout, `work_mem` and `temp_file_limit`, driven through the extended query
protocol, which refuses a second statement (`postgres.py`); on SQLite a separate read-only
connection with an authorizer, no attachable databases and a progress-handler deadline
(`sqlite.py`). One deadline covers the whole call: compile, execute and reading the rows,
which are shaped as they arrive and refused as soon as the byte budget is spent (`answer.py`).
Settings are read at call time; see docs/metrics-sandbox.md.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from metrics.sql import CompiledQuery, SqlError, compile_query
from metrics.sql.limits import Limits

from . import postgres, sqlite
from .answer import Answer
from .errors import timed_out
from .sqlite import SQLITE_FUNCTIONS, sqlite_uri

__all__ = [
    "SQLITE_FUNCTIONS",
    "compile_for",
    "database_dialect",
    "execute",
    "limits",
    "run_query",
    "sqlite_uri",
]

DEFAULT_ROW_CAP = 10_000
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 5 * 1024 * 1024

# The database layers, looked up here at call time (tests replace them).
_fetch_postgres = postgres.fetch
_fetch_sqlite = sqlite.fetch
_sqlite_run = sqlite.run
_authorize = sqlite.authorize


def database_dialect(using: str = "default") -> str:
    """The compiler dialect for the database behind `using`."""
    vendor = connections[using].vendor
    if vendor == "postgresql":
        return "postgres"
    if vendor == "sqlite":
        return "sqlite"
    raise ImproperlyConfigured(f"The metrics sandbox does not support {vendor}.")


def limits(*, time_budget: float | None = None) -> Limits:
    """The compile limits from the settings, read now."""
    budget = float(getattr(settings, "METRICS_COMPILE_TIMEOUT", Limits.time_budget))
    if time_budget is not None:
        budget = min(budget, time_budget)
    return Limits(
        max_length=getattr(settings, "METRICS_MAX_QUERY_LENGTH", Limits.max_length),
        max_nodes=getattr(settings, "METRICS_MAX_QUERY_NODES", Limits.max_nodes),
        max_depth=getattr(settings, "METRICS_MAX_QUERY_DEPTH", Limits.max_depth),
        max_select_items=getattr(settings, "METRICS_MAX_SELECT_ITEMS", Limits.max_select_items),
        max_placeholders=getattr(settings, "METRICS_MAX_PLACEHOLDERS", Limits.max_placeholders),
        max_bound_bytes=getattr(settings, "METRICS_MAX_BOUND_BYTES", Limits.max_bound_bytes),
        time_budget=max(budget, 0.001),
    )


def statement_timeout() -> float:
    """The time budget of one Metrics call, in seconds (compile, run and read)."""
    return float(getattr(settings, "METRICS_STATEMENT_TIMEOUT", DEFAULT_TIMEOUT))


def compile_for(
    text: str,
    variables: Mapping[str, object] | None,
    *,
    workspace_id: int,
    time_budget: float | None = None,
    using: str = "default",
) -> CompiledQuery:
    """Compile `text` for the workspace with the settings' row cap and limits; raises SqlError."""
    return compile_query(
        text,
        variables,
        dialect=database_dialect(using),  # type: ignore[arg-type]
        workspace_id=workspace_id,
        row_cap=getattr(settings, "METRICS_ROW_CAP", DEFAULT_ROW_CAP),
        limits=limits(time_budget=time_budget),
    )


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
    """Compile `text` for the workspace and run it in the sandbox; raises SqlError.

    `timeout` (default: the setting) bounds the whole call, compile included.
    """
    started = time.monotonic()
    if timeout is None:
        timeout = statement_timeout()
    if row_cap is None:
        row_cap = getattr(settings, "METRICS_ROW_CAP", DEFAULT_ROW_CAP)
    compiled = compile_query(
        text,
        variables,
        dialect=database_dialect(using),  # type: ignore[arg-type]
        workspace_id=workspace_id,
        row_cap=row_cap,
        limits=limits(time_budget=timeout),
    )
    return execute(compiled, timeout=timeout, max_bytes=max_bytes, using=using, started=started)


def execute(
    compiled: CompiledQuery,
    *,
    timeout: float | None = None,
    max_bytes: int | None = None,
    using: str = "default",
    started: float | None = None,
) -> dict[str, Any]:
    """Run a compiled query; answer `{"columns", "rows", "rowCount", "truncated"}`.

    The call ends by `started + timeout` (default: now + the setting): the database gets
    what is left of it as its statement timeout, and reading rows stops at it.
    """
    if timeout is None:
        timeout = statement_timeout()
    if max_bytes is None:
        max_bytes = getattr(settings, "METRICS_MAX_RESULT_BYTES", DEFAULT_MAX_BYTES)
    if compiled.dialect != database_dialect(using):
        raise ValueError("the query was compiled for another database")
    deadline = (time.monotonic() if started is None else started) + timeout
    answer = Answer(compiled, max_bytes=max_bytes, deadline=deadline, timeout=timeout)
    remaining = max(deadline - time.monotonic(), 0.001)
    options: dict[str, Any] = {"max_bytes": max_bytes} if compiled.dialect == "sqlite" else {}
    fetch = _fetch_postgres if compiled.dialect == "postgres" else _fetch_sqlite
    try:
        fetch(
            compiled.sql,
            compiled.params,
            limit=compiled.row_cap + 1,
            timeout=remaining,
            using=using,
            consume=answer.take,
            **options,
        )
    except SqlError as error:
        if error.code == "query_timeout":
            raise timed_out(timeout) from None  # the call's budget, not what was left of it
        raise
    return answer.result()
