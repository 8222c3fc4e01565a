"""The Metrics result cache: JSON in the shared cache, keyed by workspace and compiled query.

The key is the workspace plus a SHA-256 of the query as it will run: the compiled SQL (with
its random generated names made constant), the bound values, the dialect and the row cap. So
comments, white space, the case of keywords and names, and whether the SQL came as an ad-hoc
query or a saved metric do not matter, while another literal or another variable value is
another entry; editing a metric's SQL or defaults changes its key. The same text from two
workspaces never shares an entry (the workspace is in the key, and bound). It is consulted
only after the token and address checks, and only successful answers are stored.

Finding the key means compiling the query (a few milliseconds). Each process remembers which
compiled key a request as sent (the text and variables) had, so a repeated request finds its
answer without compiling again.

In front of the shared cache each process keeps the answers it has read or written, each only
until its `cachedUntil`: a cache hit then costs no network round trip (docs/performance.md).
An answer never outlives its TTL in either layer; the shared cache stays the one that is
written, so every process finds what any other stored.
"""

import contextlib
import hashlib
import json
import threading
import time
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from metrics.sql import CompiledQuery

LOCAL_MAX_ENTRIES = 1_000
LOCAL_MAX_BYTES = 64 * 1024 * 1024
ALIAS_MAX_ENTRIES = 10_000


class _Local:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        # key -> (expires at, epoch seconds; size of its JSON; the answer)
        self.entries: OrderedDict[str, tuple[float, int, dict[str, Any]]] = OrderedDict()
        self.size = 0
        # request-as-sent key -> compiled key
        self.aliases: OrderedDict[str, str] = OrderedDict()


_local = _Local()


def local_reset() -> None:
    """Forget every answer this process holds (for tests)."""
    with _local.lock:
        _local.entries.clear()
        _local.aliases.clear()
        _local.size = 0


def alias_get(request_key: str) -> str | None:
    """The compiled key this process found for a request as sent, if it remembers one."""
    return _local.aliases.get(request_key)


def alias_put(request_key: str, key: str) -> None:
    """Remember the compiled key of a request as sent (a bounded, per-process memo)."""
    with _local.lock:
        _local.aliases[request_key] = key
        _local.aliases.move_to_end(request_key)
        while len(_local.aliases) > ALIAS_MAX_ENTRIES:
            _local.aliases.popitem(last=False)


def _remember(key: str, value: dict[str, Any], *, expires: float, size: int) -> None:
    if size > LOCAL_MAX_BYTES // 8:
        return  # a huge answer is not worth a large share of every worker's memory
    with _local.lock:
        old = _local.entries.pop(key, None)
        if old is not None:
            _local.size -= old[1]
        _local.entries[key] = (expires, size, value)
        _local.size += size
        while len(_local.entries) > LOCAL_MAX_ENTRIES or _local.size > LOCAL_MAX_BYTES:
            _, (_, dropped, _) = _local.entries.popitem(last=False)
            _local.size -= dropped


def _recalled(key: str) -> dict[str, Any] | None:
    entry = _local.entries.get(key)
    if entry is None:
        return None
    if entry[0] <= time.time():
        with _local.lock:
            if _local.entries.get(key) is entry:
                del _local.entries[key]
                _local.size -= entry[1]
        return None
    return entry[2]


def request_key(*, workspace_id: int, request: dict[str, Any]) -> str:
    """A key for one request as sent (text and variables), for the per-process memo."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    digest = hashlib.sha256(canonical.encode("ascii")).hexdigest()
    return f"metrics:request:{workspace_id}:{digest}"


def result_key(*, workspace_id: int, compiled: CompiledQuery) -> str:
    """The cache key of one compiled query of one workspace."""
    identity = {
        "sql": compiled.canonical_sql,
        "params": list(compiled.params),
        "dialect": compiled.dialect,
        "rowCap": compiled.row_cap,
    }
    canonical = json.dumps(identity, separators=(",", ":"), ensure_ascii=True)
    digest = hashlib.sha256(canonical.encode("ascii")).hexdigest()
    return f"metrics:result:{workspace_id}:{digest}"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def result_get(key: str) -> dict[str, Any] | None:
    """A cached answer, or None; an unreadable entry or an unreachable cache is a miss."""
    value = _recalled(key)
    if value is not None:
        return value
    try:
        raw = cache.get(key)
    except Exception:
        return None
    if not isinstance(raw, str):
        return None
    try:
        value = json.loads(raw)
        expires = datetime.fromisoformat(value["cachedUntil"].replace("Z", "+00:00"))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if not isinstance(value, dict) or expires <= timezone.now():
        return None
    _remember(key, value, expires=expires.timestamp(), size=len(raw))
    return value


def result_put(key: str, result: dict[str, Any], *, ttl: timedelta) -> datetime:
    """Store an answer as JSON text for `ttl`; returns until when it is valid."""
    until = timezone.now() + ttl
    entry = {**result, "cachedUntil": _iso(until)}
    raw = json.dumps(entry, separators=(",", ":"))
    # An unreachable shared cache costs speed, not correctness.
    with contextlib.suppress(Exception):
        cache.set(key, raw, timeout=int(ttl.total_seconds()))
    _remember(key, entry, expires=until.timestamp(), size=len(raw))
    return until
