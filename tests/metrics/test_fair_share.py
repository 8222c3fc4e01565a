"""Fair share per workspace: a cap on concurrent queries and a request rate, each a 429."""

import contextlib
import time

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache

from metrics import fairshare
from tests.support.metrics import exchange, query

pytestmark = pytest.mark.django_db

SQL = "SELECT count(*) AS n FROM eventsTable"
on_redis = pytest.mark.skipif(
    "RedisCache" not in django_settings.CACHES["default"]["BACKEND"], reason="needs REDIS_URL"
)


@contextlib.contextmanager
def running(workspace_id, count):
    """`count` queries of the workspace holding their slots, as if still running."""
    with contextlib.ExitStack() as stack:
        for _ in range(count):
            stack.enter_context(fairshare.query_slot(workspace_id))
        yield


def test_the_fifth_concurrent_query_is_429_and_another_workspace_is_unaffected(
    client, acme, globex, token
):
    other = exchange(client, globex).json()["accessToken"]
    with running(acme.workspace.id, 4):
        refused = query(client, token, SQL)
        assert refused.status_code == 429
        assert refused.json()["code"] == "too_many_concurrent_queries"
        assert int(refused["Retry-After"]) >= 1
        assert query(client, other, SQL).status_code == 200
    assert query(client, token, SQL).json()["rows"] == [{"n": 3}]


def test_four_concurrent_queries_are_allowed(client, acme, token):
    with running(acme.workspace.id, 3):
        assert query(client, token, SQL).status_code == 200


def test_a_cached_answer_needs_no_slot(client, acme, token):
    assert query(client, token, SQL).status_code == 200
    with running(acme.workspace.id, 4):
        answer = query(client, token, "select COUNT(*) as n   from eventsTable -- again")
        assert answer.status_code == 200 and answer.json()["cached"] is True


def test_the_cap_is_a_setting(client, acme, token, settings):
    settings.METRICS_MAX_CONCURRENT_QUERIES = 1
    with running(acme.workspace.id, 1):
        assert query(client, token, SQL).status_code == 429
    settings.METRICS_MAX_CONCURRENT_QUERIES = 0  # off
    with running(acme.workspace.id, 10):
        assert query(client, token, SQL).status_code == 200


@on_redis
def test_a_slot_whose_holder_died_expires(client, acme, token, settings, monkeypatch):
    # Slots taken and never given back, as by a worker killed mid-query.
    settings.METRICS_STATEMENT_TIMEOUT = 2.0
    monkeypatch.setattr(fairshare, "SLOT_SLACK_SECONDS", 0.0)
    held = [fairshare.query_slot(acme.workspace.id) for _ in range(4)]
    for slot in held:
        slot.__enter__()  # and never __exit__: kept referenced, never released
    assert query(client, token, SQL).json()["code"] == "too_many_concurrent_queries"
    time.sleep(2.1)
    settings.METRICS_STATEMENT_TIMEOUT = 10
    assert query(client, token, SQL).status_code == 200


@on_redis
def test_slots_are_shared_through_redis(acme):
    # What another process holds is in Redis, not in this process.
    with running(acme.workspace.id, 2):
        key = cache.make_key(f"metrics:slots:{acme.workspace.id}")
        assert fairshare._redis().zcard(key) == 2
    assert fairshare._redis().zcard(key) == 0


def test_without_a_reachable_redis_each_process_counts_alone(client, acme, token, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on the discard port
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    assert query(client, token, SQL).status_code == 200
    other = "SELECT count(*) AS signups FROM eventsTable WHERE name = 'signup'"
    with running(acme.workspace.id, 4):
        assert query(client, token, other).json()["code"] == "too_many_concurrent_queries"
    assert query(client, token, other).status_code == 200


def test_a_workspace_over_its_rate_gets_429_and_another_does_not(
    client, acme, globex, token, settings
):
    settings.METRICS_RATE_PER_MINUTE = 3
    for _ in range(3):
        assert query(client, token, SQL).status_code == 200
    refused = query(client, token, SQL)
    assert (refused.status_code, refused.json()["code"]) == (429, "query_rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 60
    other = exchange(client, globex).json()["accessToken"]
    assert query(client, other, SQL).status_code == 200
