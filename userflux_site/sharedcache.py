"""The shared cache (Redis) behind a circuit breaker: a failing Redis costs calls nothing.

Every use of the shared cache is an optimisation or a signal whose loss the code already
survives (the key cache's database bound, per-process limiter counts, sampling, result
misses), so a slow answer from Redis is worse than none. Short socket timeouts bound one call;
the breaker bounds the rest: after a connection error or timeout the process stops asking Redis
for `REDIS_BREAKER_SECONDS`, each use failing at once as if Redis were down, then lets a single
call through as a probe. A probe that succeeds closes the breaker; one that fails opens it again.

The breaker is per process and per Redis location, shared by every thread (Django builds one
cache object per thread). Errors that are answers (a wrong type, a missing key) do not trip it.
"""

import logging
import socket
import threading
import time
from typing import Any

from django.conf import settings
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

_OUTAGES = (RedisConnectionError, RedisTimeoutError, socket.timeout, OSError)
# Calls that talk to no server (closing runs after every request): never refused by the breaker.
_UNGUARDED = frozenset({"close", "disconnect", "make_key", "make_pattern", "get_client"})


class CacheUnavailable(ConnectionError):
    """The shared cache is not asked: its breaker is open after a recent failure."""


class Breaker:
    """Open for a while after a failure, then half-open: one probe decides."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tripped = False
        self.open_until = float("-inf")
        self.trips = 0

    def allow(self) -> bool:
        """Whether a call may go to Redis now (a half-open breaker lets one probe through)."""
        if not self.tripped:
            return True
        now = time.monotonic()
        with self.lock:
            if now < self.open_until:
                return False
            # Half-open: this caller probes; the others keep skipping until it is done.
            self.open_until = now + settings.REDIS_BREAKER_SECONDS
            return True

    def succeeded(self) -> None:
        if self.tripped:
            with self.lock:
                self.tripped = False
                self.open_until = float("-inf")
            logger.warning("The shared cache answers again; its circuit breaker is closed.")

    def failed(self, error: BaseException) -> None:
        with self.lock:
            first = not self.tripped
            self.tripped = True
            self.trips += 1
            self.open_until = time.monotonic() + settings.REDIS_BREAKER_SECONDS
        if first:
            logger.warning(
                "The shared cache failed (%s); not asking it for %s s.",
                type(error).__name__,
                settings.REDIS_BREAKER_SECONDS,
            )

    @property
    def is_open(self) -> bool:
        return self.tripped


_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(location: str) -> Breaker:
    """The process's breaker for one Redis location."""
    breaker = _breakers.get(location)
    if breaker is None:
        with _breakers_lock:
            breaker = _breakers.setdefault(location, Breaker())
    return breaker


def breakers_reset() -> None:
    """Close every breaker (for tests)."""
    with _breakers_lock:
        _breakers.clear()


class _GuardedClient:
    """Passes every call to django-redis's client unless the breaker is open."""

    def __init__(self, client: Any, breaker: Breaker) -> None:
        self._client = client
        self._breaker = breaker

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name in _UNGUARDED:
            return attribute
        breaker = self._breaker

        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not breaker.allow():
                raise ConnectionInterrupted(connection=None) from CacheUnavailable()
            try:
                result = attribute(*args, **kwargs)
            except ConnectionInterrupted as error:
                if isinstance(error.__cause__, _OUTAGES):
                    breaker.failed(error.__cause__)
                raise
            except _OUTAGES as error:
                breaker.failed(error)
                raise
            breaker.succeeded()
            return result

        return guarded


class GuardedRedisCache(RedisCache):
    """django-redis's cache, each call behind this process's breaker for its location."""

    @property
    def client(self) -> Any:
        if self._client is None:
            client = self._client_cls(self._server, self._params, self)
            self._client = _GuardedClient(client, breaker_for(str(self._server)))
        return self._client

    @property
    def breaker(self) -> Breaker:
        return breaker_for(str(self._server))
