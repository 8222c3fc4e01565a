"""The Metrics result cache: JSON in the shared cache, keyed by workspace and whole request.

The key is the workspace plus a SHA-256 of the request as sent (the SQL text, or the metric's id
and version, and the variables as canonical JSON): the same text from two workspaces never
shares an entry, another variable value is another entry, and editing a metric (a new version)
retires its entries. It is consulted only after the token and address checks, and only
successful answers are stored. The text is not normalised beyond trimming: collapsing white
space would merge queries whose string literals differ.
"""

import contextlib
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone


def result_key(*, workspace_id: int, request: dict[str, Any]) -> str:
    """The cache key of one request of one workspace."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"metrics:result:{workspace_id}:{digest}"


def result_get(key: str) -> dict[str, Any] | None:
    """A cached answer, or None; an unreadable entry or an unreachable cache is a miss."""
    try:
        raw = cache.get(key)
    except Exception:
        return None
    if not isinstance(raw, str):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def result_put(key: str, result: dict[str, Any], *, ttl: timedelta) -> datetime:
    """Store an answer as JSON text for `ttl`; returns until when it is valid."""
    until = timezone.now() + ttl
    entry = {**result, "cachedUntil": until.isoformat().replace("+00:00", "Z")}
    # An unreachable cache costs speed, not correctness.
    with contextlib.suppress(Exception):
        cache.set(key, json.dumps(entry, separators=(",", ":")), timeout=int(ttl.total_seconds()))
    return until
