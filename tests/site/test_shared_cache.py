"""The shared cache's circuit breaker, against a real hung socket and a real redis-server."""

import time

import pytest

from tests.support.processes import HungServer, RedisServer, free_port
from userflux_site.sharedcache import CacheUnavailable, GuardedRedisCache, breakers_reset


@pytest.fixture(autouse=True)
def _closed_breakers():
    breakers_reset()
    yield
    breakers_reset()


def _cache(port: int) -> GuardedRedisCache:
    return GuardedRedisCache(
        f"redis://127.0.0.1:{port}/0",
        {"OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}},
    )


def test_a_hung_redis_is_asked_once_then_skipped_until_the_probe(settings):
    settings.REDIS_BREAKER_SECONDS = 0.5
    hung = HungServer(free_port())
    try:
        cache = _cache(hung.port)
        with pytest.raises(Exception) as first:
            cache.get("k")
        assert not isinstance(first.value, CacheUnavailable)  # a real timeout
        assert cache.breaker.is_open
        time.sleep(0.1)
        sent = hung.received
        assert sent > 0
        for _ in range(100):  # while open: nothing goes out, every use fails at once
            with pytest.raises(CacheUnavailable):
                cache.add("k", 1)
        time.sleep(0.1)
        assert hung.received == sent
        time.sleep(0.5)
        with pytest.raises(Exception) as probe:  # half-open: one call probes, and fails
            cache.get("k")
        assert not isinstance(probe.value, CacheUnavailable)
        time.sleep(0.1)
        assert hung.received > sent
        with pytest.raises(CacheUnavailable):
            cache.get("k")
    finally:
        hung.close()


def test_the_breaker_closes_when_redis_answers_again(settings, tmp_path):
    settings.REDIS_BREAKER_SECONDS = 0.3
    redis = RedisServer(tmp_path).start()
    try:
        cache = _cache(redis.port)
        cache.set("k", "v")
        redis.stop()
        with pytest.raises(Exception):  # noqa: B017 (whatever redis-py raises for a refusal)
            cache.get("k")
        assert cache.breaker.is_open
        redis.restart_from(None)
        with pytest.raises(CacheUnavailable):
            cache.get("k")
        time.sleep(0.35)
        assert cache.get("k") is None  # the probe: an empty Redis answers
        assert not cache.breaker.is_open
        cache.set("k", "w")
        assert cache.get("k") == "w"
    finally:
        redis.stop()


def test_answers_that_are_errors_do_not_trip_the_breaker(settings, tmp_path):
    redis = RedisServer(tmp_path).start()
    try:
        cache = _cache(redis.port)
        with pytest.raises(ValueError):
            cache.incr("missing")  # an answer: the key does not exist
        assert not cache.breaker.is_open
    finally:
        redis.stop()
