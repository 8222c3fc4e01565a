"""The Metrics API's SQL compiler: pure code that turns customer SQL into sandboxed SQL.

Read `docs/metrics-sandbox.md` for the layers. The entry points are `decode_query` (strict
base64 of the request's `encodedQuery`) and `compile_query`; both raise `SqlError`.
"""

from .compile import CompiledQuery, compile_query
from .errors import SqlError
from .parse import decode_query

__all__ = ["CompiledQuery", "SqlError", "compile_query", "decode_query"]
