"""Heavy Metrics queries of one workspace never stall another workspace's ingestion.

Through the stack: workspace A runs four slow queries at once (each one runs until the
statement timeout, METRICS_STATEMENT_TIMEOUT in the stack's settings); while all four are
running on PostgreSQL, workspace B sends events one after the other. Every one is stored, and
every one is answered while the four are still running: none waited for a query. Latency
percentiles under this load are bench/front_bench.py's (docs/performance.md).
"""

import base64
import threading
import time

import pytest
from django.db import connection

from apikeys.provisioning import workspace_provision
from core.actors import SYSTEM
from tests.site.stack import call, event, metrics_token

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

QUERIES = 4
EVENTS = 400  # 400⁴ rows to count: far longer than the statement timeout on any machine
SLOW_SQL = (
    "SELECT count(*) AS isolation_probe FROM eventsTable a "
    "CROSS JOIN eventsTable b CROSS JOIN eventsTable c CROSS JOIN eventsTable d"
)
INGEST_SECONDS = 2.0


def _running_probes() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE state = 'active' AND query LIKE %s AND pid <> pg_backend_pid()",
            ["%isolation_probe%"],
        )
        return cursor.fetchone()[0]


def _wait_for_probes(count: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _running_probes() >= count:
            return True
        time.sleep(0.05)
    return False


def _heavy_workspace(port: int) -> tuple[str, dict]:
    """A workspace with EVENTS events, and a Metrics token of it; the query body that is slow."""
    secrets = workspace_provision(name="Heavy", slug="heavy", by=SYSTEM).secrets()
    for start in range(0, EVENTS, 100):
        batch = [{**event(), "eventId": f"e{n}"} for n in range(start, start + 100)]
        sent = call(port, "POST", "/event/ingest/batch", {"events": batch}, secrets["writeOnly"])
        assert sent.status == 204, sent
    body = {"encodedQuery": base64.b64encode(SLOW_SQL.encode()).decode(), "variables": {}}
    return metrics_token(port, secrets), body


def _start_queries(port: int, token: str, body: dict, answers: list) -> list[threading.Thread]:
    def query() -> None:
        answers.append(call(port, "POST", "/metrics/query", body, secret=token, timeout=60))

    threads = [threading.Thread(target=query) for _ in range(QUERIES)]
    for thread in threads:
        thread.start()
    return threads


def test_four_slow_queries_of_one_workspace_do_not_stall_another_workspaces_ingestion(stack):
    token, body = _heavy_workspace(stack.port)
    b = workspace_provision(name="Light", slug="light", by=SYSTEM).secrets()
    answers = []
    threads = _start_queries(stack.port, token, body, answers)
    try:
        assert _wait_for_probes(QUERIES, seconds=5), "the four queries did not all start"
        ingested = []
        until = time.monotonic() + INGEST_SECONDS
        while time.monotonic() < until:
            ingested.append(call(stack.port, "POST", "/event/ingest", event(), b["writeOnly"]))
        # The four were running before the first event and are still running after the last:
        # no ingestion call waited for one of them.
        still_running = _running_probes()
    finally:
        for thread in threads:
            thread.join(timeout=60)
    assert still_running >= QUERIES
    assert len(ingested) >= 5
    assert [answer.status for answer in ingested] == [204] * len(ingested)
    # The queries ended at the statement timeout, each with an answer of its own (not a 5xx).
    assert len(answers) == QUERIES
    assert all(answer.status < 500 for answer in answers), answers


def test_a_fifth_concurrent_query_of_the_workspace_is_refused_at_once(stack, settings):
    if getattr(settings, "METRICS_MAX_CONCURRENT_QUERIES", None) != QUERIES:
        pytest.skip("the per-workspace cap of four concurrent Metrics queries is not configured")
    token, body = _heavy_workspace(stack.port)
    answers = []
    threads = _start_queries(stack.port, token, body, answers)
    try:
        assert _wait_for_probes(QUERIES, seconds=5), "the four queries did not all start"
        fifth = call(stack.port, "POST", "/metrics/query", body, secret=token, timeout=60)
        still_running = _running_probes()
    finally:
        for thread in threads:
            thread.join(timeout=60)
    assert fifth.status == 429, fifth
    assert int(fifth.headers["retry-after"]) >= 1
    assert still_running >= QUERIES  # refused while the four ran, not after one ended
