"""A revoke holds on every worker within the bound, whatever Redis does: real processes.

Two gunicorn masters of two workers each (two hosts) share the test's PostgreSQL database and a
Redis of the test's own. Every worker first serves the key, so that each holds a snapshot of it;
then Redis goes away, comes back from a dump taken before the revoke, comes back empty, or is
replaced by a socket that accepts and never answers. The revoke is made through a server while
Redis is away, so that its signal is lost; the database bound must carry it everywhere.
"""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

from apikeys.provisioning import workspace_provision
from core.actors import SYSTEM
from tests.support.processes import Gunicorn, HungServer, RedisServer, call

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BOUND = 2.0  # KEY_CACHE_MAX_STALENESS_SECONDS of the servers: shorter than the default, for speed
SLACK = 1.0
WORKERS = 2
EVENT = {"name": "signup", "userId": "user-1"}


@pytest.fixture(scope="module")
def _servers(django_db_setup, django_db_blocker, tmp_path_factory):
    """Started once for the module: the scenarios below each use a workspace of their own."""
    with django_db_blocker.unblock():
        vendor, name = connection.vendor, connection.settings_dict["NAME"]
    if vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    redis = RedisServer(tmp_path_factory.mktemp("redis")).start()
    env = {
        "DATABASE_URL": urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + name)),
        "REDIS_URL": redis.url,
        "DEBUG": "true",
        "KEY_CACHE_MAX_STALENESS_SECONDS": str(BOUND),
        "AUTH_FAILURE_LIMIT": "0",  # refused calls in a loop are the point here, not guessing
    }
    masters = [
        Gunicorn(env, workers=WORKERS, settings_module="tests.site.live_settings") for _ in "ab"
    ]
    try:
        for master in masters:
            master.wait_ready()
        yield redis, masters
    finally:
        for master in masters:
            master.stop()
        redis.stop()


@pytest.fixture
def hosts(_servers, transactional_db):
    redis, masters = _servers
    if not redis.running:  # a scenario that failed half-way left it stopped
        redis.restart_from(None)
    return redis, masters


def _answers(masters, secret: str, per_worker: int) -> dict[str, list[int]]:
    """Statuses by worker pid, calling concurrently until every worker answered `per_worker`."""
    by_pid: dict[str, list[int]] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + 30

    def enough() -> bool:
        return len(by_pid) == WORKERS * len(masters) and all(
            len(statuses) >= per_worker for statuses in by_pid.values()
        )

    def caller(master: Gunicorn) -> None:
        while not enough() and time.monotonic() < deadline:
            status, _, headers = call(master.port, "POST", "/event/ingest", EVENT, secret=secret)
            with lock:
                by_pid.setdefault(headers["X-Worker-Pid"], []).append(status)

    with ThreadPoolExecutor(2 * len(masters)) as pool:
        list(pool.map(caller, [m for m in masters for _ in range(2)]))
    assert enough(), f"not every worker answered: {by_pid}"
    return by_pid


def _revoke_through(master: Gunicorn, key_id: int) -> float:
    status, body, _ = call(
        master.port, "POST", "/_test/key-change", {"keyId": key_id, "action": "revoke"}
    )
    assert status == 200, body
    return time.monotonic()


def _workspace(slug: str):
    created = workspace_provision(name=slug, slug=slug, by=SYSTEM)
    return created.keys["writeOnly"].key.id, created.secrets()["writeOnly"]


def _refused_everywhere_after_the_bound(masters, secret: str, revoked: float) -> None:
    time.sleep(max(0.0, revoked + BOUND + SLACK - time.monotonic()))
    answers = _answers(masters, secret, per_worker=5)
    assert all(set(statuses) == {401} for statuses in answers.values()), answers


def test_a_revoke_holds_when_redis_comes_back_from_an_old_dump(hosts):
    redis, masters = hosts
    key_id, secret = _workspace("restored")
    warm = _answers(masters, secret, per_worker=2)  # every worker holds the live key
    assert all(set(statuses) == {204} for statuses in warm.values()), warm
    dump = redis.dump_aside()  # taken before the revoke: it holds the old generation token
    redis.stop()
    revoked = _revoke_through(masters[0], key_id)
    redis.restart_from(dump)
    assert redis.cli("DBSIZE") != "0"  # the old data is back
    _refused_everywhere_after_the_bound(masters, secret, revoked)


def test_a_revoke_holds_when_redis_comes_back_empty(hosts):
    redis, masters = hosts
    key_id, secret = _workspace("flushed")
    warm = _answers(masters, secret, per_worker=2)
    assert all(set(statuses) == {204} for statuses in warm.values()), warm
    redis.stop()
    revoked = _revoke_through(masters[0], key_id)
    redis.restart_from(None)
    _refused_everywhere_after_the_bound(masters, secret, revoked)


def _completed_in(masters, secret: str, seconds: float) -> int:
    """How many ingestion calls 2 clients per host complete in a fixed window."""
    stop = time.monotonic() + seconds
    done = [0]
    lock = threading.Lock()

    def caller(master: Gunicorn) -> None:
        while time.monotonic() < stop:
            status, body, _ = call(master.port, "POST", "/event/ingest", EVENT, secret=secret)
            assert status == 204, body
            with lock:
                done[0] += 1

    with ThreadPoolExecutor(2 * len(masters)) as pool:
        list(pool.map(caller, [m for m in masters for _ in range(2)]))
    return done[0]


def test_a_hung_redis_costs_little_throughput_and_the_revoke_still_holds(hosts):
    redis, masters = hosts
    key_id, secret = _workspace("hung")
    _answers(masters, secret, per_worker=2)
    # The best of three windows each way: other work on the machine only ever slows a window.
    normal = max(_completed_in(masters, secret, 1.5) for _ in range(3))
    redis.stop()
    hung = HungServer(redis.port)  # accepts connections, never answers
    try:
        _completed_in(masters, secret, 0.5)  # every worker meets the hang once
        during = max(_completed_in(masters, secret, 1.5) for _ in range(3))
        assert hung.accepted > 0  # the servers did try the hung socket
        assert during >= 0.8 * normal, (during, normal)
        revoked = _revoke_through(masters[0], key_id)
        _refused_everywhere_after_the_bound(masters, secret, revoked)
    finally:
        hung.close()
        redis.restart_from(None)
