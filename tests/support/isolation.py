"""The suite touches only cache keys it made: its own key prefix, and only that prefix deleted.

Each run gets the prefix `test-<random>`, set in the settings and in the environment, so the
servers a test starts share it. Between tests only keys under that prefix are deleted (SCAN + DEL
in Redis, never FLUSHDB). A neighbour's key, written outside the prefix into the same cache when
the run starts, must still be there when it ends: otherwise the run fails, whatever the tests said.
"""

import copy
import os
import secrets

import pytest
from asgiref.local import Local
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.utils.module_loading import import_string

NEIGHBOUR_STASH = pytest.StashKey[tuple]()
LOST_STASH = pytest.StashKey[bool]()
NEIGHBOUR_LOST = (
    "A key written outside the suite's prefix, in the same cache store, did not survive the run:"
    " the suite deleted data it did not create."
)


def own_prefix() -> str:
    return settings.CACHES["default"]["KEY_PREFIX"]


def _use_prefix(prefix: str) -> None:
    """Every cache key of this process, and of the processes it starts, begins with `prefix`."""
    configured = copy.deepcopy(settings.CACHES)
    configured["default"]["KEY_PREFIX"] = prefix
    settings.CACHES = configured
    os.environ["CACHE_KEY_PREFIX"] = prefix
    # Forget any cache object made before the override (none is expected; be sure).
    caches.__dict__.pop("settings", None)
    caches._connections = Local(caches.thread_critical)
    made = cache.make_key("probe")
    if not made.startswith(prefix + ":"):
        raise pytest.UsageError(f"the test cache prefix did not apply: {made!r}")


def forget_own_keys() -> None:
    """Delete every cache key under this process's prefix, and nothing else."""
    pattern_head = own_prefix() + ":"
    store = caches["default"]
    if isinstance(store, LocMemCache):
        with store._lock:
            for key in [key for key in store._cache if key.startswith(pattern_head)]:
                store._delete(key)
        return
    client = _redis()
    batch = []
    for key in client.scan_iter(match=_glob_escape(pattern_head) + "*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)


def _redis():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def _glob_escape(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)


def _neighbour_cache():
    """The same store as the site's cache (same Redis database or local-memory store), under a
    prefix that is not the suite's: what another site sharing the store would use."""
    params = copy.deepcopy(settings.CACHES["default"])
    params["KEY_PREFIX"] = "neighbour-" + secrets.token_hex(4)
    backend = params.pop("BACKEND")
    location = params.pop("LOCATION", "")
    return import_string(backend)(location, params)


def pytest_configure(config):
    _use_prefix(f"test-{secrets.token_hex(6)}")


def pytest_sessionstart(session):
    neighbour = _neighbour_cache()
    value = secrets.token_hex(8)
    neighbour.set("their-key", value, timeout=24 * 3600)
    session.config.stash[NEIGHBOUR_STASH] = (neighbour, value)


def pytest_sessionfinish(session, exitstatus):
    forget_own_keys()
    config = session.config
    neighbour, value = config.stash.get(NEIGHBOUR_STASH, (None, None))
    if neighbour is not None:
        found = neighbour.get("their-key")
        neighbour.delete("their-key")
        if found != value:
            config.stash[LOST_STASH] = True
    if config.stash.get(LOST_STASH, False):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if terminalreporter.config.stash.get(LOST_STASH, False):
        terminalreporter.write_sep("=", "a neighbour's cache key was deleted", red=True, bold=True)
        terminalreporter.write_line(NEIGHBOUR_LOST)
