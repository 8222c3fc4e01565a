"""A database outage is a 503 to retry, and nothing fails once the database is back.

The stack (deploy/serve.py) runs on a PostgreSQL server of this module's own, which the tests
stop and start; the shared server is never touched.
"""

import base64
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pytest
from django.conf import settings

from tests.site.own_postgres import OwnPostgres
from tests.site.stack import ROOT, call, event, metrics_token, require_nginx, start_stack

pytestmark = pytest.mark.postgres

OUTAGE_SECONDS = 5
QUERY = base64.b64encode(b"SELECT count(*) AS c FROM eventsTable WHERE name = '@{n}'").decode()


@pytest.fixture(scope="module")
def outage(tmp_path_factory):
    """The stack on its own PostgreSQL (migrated, one workspace), and that server."""
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (REDIS_URL): the production set-up")
    require_nginx()
    server = OwnPostgres()
    server.init()
    server.start()
    try:
        env = {"DATABASE_URL": server.url, "DJANGO_SETTINGS_MODULE": "userflux_site.settings"}
        manage = [sys.executable, "manage.py"]
        run = {"cwd": ROOT, "check": True, "capture_output": True, "timeout": 120}
        subprocess.run([*manage, "migrate", "--noinput"], env=_env(env), **run)
        create = [*manage, "create_workspace", "outage", "--admin", "ops", "--json"]
        made = subprocess.run(create, env=_env(env), **run)
        secrets = json.loads(made.stdout)["keys"]
        # The load below exchanges tokens, and on a fast machine runs queries, far faster than
        # the per-minute limits allow any client: not what is tested here.
        stack = start_stack(
            tmp_path_factory.mktemp("stack"),
            server.url,
            METRICS_TOKEN_EXCHANGES_PER_MINUTE="0",
            METRICS_RATE_PER_MINUTE="0",
        )
        try:
            yield stack, server, secrets
        finally:
            assert stack.stop() == 0, stack.log_text()
    finally:
        server.remove()


def _env(extra: dict) -> dict:
    return {**os.environ, **extra}


@dataclass
class Outcome:
    sent_at: float
    what: str
    status: int
    content_type: str
    retry_after: str | None
    code: str | None
    body: bytes


def _call_kinds(port: int, secrets: dict, token: str):
    counter = iter(range(10**9))
    return {
        "ingest": lambda: call(port, "POST", "/event/ingest", event(), secrets["writeOnly"]),
        "profile": lambda: call(port, "GET", "/profile/user-1", secret=secrets["readWrite"]),
        "token": lambda: call(
            port,
            "POST",
            "/metrics/auth/token",
            {
                "clientSecret": secrets["metricsClientSecret"],
                "environmentApiKey": secrets["metricsApiKey"],
            },
        ),
        # A new variable value each time: a result-cache miss, so the database is asked.
        "query": lambda: call(
            port,
            "POST",
            "/metrics/query",
            {"encodedQuery": QUERY, "variables": {"n": f"e{next(counter)}"}},
            secret=token,
        ),
        "ready": lambda: call(port, "GET", "/readyz"),
    }


def _load(kinds: dict, stop: threading.Event, outcomes: list, lock: threading.Lock) -> None:
    names = list(kinds)
    position = 0
    while not stop.is_set():
        what = names[position % len(names)]
        position += 1
        sent_at = time.monotonic()
        answer = kinds[what]()
        body = {}
        if answer.body and answer.headers.get("content-type", "").startswith("application/json"):
            body = answer.json()
        outcome = Outcome(
            sent_at,
            what,
            answer.status,
            answer.headers.get("content-type", ""),
            answer.headers.get("retry-after"),
            body.get("code") if isinstance(body, dict) else None,
            answer.body[:300],
        )
        with lock:
            outcomes.append(outcome)


def _ok(outcome: Outcome) -> bool:
    return outcome.status in (200, 204) or (outcome.what == "profile" and outcome.status == 404)


def test_an_outage_under_load_answers_only_json_503_and_then_nothing_fails(outage):
    stack, server, secrets = outage
    assert call(stack.port, "POST", "/event/ingest", event(), secrets["writeOnly"]).status == 204
    token = metrics_token(stack.port, secrets)
    kinds = _call_kinds(stack.port, secrets, token)
    stop, lock, outcomes = threading.Event(), threading.Lock(), []
    threads = [threading.Thread(target=_load, args=(kinds, stop, outcomes, lock)) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        server.stop("fast")
        time.sleep(OUTAGE_SECONDS)
        server.start()
        back = time.monotonic()
        time.sleep(2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    refused = [outcome for outcome in outcomes if not _ok(outcome)]
    assert refused, "the outage was never seen"
    for outcome in refused:
        assert outcome.status == 503, outcome
        assert outcome.content_type.startswith("application/json"), outcome
        assert outcome.retry_after and int(outcome.retry_after) >= 1, outcome
        if outcome.what != "ready":  # /readyz says which service is down instead
            assert outcome.code == "unavailable", outcome
    after = [outcome for outcome in outcomes if outcome.sent_at > back]
    print(  # the figures docs/performance.md quotes (pytest -rP shows them)
        f"{len(outcomes)} answers, {len(refused)} of them 503 while the database was down "
        f"({OUTAGE_SECONDS} s), {len(after)} after it was back, none of those refused"
    )
    assert len(after) >= 10
    assert [outcome for outcome in after if not _ok(outcome)] == []


def test_a_restart_fails_no_call_on_workers_that_kept_a_connection(outage):
    stack, server, secrets = outage
    # Every worker of both pools answers (and keeps its connection), several calls at a time.
    kinds = _call_kinds(stack.port, secrets, metrics_token(stack.port, secrets))
    warm = [threading.Thread(target=lambda: [kinds[k]() for k in kinds]) for _ in range(6)]
    for thread in warm:
        thread.start()
    for thread in warm:
        thread.join()
    server.stop("fast")
    server.start()
    answers = [(what, kinds[what]().status) for _ in range(4) for what in kinds]
    assert [(what, status) for what, status in answers if status not in (200, 204, 404)] == []
