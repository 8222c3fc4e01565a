"""Turn rows into the JSON answer as they arrive, refusing as soon as a bound is spent.

Rows are never all held first: each one is shaped and measured when the driver hands it
over, so a worker holds at most the byte budget plus one row, however large the result the
database would have produced (docs/performance.md, "Bounded Metrics answers").
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from metrics.sql import CompiledQuery
from metrics.sql.values import json_safe

from .errors import timed_out, too_large


class Answer:
    """Collects one query's shaped rows within the row cap, the byte budget and a deadline."""

    def __init__(
        self, compiled: CompiledQuery, *, max_bytes: int, deadline: float, timeout: float
    ) -> None:
        self.compiled = compiled
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.timeout = timeout
        self.columns: list[str] = []
        self.rows: list[dict[str, Any]] = []
        self.truncated = False
        self.size = 0

    def take(self, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Consume rows until the source ends or the row cap is passed; raise past a bound."""
        self.columns = _unique(list(names))
        kinds = [self.compiled.column_kinds.get(name) for name in names]
        cap = self.compiled.row_cap
        for row in rows:
            if time.monotonic() > self.deadline:
                raise timed_out(self.timeout)
            if len(self.rows) >= cap:
                self.truncated = True
                return
            item = {
                column: json_safe(value, kind)
                for column, kind, value in zip(self.columns, kinds, row, strict=True)
            }
            self.size += len(json.dumps(item, ensure_ascii=False).encode()) + 1
            if self.size > self.max_bytes:
                raise too_large(self.max_bytes)
            self.rows.append(item)

    def result(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "rows": self.rows,
            "rowCount": len(self.rows),
            "truncated": self.truncated,
        }


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
