"""Usage from real processes: two gunicorn workers count on their own and merge when they flush.

The workers flush only at shutdown here (a flush interval of an hour), so every count in the
database after gunicorn stops was written by a worker's exit flush, and the total is right only
if the two workers' flushes added up rather than overwrote each other.
"""

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from apikeys import usage_selectors
from apikeys.provisioning import workspace_provision
from core.actors import SYSTEM
from tests.support.processes import live_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CALLS = 120
CLIENT = "203.0.113.7"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(port: int, path: str, body: dict, secret: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {secret}",
                "X-Forwarded-For": CLIENT,
            },
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _wait_ready(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, f"gunicorn exited with {process.returncode}"
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        time.sleep(0.1)
    raise AssertionError("gunicorn did not start in time")


def test_two_workers_flush_at_exit_and_their_counts_add_up(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): the workers share the test database")
    created = workspace_provision(name="Live", slug="live", by=SYSTEM)
    secret = created.secrets()["writeOnly"]
    key = created.keys["writeOnly"].key
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "userflux_site.settings",
        "DATABASE_URL": live_database_url(),
        "DEBUG": "true",
        "TRUSTED_PROXIES": "127.0.0.1",
        "USAGE_FLUSH_SECONDS": "3600",
    }
    port = _free_port()
    command = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
        "--access-logfile", "-", "--access-logformat", "served-by %(p)s %(s)s",
        "--chdir", str(ROOT), "userflux_site.wsgi:application",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        try:
            _wait_ready(port, process)
            event = {"name": "signup", "userId": "u-1", "properties": {}}
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(
                    pool.map(lambda _: _post(port, "/event/ingest", event, secret), range(CALLS))
                )
            assert statuses == [204] * CALLS
            # Nothing is flushed yet: the interval is an hour.
            assert usage_selectors.usage_by_hour(key=key, hours=1)[0].accepted == 0
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        log.seek(0)
        output = log.read().decode(errors="replace")

    workers = set(re.findall(r"served-by <(\d+)> 204", output))
    assert len(workers) == 2, output[-2000:]  # both workers served calls
    assert "Key usage" not in output  # no flush failed
    assert usage_selectors.usage_by_hour(key=key, hours=1)[0].accepted == CALLS
    (seen,) = usage_selectors.usage_addresses(key=key)
    assert (seen.address, seen.accepted) == (CLIENT, CALLS)
    (name,) = usage_selectors.usage_event_names(key=key)
    assert (name.name, name.count) == ("signup", CALLS)
