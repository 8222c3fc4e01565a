"""A key snapshot read while a change commits is never kept as current: a threaded server.

`runserver`, gunicorn's gthread workers and ASGI servers answer calls on several threads of one
process. The interleaving is forced with events around the real load: a request reads the key
as live, the key is revoked and the change committed, another thread takes the change in, and
only then does the first request store what it read.
"""

import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from apikeys import keycache
from apikeys.provisioning import workspace_provision
from apikeys.services import api_key_revoke
from core.actors import SYSTEM

pytestmark = pytest.mark.django_db(transaction=True)


def _ingest(url: str, secret: str) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    try:
        body = json.dumps({"name": "signup", "userId": "user-1"})
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        connection.request("POST", "/event/ingest", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_a_load_racing_a_revoke_is_used_once_and_never_kept(live_server, monkeypatch, settings):
    # Neither the refresh nor the database bound may rescue it: the fix must hold on its own.
    settings.KEY_CACHE_REFRESH_SECONDS = 3600
    settings.KEY_CACHE_MAX_STALENESS_SECONDS = 3600
    created = workspace_provision(name="Race", slug="race", by=SYSTEM)
    key = created.keys["writeOnly"].key
    secret = created.secrets()["writeOnly"]

    loaded, release = threading.Event(), threading.Event()
    real_load = keycache._snapshot_load

    def load_then_wait(secret_hash):
        snapshot = real_load(secret_hash)
        if not loaded.is_set():
            loaded.set()
            assert release.wait(20), "the test never released the load"
        return snapshot

    monkeypatch.setattr(keycache, "_snapshot_load", load_then_wait)
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(_ingest, live_server.url, secret)
        assert loaded.wait(20), "the server never loaded the key"
        # The server thread holds a snapshot of the live key, not yet stored.
        api_key_revoke(key=key, by=SYSTEM)  # commits; on_commit tells the key cache
        # Another call on another thread takes in the change (the process's token moves on)...
        assert _ingest(live_server.url, created.secrets()["readWrite"]) == 204
        release.set()  # ...and only then does the first thread store what it read
        assert in_flight.result(20) == 204  # read before the revoke: answered as read
    assert loaded.is_set()
    assert [_ingest(live_server.url, secret) for _ in range(5)] == [401] * 5
