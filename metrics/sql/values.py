"""Turn database values into JSON values that read the same on PostgreSQL and SQLite."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

from .schema import BOOLEAN, JSON, TIMESTAMP

# Integers of more digits than this are sent as text (Python's int-to-text limit is 4,300).
MAX_INT_DIGITS = 4_000
MAX_INT_BITS = 13_000  # about 3,900 decimal digits


def json_safe(value: Any, kind: str | None = None) -> Any:
    """A JSON-safe form of one result value; `kind` is what the compiler knows of its column.

    Timestamps become ISO 8601 in UTC with a `Z` (SQLite keeps them as text, PostgreSQL as
    timestamptz); JSON columns become objects (SQLite and Django's PostgreSQL loader give
    text); booleans stay booleans (SQLite gives 0/1); decimals become numbers.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if kind == BOOLEAN and value in (0, 1):
            return bool(value)
        return value if value.bit_length() <= MAX_INT_BITS else _decimal_text(Decimal(value))
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        if value == value.to_integral_value():
            # Python refuses to print an int of more than 4,300 digits: past JSON's useful
            # range (and well before it), such a number is sent as its decimal text.
            return int(value) if value.adjusted() < MAX_INT_DIGITS else _decimal_text(value)
        number = float(value)
        return number if math.isfinite(number) else _decimal_text(value)
    if isinstance(value, dt.datetime):
        return _utc_iso(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, str):
        if kind == TIMESTAMP:
            return _timestamp_text(value)
        if kind == JSON:
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value
    if isinstance(value, (dict, list)):
        return value
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return str(value)


def _decimal_text(value: Decimal) -> str:
    # Decimal's own formatting is not subject to the int/str digit limit.
    return format(value, "f") if value.adjusted() < MAX_INT_DIGITS else str(value)


def _utc_iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _timestamp_text(value: str) -> str:
    # SQLite text as Django stores it: 'YYYY-MM-DD HH:MM:SS[.ffffff]', in UTC.
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return _utc_iso(parsed)
