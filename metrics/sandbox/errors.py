"""The sandbox's own refusals, worded for the customer, never carrying our internal names."""

from __future__ import annotations

import logging
import re

from metrics.sql import SqlError

logger = logging.getLogger("metrics.sandbox")

# Names of ours that a database error message must not carry back to a customer.
_INTERNAL = re.compile(r"ingest_|workspace|\buf[0-9a-f]{12}", re.IGNORECASE)


def failed(error: Exception, message: str) -> SqlError:
    """The database refused or failed the query: its message, unless it names our internals."""
    logger.info("metrics query failed: %r", error)
    if message and not _INTERNAL.search(message):
        return SqlError("query_failed", f"The database could not run the query: {message}")
    return SqlError("query_failed", "The database could not run the query.")


def timed_out(timeout: float) -> SqlError:
    """The query ran past the call's time budget."""
    return SqlError(
        "query_timeout",
        f"The query ran longer than {timeout:g} seconds: narrow it by time or by event name.",
    )


def too_large(max_bytes: int) -> SqlError:
    """The answer would pass the byte budget."""
    return SqlError(
        "result_too_large",
        f"The result is larger than {max_bytes} bytes: select fewer columns or rows.",
    )


def too_expensive(detail: str) -> SqlError:
    """The query needed more of a database resource (temporary files) than it may use."""
    return SqlError(
        "query_too_expensive",
        f"The query needed more temporary disk space than it may use ({detail}): "
        "narrow it by time or by event name, or aggregate before sorting.",
    )
