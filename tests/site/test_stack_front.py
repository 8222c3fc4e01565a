"""nginx in front (deploy/): slow clients, the client address, routing and nginx's own errors."""

import contextlib
import socket
import time

import pytest

from apikeys import services
from apikeys.provisioning import workspace_provision
from core.actors import SYSTEM
from tests.site.stack import call, event

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SLOW_CLIENTS = 50


def _secrets(slug: str) -> dict:
    return workspace_provision(name=slug.title(), slug=slug, by=SYSTEM).secrets()


def _warm(port: int, secret: str) -> None:
    """Every web worker has answered once (the first request of a worker loads the app)."""
    for _ in range(6):
        assert call(port, "POST", "/event/ingest", event(), secret).status == 204


def _open(port: int, first_bytes: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(first_bytes)
    return sock


def _still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)  # a socket with a timeout would wait for data first
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True  # nothing to read, and not closed
    except OSError:
        return False


@pytest.mark.parametrize(
    "first_bytes",
    [
        pytest.param(b"POST /event/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", id="headers"),
        pytest.param(
            b"POST /event/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
            b"\r\nContent-Length: 1000\r\n\r\n{",
            id="body",
        ),
    ],
)
def test_slow_clients_held_open_do_not_delay_ingestion(stack, first_bytes):
    secret = _secrets("slow")["writeOnly"]
    _warm(stack.port, secret)
    slow = [_open(stack.port, first_bytes) for _ in range(SLOW_CLIENTS)]
    try:
        time.sleep(0.5)
        for sock in slow:  # each sends one more byte, as a slow client trickles
            sock.sendall(b"x")
        answer = call(stack.port, "POST", "/event/ingest", event(), secret, timeout=5)
        assert answer.status == 204, answer
        assert answer.seconds < 1.0
        assert all(_still_open(sock) for sock in slow)  # nginx holds them; no worker does
    finally:
        for sock in slow:
            sock.close()


def test_the_client_address_is_the_one_nginx_saw_never_a_forged_one(stack):
    """Only 127.0.0.3 may use the key; nginx's own address (127.0.0.1) and a forged header fail."""
    created = workspace_provision(name="Addr", slug="addr", by=SYSTEM)
    key = created.keys["writeOnly"].key
    secret = created.secrets()["writeOnly"]
    services.ip_rule_add(key=key, network="127.0.0.3", by=SYSTEM)
    services.api_key_set_access_mode(key=key, mode="specific", by=SYSTEM)

    def ingest(source: str, forged: str | None = None):
        headers = {"X-Forwarded-For": forged} if forged else {}
        return call(stack.port, "POST", "/event/ingest", event(), secret, headers, source=source)

    deadline = time.monotonic() + 2  # the key change reaches every worker within a second
    while (answer := ingest("127.0.0.3")).status != 204 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert answer.status == 204, answer
    refused = ingest("127.0.0.4", forged="127.0.0.3")
    assert (refused.status, refused.json()["code"]) == (403, "ip_not_allowed")
    assert ingest("127.0.0.1").status == 403


@pytest.mark.parametrize(
    "header", [("X-Forwarded-Ssl", "on"), ("X-Forwarded-Protocol", "ssl")], ids=["ssl", "protocol"]
)
def test_a_client_cannot_claim_another_scheme_through_nginx(stack, header):
    """nginx drops the scheme headers gunicorn would believe from it (and find contradictory)."""
    secret = _secrets(f"scheme-{header[0].lower()}")["writeOnly"]
    answer = call(stack.port, "POST", "/event/ingest", event(), secret, dict([header]))
    assert answer.status == 204, answer


def test_nginx_refuses_a_body_over_the_ingest_limit_as_json(stack):
    secret = _secrets("big")["writeOnly"]
    limit = int(stack.env.get("INGEST_MAX_BODY_BYTES", 1024 * 1024))
    big = event()
    big["properties"] = {"blob": "x" * (limit + 1)}
    answer = call(stack.port, "POST", "/event/ingest", big, secret)
    assert answer.status == 413
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["code"] == "body_too_large"


def test_a_malformed_request_gets_a_json_400_from_nginx(stack):
    with contextlib.closing(socket.create_connection(("127.0.0.1", stack.port), 5)) as sock:
        sock.sendall(b"GET /event/ingest HTTP/1.1 trailing-junk\r\nHost: x\r\n\r\n")
        reply = sock.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 400")
    assert '"code": "bad_request"' in reply


def test_the_metrics_api_is_served_by_the_metrics_pool_and_ingestion_by_the_web_pool(stack):
    secrets = _secrets("routes")
    assert call(stack.port, "POST", "/event/ingest", event(), secrets["writeOnly"]).status == 204
    answer = call(stack.port, "POST", "/metrics/auth/token", {"clientSecret": "x"})
    assert answer.status in (400, 401)
    time.sleep(0.3)  # the log lines cross a pipe
    access = {p: (stack.log_dir / f"{p}-access.log").read_text() for p in ("web", "metrics")}
    assert "/metrics/auth/token" in access["metrics"]
    assert "/metrics/auth/token" not in access["web"]
    assert "/event/ingest" in access["web"]
    assert "/event/ingest" not in access["metrics"]
