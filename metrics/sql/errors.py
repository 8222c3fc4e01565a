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
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        # (line, column), both 1-based, when the parser could say where the problem is.
        self.position = position
        self.status = status if status is not None else STATUSES.get(code, 400)

    def __repr__(self) -> str:
        return f"SqlError({self.code!r}, {self.detail!r}, status={self.status})"
