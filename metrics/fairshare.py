"""Fair share per workspace: a cap on concurrent Metrics queries and a request rate.

Both are counted in Redis, so they hold across every process and host:
- **Concurrency**: a sorted set per workspace whose members are running queries, each scored
  with the moment its slot expires (the call's time budget plus slack). A query takes a slot
  in one atomic script (expired slots are dropped first, by Redis's own clock) and gives it
  back when it ends; a worker killed mid-query leaks nothing past its slot's expiry.
- **Rate**: a counter per workspace and minute.

When Redis is not configured or cannot be reached, each process counts on its own (the same
cap and rate per process): the service keeps answering, and a workspace can then run at most
the cap times the number of processes. After a Redis error the process counts locally for a
few seconds before it tries Redis again, so an outage does not add a timeout to every call.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache

from metrics.sql import SqlError

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENT = 4
DEFAULT_RATE_PER_MINUTE = 600
SLOT_SLACK_SECONDS = 5.0
RETRY_REDIS_AFTER = 5.0

# KEYS[1]: the workspace's slots. ARGV: cap, member, hold (ms). Answers 0 when a slot was
# taken, else the milliseconds until the oldest running query's slot expires.
_TAKE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) - ms)
"""


class _Local:
    """What this process counts when Redis cannot be used."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[int, int] = {}
        self.calls: dict[tuple[int, int], int] = {}
        self.redis_down_until = 0.0


_local = _Local()


def local_reset() -> None:
    """Forget this process's counts (for tests)."""
    with _local.lock:
        _local.running.clear()
        _local.calls.clear()
        _local.redis_down_until = 0.0


def _redis():
    """The raw Redis client behind the cache, or None (not configured, or recently down)."""
    if "RedisCache" not in settings.CACHES["default"]["BACKEND"]:
        return None
    if time.monotonic() < _local.redis_down_until:
        return None
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def _redis_failed(error: Exception) -> None:
    logger.warning("metrics fair share: Redis unreachable, counting per process: %r", error)
    _local.redis_down_until = time.monotonic() + RETRY_REDIS_AFTER


def _cap() -> int:
    return int(getattr(settings, "METRICS_MAX_CONCURRENT_QUERIES", DEFAULT_CONCURRENT))


def _hold_seconds() -> float:
    return float(getattr(settings, "METRICS_STATEMENT_TIMEOUT", 10.0)) + SLOT_SLACK_SECONDS


def _busy(cap: int, wait: float) -> SqlError:
    return SqlError(
        "too_many_concurrent_queries",
        f"This workspace already runs {cap} Metrics queries at once; retry when one ends.",
        status=429,
        retry_after=wait,
    )


@contextmanager
def query_slot(workspace_id: int) -> Iterator[None]:
    """Hold one of the workspace's concurrent-query slots, or raise 429 (SqlError)."""
    cap = _cap()
    if cap <= 0:
        yield
        return
    member = uuid.uuid4().hex
    key = cache.make_key(f"metrics:slots:{workspace_id}")
    client = _redis()
    if client is not None:
        try:
            wait_ms = int(client.eval(_TAKE, 1, key, cap, member, int(_hold_seconds() * 1000)))
        except Exception as error:
            _redis_failed(error)
            client = None
        else:
            if wait_ms:
                raise _busy(cap, wait_ms / 1000)
            try:
                yield
            finally:
                try:
                    client.zrem(key, member)
                except Exception as error:
                    _redis_failed(error)  # the slot expires on its own
            return
    with _local.lock:
        if _local.running.get(workspace_id, 0) >= cap:
            raise _busy(cap, 1)
        _local.running[workspace_id] = _local.running.get(workspace_id, 0) + 1
    try:
        yield
    finally:
        with _local.lock:
            _local.running[workspace_id] -= 1
            if not _local.running[workspace_id]:
                del _local.running[workspace_id]


def rate_check(workspace_id: int) -> None:
    """Count one Metrics call of the workspace; raise 429 (SqlError) past the rate."""
    rate = int(getattr(settings, "METRICS_RATE_PER_MINUTE", DEFAULT_RATE_PER_MINUTE))
    if rate <= 0:
        return
    now = time.time()
    window = int(now // 60)
    wait = max(1.0, math.ceil((window + 1) * 60 - now))
    client = _redis()
    if client is not None:
        key = cache.make_key(f"metrics:rate:{workspace_id}:{window}")
        try:
            pipe = client.pipeline()
            pipe.incr(key)
            pipe.expire(key, 120)
            count = int(pipe.execute()[0])
        except Exception as error:
            _redis_failed(error)
        else:
            if count > rate:
                raise _over_rate(rate, wait)
            return
    with _local.lock:
        for old in [k for k in _local.calls if k[1] != window]:
            del _local.calls[old]
        count = _local.calls.get((workspace_id, window), 0) + 1
        _local.calls[(workspace_id, window)] = count
    if count > rate:
        raise _over_rate(rate, wait)


def _over_rate(rate: int, wait: float) -> SqlError:
    return SqlError(
        "query_rate_limited",
        f"This workspace sent more than {rate} Metrics queries this minute; retry later.",
        status=429,
        retry_after=wait,
    )
