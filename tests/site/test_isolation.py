"""The suite deletes only the cache keys it made: a neighbour in the same store keeps its data.

Every run of the suite checks this itself (`tests/support/isolation.py`: a neighbour's key written
at the start must be there at the end, or the run fails). These tests show the parts, and that the
check fails a run that wipes the store: that one runs on a Redis server of its own.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.core.cache import cache

from tests.support.isolation import _neighbour_cache, forget_own_keys, own_prefix

ROOT = Path(__file__).resolve().parents[2]
# One test that writes shared cache keys: enough to show what a run deletes.
SUB_SUITE = (
    "tests/core/test_limiter.py::test_a_block_reaches_other_processes_through_the_shared_cache"
)


def test_the_suite_has_its_own_prefix_in_settings_and_in_started_processes():
    assert own_prefix().startswith("test-")
    assert cache.make_key("anything").startswith(own_prefix() + ":")
    assert os.environ["CACHE_KEY_PREFIX"] == own_prefix()  # servers started by tests share it


def test_forgetting_deletes_only_the_suites_own_keys():
    neighbour = _neighbour_cache()
    neighbour.set("their-key", "theirs", timeout=60)
    cache.set("our-key", "ours", timeout=60)
    try:
        forget_own_keys()
        assert cache.get("our-key") is None
        assert neighbour.get("their-key") == "theirs"
    finally:
        neighbour.delete("their-key")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_redis():
    """A Redis server of this test's own, on a free port, removed afterwards."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    with tempfile.TemporaryDirectory() as directory, contextlib.ExitStack() as stack:
        process = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", directory],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        stack.callback(process.wait, timeout=10)
        stack.callback(process.terminate)
        url = f"redis://127.0.0.1:{port}/0"
        _wait_for(port)
        yield url


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server on port {port} did not start")


def _run_sub_suite(redis_url: str, *extra: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.pop("CACHE_KEY_PREFIX", None)
    env["REDIS_URL"] = redis_url
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, SUB_SUITE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _keys(redis_url: str) -> set[str]:
    import redis

    return {key.decode() for key in redis.Redis.from_url(redis_url).keys("*")}


def test_a_neighbours_key_survives_a_run_and_a_wiping_run_fails(own_redis):
    import redis

    client = redis.Redis.from_url(own_redis)
    client.set("uf:1:neighbour-data", "precious")

    honest = _run_sub_suite(own_redis)
    assert honest.returncode == 0, honest.stdout + honest.stderr
    assert client.get("uf:1:neighbour-data") == b"precious"
    assert _keys(own_redis) == {"uf:1:neighbour-data"}  # the run left nothing of its own

    # The same run with the old habit (FLUSHDB after each test) loses the neighbour's data, and
    # the suite's own check fails the run although every test passed.
    wiping = _run_sub_suite(own_redis, "-p", "tests.support.flush_on_purpose")
    assert wiping.returncode == pytest.ExitCode.TESTS_FAILED, wiping.stdout + wiping.stderr
    assert " passed" in wiping.stdout and " failed" not in wiping.stdout
    assert "a neighbour's cache key was deleted" in wiping.stdout
    assert client.get("uf:1:neighbour-data") is None
