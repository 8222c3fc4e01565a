"""Limits that protect the key check: failed attempts per address, and an optional per-key rate.

Key guessing is counted per client address in the shared cache with an atomic counter
(`cache.add` then `cache.incr`), and only when an attempt fails: a successful call never pays a
round trip for it. DRF's throttles cannot do this job (../shared/SECURITY.md 10): they run after
authentication, so a wrong key is refused before a throttle sees it.

A bucket over the limit is blocked until its window ends, for failing attempts only: a live,
valid key is never refused for what others did from its address (a NAT, a proxy, a unix socket
with no address at all share one), and secrets of 160+ random bits cannot be guessed anyway, so
the block sheds load and noise. What is counted where: unknown Integration keys and access
tokens per address; wrong Metrics client secrets per (API key, address), so that someone who
knows only the API key cannot lock its owner out from elsewhere. Calls with no usable client
address (an empty `REMOTE_ADDR` behind a unix socket without a trusted proxy) share the
`unknown` bucket, which, like every bucket, can only ever refuse failing attempts.

Each process remembers the blocks it knows of; a new block
is also published under a shared sequence number that every process reads at most every
`REFRESH_SECONDS`, so a block holds everywhere within that time at the cost of one cache read
per process per interval, never one per request.

Windows are fixed (aligned to the clock), so a guesser gets at most twice the limit across a
window boundary. IPv6 addresses are counted per /64, the block a single subscriber holds.
"""

import ipaddress
import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache

from core.networks import IPAddress

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 0.5
SEQUENCE_KEY = "limiter:blocks:seq"
MAX_BLOCKS_FETCHED = 200
MAX_LOCAL_ENTRIES = 10_000
UNKNOWN_BUCKET = "unknown"


def address_bucket(address: IPAddress | None) -> str:
    """The bucket an address is counted in: itself for IPv4, its /64 for IPv6."""
    if address is None:
        return UNKNOWN_BUCKET
    if address.version == 6:
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.blocked: dict[str, float] = {}  # bucket -> wall-clock end of the block
        self.sequence: int | None = None
        self.checked_at = float("-inf")
        self.local_failures: dict[tuple[str, int], int] = {}  # used when the cache is down
        self.key_windows: dict[int, list[int]] = {}  # key id -> [minute, requests]


_state = _State()


def limiter_reset() -> None:
    """Forget everything this process knows (for tests)."""
    global _state
    _state = _State()


def _poll() -> None:
    now = time.monotonic()
    if now - _state.checked_at < REFRESH_SECONDS:
        return
    _state.checked_at = now
    if _state.blocked:  # forget ended blocks, so the success path can skip the look-up
        wall = time.time()
        with _state.lock:
            _state.blocked = {bucket: end for bucket, end in _state.blocked.items() if end > wall}
    try:
        sequence = cache.get(SEQUENCE_KEY)
        if sequence is None or sequence == _state.sequence:
            _state.sequence = sequence
            return
        start = max(_state.sequence or 0, sequence - MAX_BLOCKS_FETCHED)
        if start > sequence:  # the shared cache was emptied: start over from it
            start = max(0, sequence - MAX_BLOCKS_FETCHED)
        entries = cache.get_many([f"limiter:blocks:{n}" for n in range(start + 1, sequence + 1)])
    except Exception:
        return  # unreachable: keep what this process knows
    wall = time.time()
    with _state.lock:
        for bucket, until in entries.values():
            if until > wall:
                _state.blocked[bucket] = max(until, _state.blocked.get(bucket, 0))
        _state.sequence = sequence


def blocked_for(address: IPAddress | None) -> float | None:
    """Seconds this address must still wait, or None when it is not blocked (no round trip)."""
    _poll()
    if not _state.blocked:
        return None
    return bucket_blocked_for(address_bucket(address))


def bucket_blocked_for(bucket: str) -> float | None:
    """Seconds a bucket (an address's, or any other counted thing's) must still wait, or None."""
    _poll()
    until = _state.blocked.get(bucket)
    if until is None:
        return None
    remaining = until - time.time()
    if remaining <= 0:
        with _state.lock:
            _state.blocked.pop(bucket, None)
        return None
    return remaining


def _publish(bucket: str, until: float) -> None:
    try:
        cache.add(SEQUENCE_KEY, 0, timeout=None)
        sequence = cache.incr(SEQUENCE_KEY)
        cache.set(
            f"limiter:blocks:{sequence}", [bucket, until], timeout=int(until - time.time()) + 5
        )
    except Exception:
        logger.warning("Could not publish an address block to the shared cache.")


def _count(bucket: str, window_index: int, window: int) -> int:
    key = f"limiter:fail:{bucket}:{window_index}"
    try:
        cache.add(key, 0, timeout=window + 1)
        return cache.incr(key)
    except ValueError:  # expired between add and incr: this is the first failure again
        cache.add(key, 1, timeout=window + 1)
        return 1
    except Exception:
        # The shared cache is down: count in this process, so guessing is still slowed.
        with _state.lock:
            if len(_state.local_failures) > MAX_LOCAL_ENTRIES:
                _state.local_failures.clear()
            count = _state.local_failures.get((bucket, window_index), 0) + 1
            _state.local_failures[(bucket, window_index)] = count
        return count


def failure_record(address: IPAddress | None) -> float | None:
    """Count one failed key attempt; seconds to wait when the address is now over the limit."""
    return failure_record_bucket(address_bucket(address))


def rate_wait(bucket: str, *, limit: int, window: int) -> float | None:
    """Count one event in a bucket shared by all processes; seconds to wait when over `limit`."""
    if limit <= 0:
        return None
    window = max(1, window)
    now = time.time()
    window_index = int(now // window)
    if _count(f"rate:{bucket}", window_index, window) <= limit:
        return None
    return (window_index + 1) * window - now


def failure_record_bucket(bucket: str) -> float | None:
    """Count one failed attempt in a bucket; seconds to wait when it is now over the limit."""
    limit = settings.AUTH_FAILURE_LIMIT
    window = max(1, settings.AUTH_FAILURE_WINDOW_SECONDS)
    if limit <= 0:
        return None
    now = time.time()
    window_index = int(now // window)
    count = _count(bucket, window_index, window)
    if count <= limit:
        return None
    until = (window_index + 1) * window
    with _state.lock:
        if len(_state.blocked) > MAX_LOCAL_ENTRIES:
            _state.blocked.clear()
        _state.blocked[bucket] = until
    if count == limit + 1:
        _publish(bucket, until)
        logger.warning("Blocked %s after %d failed attempts.", bucket, count - 1)
    return until - now


def key_rate_wait(key_id: int) -> float | None:
    """Count one request of a key; seconds to wait when it is over its per-minute rate.

    Counted per process, so the real limit is about this rate times the number of processes.
    """
    limit = settings.KEY_RATE_LIMIT_PER_MINUTE
    if limit <= 0:
        return None
    now = time.time()
    minute = int(now // 60)
    window = _state.key_windows.get(key_id)
    if window is None or window[0] != minute:
        if len(_state.key_windows) > MAX_LOCAL_ENTRIES:
            _state.key_windows.clear()
        window = _state.key_windows[key_id] = [minute, 0]
    window[1] += 1
    if window[1] > limit:
        return (minute + 1) * 60 - now
    return None
