"""A refused 1,000 × 1 MB answer costs a real gunicorn worker almost no memory.

The worker's peak resident size (VmHWM in /proc/<pid>/status) is read before and after the
query: it must grow by less than 50 MB (it grew by 1 GB when rows were all fetched first).
Run against PostgreSQL (with DATABASE_URL) and against a SQLite file (always).
"""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apikeys.provisioning import workspace_provision
from core.actors import SYSTEM
from tests.metrics.test_bounded_answers import THOUSAND_MEGABYTES
from tests.site.stack import metrics_token
from tests.support.live import ROOT, call, gunicorn
from tests.support.processes import live_database_url

GROWTH_LIMIT_KB = 50 * 1024


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _encoded(sql: str) -> str:
    return base64.b64encode(sql.encode()).decode()


def _measure(env, secrets):
    with gunicorn(env) as (port, worker):
        token = metrics_token(port, secrets)
        # Warm up the same code path with an answer that fits.
        small = THOUSAND_MEGABYTES.replace("n <= 20", "n <= 2").replace("n = 21", "n = 3")
        status, body = call(port, "/metrics/query", {"encodedQuery": _encoded(small)}, token)
        assert status == 200 and body["rowCount"] == 1000, body
        before = _peak_kb(worker)
        status, body = call(
            port, "/metrics/query", {"encodedQuery": _encoded(THOUSAND_MEGABYTES)}, token
        )
        after = _peak_kb(worker)
    assert (status, body["code"]) == (413, "result_too_large")
    print(f"VmHWM before {before} kB, after {after} kB")
    return before, after


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_worker_peak_memory_does_not_grow_with_a_refused_answer():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    created = workspace_provision(name="Memory", slug="memory", by=SYSTEM)
    database_url = live_database_url()
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "true"}
    env.setdefault("REDIS_URL", settings.REDIS_URL)
    before, after = _measure(env, created.secrets())
    assert after - before < GROWTH_LIMIT_KB, (before, after)


def test_sqlite_worker_peak_memory_does_not_grow_with_a_refused_answer(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'site.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "true"}
    env.pop("REDIS_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    script = (
        "import django, json; django.setup(); "
        "from core.actors import SYSTEM; from apikeys.provisioning import workspace_provision; "
        "print(json.dumps(workspace_provision(name='Memory', slug='memory', by=SYSTEM).secrets()))"
    )
    made = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, check=True, capture_output=True, text=True,
        env={**env, "DJANGO_SETTINGS_MODULE": "userflux_site.settings"},
    )  # fmt: skip
    secrets = json.loads(made.stdout.strip().splitlines()[-1])
    before, after = _measure(env, secrets)
    assert after - before < GROWTH_LIMIT_KB, (before, after)
