"""The one error type the SQL sandbox raises, with stable codes a client can branch on."""

from __future__ import annotations

# Every code the compiler and the sandbox raise, with its HTTP status.
STATUSES: dict[str, int] = {
    "invalid_sql": 400,
    "missing_variable": 400,
    "invalid_variable": 400,
    "query_failed": 400,
    "query_timeout": 400,
    "forbidden_table": 403,
    "forbidden_function": 403,
    "result_too_large": 413,
    # Bounds on how much work one query may cost (metrics/sql/limits.py, the sandbox).
    "query_too_long": 400,
    "query_too_complex": 400,
    "query_too_deep": 400,
    "too_many_select_items": 400,
    "too_many_placeholders": 400,
    "variables_too_large": 400,
    "compile_timeout": 400,
    "query_too_expensive": 400,
    # Fair share per workspace (metrics/fairshare.py), with a Retry-After.
    "too_many_concurrent_queries": 429,
    "query_rate_limited": 429,
}


class SqlError(Exception):
    """A query that was refused or failed, with a stable code, a human detail and a status."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        position: tuple[int, int] | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        # (line, column), both 1-based, when the parser could say where the problem is.
        self.position = position
        self.status = status if status is not None else STATUSES.get(code, 400)
        # Seconds a client should wait before trying again (429 answers).
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"SqlError({self.code!r}, {self.detail!r}, status={self.status})"
