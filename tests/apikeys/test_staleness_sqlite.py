"""The embedded default (SQLite, no Redis) with `gunicorn -w 2`: changes made on the settings
page hold on both workers within the bound, though the workers share no cache at all."""

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.processes import ROOT, Gunicorn, WebSession, call

BOUND = 2.0  # KEY_CACHE_MAX_STALENESS_SECONDS of the servers: shorter than the default, for speed
SLACK = 1.0
WORKERS = 2


def _event(name: str) -> dict:
    return {"name": name, "userId": "user-1"}


@pytest.fixture
def embedded(tmp_path):
    """A fresh SQLite site with the demo workspace, served by one master with two workers."""
    database = tmp_path / "db.sqlite3"
    env = {
        "DATABASE_URL": f"sqlite:///{database}",
        "DEBUG": "true",
        "KEY_CACHE_MAX_STALENESS_SECONDS": str(BOUND),
        "AUTH_FAILURE_LIMIT": "0",  # refused calls in a loop are the point here, not guessing
    }
    manage_env = {**os.environ, **env}
    manage_env.pop("REDIS_URL", None)
    for command in (
        ["migrate", "--noinput"],
        ["create_workspace", "demo", "--admin=ann", "--json"],
    ):
        result = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT, env=manage_env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    provisioned = json.loads(result.stdout)
    server = Gunicorn(
        env, workers=WORKERS, settings_module="tests.site.live_settings", unset=("REDIS_URL",)
    )
    try:
        server.wait_ready()
        yield server, provisioned, database
    finally:
        server.stop()


def _statuses(port: int, secret: str, name: str, *, at_least: int) -> list[tuple[str, int, str]]:
    """(worker, status, code) of consecutive calls, until both workers answered 5 and `at_least`."""
    answers: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + 30

    def enough() -> bool:
        pids = {pid for pid, _, _ in answers}
        counts = [sum(1 for pid, _, _ in answers if pid == one) for one in pids]
        return len(answers) >= at_least and len(pids) == WORKERS and min(counts) >= 5

    def caller() -> None:
        while not enough() and time.monotonic() < deadline:
            status, body, headers = call(port, "POST", "/event/ingest", _event(name), secret=secret)
            with lock:
                answers.append((headers["X-Worker-Pid"], status, (body or {}).get("code")))

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: caller(), range(2)))
    assert enough(), answers
    return answers


def _stored(database, name: str) -> int:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT COUNT(*) FROM ingest_event WHERE name = ?", [name]).fetchone()[0]


def _key_id(database, kind: str) -> int:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT id FROM apikeys_apikey WHERE kind = ?", [kind]).fetchone()[0]


def test_settings_page_changes_hold_on_every_worker_without_redis(embedded):
    server, provisioned, database = embedded
    secret = provisioned["keys"]["writeOnly"]
    key_id = _key_id(database, "write_only")
    warm = _statuses(server.port, secret, "page_view", at_least=10)  # both workers hold the key
    assert {status for _, status, _ in warm} == {204}

    admin = WebSession(server.port)
    admin.sign_in("ann", provisioned["admin"]["password"])
    page = "/w/demo/settings/api/"

    # Allowed events: only "signup" from now on, previewed then enforced, as the page does it.
    events = {"events_mode": "specific", "new_names": "signup"}
    status, body = admin.request("POST", f"{page}keys/{key_id}/events/", events)
    assert status == 200 and 'name="previewed"' in body, body[:2000]
    enforce = {**events, "step": "enforce", "previewed": "signup"}
    status, body = admin.request("POST", f"{page}keys/{key_id}/events/", enforce)
    assert status == 302, body[:2000]
    time.sleep(BOUND + SLACK)
    stored_before = _stored(database, "page_view")
    answers = _statuses(server.port, secret, "page_view", at_least=20)
    assert {(status, code) for _, status, code in answers} == {(403, "event_not_allowed")}
    assert _stored(database, "page_view") == stored_before  # no disallowed event was stored

    # Revoke.
    status, body = admin.request("POST", f"{page}keys/{key_id}/revoke/", {"confirm": "yes"})
    assert status == 302, body[:2000]
    time.sleep(BOUND + SLACK)
    answers = _statuses(server.port, secret, "signup", at_least=20)
    assert {status for _, status, _ in answers} == {401}
