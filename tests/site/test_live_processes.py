"""Every change holds in every process within a second: two real gunicorn servers, one database.

Server A and server B are separate processes sharing PostgreSQL and Redis, as two hosts would.
Each change is made through A (a test-only URL that calls the real services); A must obey it on
its very next request, and B within one second.
"""

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

from apikeys.provisioning import workspace_provision
from core.actors import SYSTEM

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 1.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(port: int, method: str, path: str, body=None, secret: str | None = None):
    connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    try:
        data = None if body is None else json.dumps(body)
        connection_.request(method, path, body=data, headers=headers)
        response = connection_.getresponse()
        payload = response.read()
        return response.status, (json.loads(payload) if payload else None)
    finally:
        connection_.close()


def _database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


@pytest.fixture
def servers(transactional_db):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.site.live_settings",
        "DATABASE_URL": _database_url(),
        "DEBUG": "true",
        # The polling below sends refused keys in a tight loop; that is not key guessing.
        "AUTH_FAILURE_LIMIT": "0",
    }
    ports = [_free_port(), _free_port()]
    processes: list[subprocess.Popen] = []
    with contextlib.ExitStack() as stack:
        for port in ports:
            log = stack.enter_context(tempfile.TemporaryFile())
            command = [
                sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
                "--workers", "1", "--chdir", str(ROOT), "userflux_site.wsgi:application",
            ]  # fmt: skip
            processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=log))
        try:
            for port, process in zip(ports, processes, strict=True):
                _wait_ready(port, process)
            yield ports
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _wait_ready(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        try:
            if _call(port, "GET", "/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server on port {port} did not start in time")


def _event(name: str) -> dict:
    return {"name": name, "userId": "user-1", "properties": {}}


def _obeyed_within(port: int, since: float, secret: str, name: str, expected: tuple) -> float:
    """Seconds from `since` until the server answers `expected` (status, code); fails past 2 s."""
    while True:
        status, body = _call(port, "POST", "/event/ingest", _event(name), secret)
        if (status, (body or {}).get("code")) == expected:
            return time.monotonic() - since
        assert time.monotonic() - since < 2 * DEADLINE, (status, body)
        time.sleep(0.02)


def test_every_change_holds_in_the_other_process_within_a_second(servers):
    a, b = servers
    created = workspace_provision(name="Live", slug="live", by=SYSTEM)
    key_id = created.keys["writeOnly"].key.id
    secret = created.secrets()["writeOnly"]

    def change(action: str, **fields) -> dict:
        status, body = _call(
            a, "POST", "/_test/key-change", {"keyId": key_id, "action": action, **fields}
        )
        assert status == 200, body
        return body

    # Both processes have the key in their caches.
    for port in (a, b):
        assert _call(port, "POST", "/event/ingest", _event("page_view"), secret)[0] == 204

    # The allowed events.
    change("allowed_events", names=["signup"])
    changed = time.monotonic()
    assert _call(a, "POST", "/event/ingest", _event("page_view"), secret)[0] == 403
    refused = (403, "event_not_allowed")
    assert _obeyed_within(b, changed, secret, "page_view", refused) < DEADLINE

    # An address rule: only 192.0.2.1 may call, so 127.0.0.1 may not.
    assert _call(b, "POST", "/event/ingest", _event("signup"), secret)[0] == 204
    change("ip_rule", network="192.0.2.1")
    changed = time.monotonic()
    assert (
        _call(a, "POST", "/event/ingest", _event("signup"), secret)[1]["code"] == "ip_not_allowed"
    )
    refused = (403, "ip_not_allowed")
    assert _obeyed_within(b, changed, secret, "signup", refused) < DEADLINE
    change("anywhere")
    assert _obeyed_within(b, time.monotonic(), secret, "signup", (204, None)) < DEADLINE

    # A roll with no grace: the old secret stops everywhere, the new one works everywhere.
    new_secret = change("roll")["secret"]
    changed = time.monotonic()
    assert _call(a, "POST", "/event/ingest", _event("signup"), secret)[0] == 401
    assert _obeyed_within(b, changed, secret, "signup", (401, "invalid_key")) < DEADLINE
    assert _call(b, "POST", "/event/ingest", _event("signup"), new_secret)[0] == 204

    # An expiry: refused everywhere from that moment on.
    expires_at = change("expire", seconds=1.5)["expiresAt"]
    moment = time.monotonic() + (expires_at - time.time())
    assert _call(b, "POST", "/event/ingest", _event("signup"), new_secret)[0] == 204
    while time.monotonic() < moment:
        time.sleep(0.05)
    assert _obeyed_within(b, moment, new_secret, "signup", (401, "invalid_key")) < DEADLINE

    # A revoke (after moving the expiry away again, so that the revoke is what stops it).
    change("expire", seconds=3600)
    assert _obeyed_within(b, time.monotonic(), new_secret, "signup", (204, None)) < DEADLINE
    change("revoke")
    changed = time.monotonic()
    assert _call(a, "POST", "/event/ingest", _event("signup"), new_secret)[0] == 401
    assert _obeyed_within(b, changed, new_secret, "signup", (401, "invalid_key")) < DEADLINE


def test_several_forwarded_for_headers_reach_the_app_joined(servers, settings):
    """Gunicorn joins repeated headers with a comma; the app reads them as one list."""
    a, _ = servers
    created = workspace_provision(name="Live", slug="live", by=SYSTEM)
    secret = created.secrets()["writeOnly"]
    connection_ = http.client.HTTPConnection("127.0.0.1", a, timeout=10)
    try:
        connection_.putrequest("POST", "/event/ingest")
        body = json.dumps(_event("signup")).encode()
        for name, value in [
            ("Authorization", f"Bearer {secret}"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("X-Forwarded-For", "198.51.100.1"),
            ("X-Forwarded-For", "203.0.113.7"),
        ]:
            connection_.putheader(name, value)
        connection_.endheaders(body)
        assert connection_.getresponse().status == 204  # no trusted proxy: the header is ignored
    finally:
        connection_.close()
