"""Fair share across real processes: two gunicorn workers, one Redis, five concurrent queries."""

import base64
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from apikeys.provisioning import workspace_provision
from core.actors import SYSTEM
from metrics import fairshare
from tests.site.stack import metrics_token
from tests.support.live import call, gunicorn
from tests.support.processes import live_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Ten billion additions in constant memory: it runs into the timeout on any machine, and never
# into the temporary-file limit (a query whose CTE grows without end reaches that first on a
# fast machine, and is refused as query_too_expensive instead).
SLOW = (
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 100000) "
    "SELECT count(*) AS n FROM r a CROSS JOIN r b WHERE a.n + b.n < 0"
)
TIMEOUT = 10  # the four 10 s queries


def _query(port, token, sql):
    started = time.monotonic()
    status, body = call(
        port, "/metrics/query", {"encodedQuery": base64.b64encode(sql.encode()).decode()}, token
    )
    return status, body, time.monotonic() - started


def _wait_for_slots(workspace_id, count):
    key = cache.make_key(f"metrics:slots:{workspace_id}")  # the servers share the key prefix
    # Well before the first query's budget ends, so the four still run when the fifth comes.
    deadline = time.monotonic() + TIMEOUT / 2
    while fairshare._redis().zcard(key) < count:
        assert time.monotonic() < deadline, "the queries did not start"
        time.sleep(0.05)


def test_the_fifth_concurrent_query_across_processes_is_429_another_workspace_runs():
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    acme = workspace_provision(name="Acme", slug="acme", by=SYSTEM)
    globex = workspace_provision(name="Globex", slug="globex", by=SYSTEM)
    env = {
        **os.environ,
        "DATABASE_URL": live_database_url(),
        "DEBUG": "true",
        "METRICS_STATEMENT_TIMEOUT": str(TIMEOUT),
        "METRICS_MAX_CONCURRENT_QUERIES": "4",
    }
    options = ("--workers", "2", "--worker-class", "gthread", "--threads", "4")
    with gunicorn(env, *options) as (port, _):
        token = metrics_token(port, acme.secrets())
        other = metrics_token(port, globex.secrets())
        with ThreadPoolExecutor(max_workers=4) as pool:
            running = [pool.submit(_query, port, token, SLOW) for _ in range(4)]
            _wait_for_slots(acme.workspace.id, 4)  # the four are running (each for TIMEOUT s)
            fifth = _query(port, token, SLOW.replace("count(*)", "count(a.n)"))
            neighbour = _query(port, other, "SELECT 1 AS one")
            slow = [future.result() for future in running]
    status, body, _ = fifth
    assert (status, body["code"]) == (429, "too_many_concurrent_queries")
    assert neighbour[0] == 200 and neighbour[1]["rows"] == [{"one": 1}]
    for status, body, elapsed in slow:
        assert (status, body["code"]) == (400, "query_timeout")
        # Seen from the client, through HTTP and a thread pool on a shared machine: generous.
        # (test_bounded_answers.py holds the call itself to the timeout + 1 s.)
        assert elapsed <= TIMEOUT + 3
