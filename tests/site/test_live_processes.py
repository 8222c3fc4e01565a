"""Every change holds in every process within a second: two real gunicorn servers, one database.

Server A and server B are separate processes sharing PostgreSQL and Redis, as two hosts would.
Each change is made through A (a test-only URL that calls the real services); A must obey it on
its very next request, and B within one second.
"""

import http.client
import json
import time

import pytest
from django.conf import settings
from django.db import connection

from apikeys.provisioning import workspace_provision
from core.actors import SYSTEM
from tests.support.processes import Gunicorn, call, live_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DEADLINE = 1.0


@pytest.fixture
def servers(transactional_db):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    env = {
        "DATABASE_URL": live_database_url(),
        "DEBUG": "true",
        # The polling below sends refused keys in a tight loop; that is not key guessing.
        "AUTH_FAILURE_LIMIT": "0",
    }
    servers = [Gunicorn(env, workers=1, settings_module="tests.site.live_settings") for _ in "ab"]
    try:
        yield [server.wait_ready().port for server in servers]
    finally:
        for server in servers:
            server.stop()


def _event(name: str) -> dict:
    return {"name": name, "userId": "user-1", "properties": {}}


def _obeyed_within(port: int, since: float, secret: str, name: str, expected: tuple) -> float:
    """Seconds from `since` until the server answers `expected` (status, code); fails past 2 s."""
    while True:
        status, body, _ = call(port, "POST", "/event/ingest", _event(name), secret=secret)
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
        status, body, _ = call(
            a, "POST", "/_test/key-change", {"keyId": key_id, "action": action, **fields}
        )
        assert status == 200, body
        return body

    # Both processes have the key in their caches.
    for port in (a, b):
        assert call(port, "POST", "/event/ingest", _event("page_view"), secret=secret)[0] == 204

    # The allowed events.
    change("allowed_events", names=["signup"])
    changed = time.monotonic()
    assert call(a, "POST", "/event/ingest", _event("page_view"), secret=secret)[0] == 403
    refused = (403, "event_not_allowed")
    assert _obeyed_within(b, changed, secret, "page_view", refused) < DEADLINE

    # An address rule: only 192.0.2.1 may call, so 127.0.0.1 may not.
    assert call(b, "POST", "/event/ingest", _event("signup"), secret=secret)[0] == 204
    change("ip_rule", network="192.0.2.1")
    changed = time.monotonic()
    assert (
        call(a, "POST", "/event/ingest", _event("signup"), secret=secret)[1]["code"]
        == "ip_not_allowed"
    )
    refused = (403, "ip_not_allowed")
    assert _obeyed_within(b, changed, secret, "signup", refused) < DEADLINE
    change("anywhere")
    assert _obeyed_within(b, time.monotonic(), secret, "signup", (204, None)) < DEADLINE

    # A roll with no grace: the old secret stops everywhere, the new one works everywhere.
    new_secret = change("roll")["secret"]
    changed = time.monotonic()
    assert call(a, "POST", "/event/ingest", _event("signup"), secret=secret)[0] == 401
    assert _obeyed_within(b, changed, secret, "signup", (401, "invalid_key")) < DEADLINE
    assert call(b, "POST", "/event/ingest", _event("signup"), secret=new_secret)[0] == 204

    # An expiry: refused everywhere from that moment on.
    expires_at = change("expire", seconds=1.5)["expiresAt"]
    moment = time.monotonic() + (expires_at - time.time())
    assert call(b, "POST", "/event/ingest", _event("signup"), secret=new_secret)[0] == 204
    while time.monotonic() < moment:
        time.sleep(0.05)
    assert _obeyed_within(b, moment, new_secret, "signup", (401, "invalid_key")) < DEADLINE

    # A revoke (after moving the expiry away again, so that the revoke is what stops it).
    change("expire", seconds=3600)
    assert _obeyed_within(b, time.monotonic(), new_secret, "signup", (204, None)) < DEADLINE
    change("revoke")
    changed = time.monotonic()
    assert call(a, "POST", "/event/ingest", _event("signup"), secret=new_secret)[0] == 401
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
