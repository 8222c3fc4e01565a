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
EVENTS = 400  # 400³ rows to count: longer than the statement timeout on any machine
SLOW_SQL = (
    "SELECT count(*) AS isolation_probe FROM eventsTable a "
    "CROSS JOIN eventsTable b CROSS JOIN eventsTable c"
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


def test_four_slow_queries_of_one_workspace_do_not_stall_another_workspaces_ingestion(stack):
    a = workspace_provision(name="Heavy", slug="heavy", by=SYSTEM).secrets()
    b = workspace_provision(name="Light", slug="light", by=SYSTEM).secrets()
    for start in range(0, EVENTS, 100):
        batch = [{**event(), "eventId": f"e{n}"} for n in range(start, start + 100)]
        sent = call(stack.port, "POST", "/event/ingest/batch", {"events": batch}, a["writeOnly"])
        assert sent.status == 204, sent
    token = metrics_token(stack.port, a)
    body = {"encodedQuery": base64.b64encode(SLOW_SQL.encode()).decode(), "variables": {}}
    answers = []

    def query() -> None:
        answers.append(call(stack.port, "POST", "/metrics/query", body, secret=token, timeout=60))

    threads = [threading.Thread(target=query) for _ in range(QUERIES)]
    for thread in threads:
        thread.start()
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
