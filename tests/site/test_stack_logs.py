"""No secret in any log of the stack: nginx's, both pools' (gunicorn and Django), serve.py's."""

import contextlib
import socket
import time
from urllib.parse import quote, unquote

import pytest

from apikeys.provisioning import workspace_provision
from core.actors import SYSTEM
from tests.site.stack import call, event

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _send_raw(port: int, data: bytes) -> bytes:
    with contextlib.closing(socket.create_connection(("127.0.0.1", port), timeout=5)) as sock:
        sock.sendall(data)
        try:
            return sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return b""


def test_a_key_in_a_malformed_request_line_reaches_no_log(stack):
    secrets = workspace_provision(name="Logs", slug="logs", by=SYSTEM).secrets()
    key, token_secret = secrets["readWrite"], secrets["metricsClientSecret"]
    escaped = quote(key, safe="")
    lines = [
        f"GET /event/ingest?key={key} HTTP/1.1 junk\r\nHost: x\r\n\r\n",
        f"GET /profile/{key}\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
        f"POST /event/ingest?key={key} HTTP/1.1\r\nHost: x\r\nAuthorization: {key}\r\n"
        f"Content-Length: 99999999\r\n\r\n",
        f"GET /w/{escaped.replace('_', '%5F')} HTTP/1.1 junk\r\nHost: x\r\n\r\n",
        f"GET /{token_secret} HTTP/9.9\r\n\r\n",
    ]
    # To nginx, and to each pool directly (as a neighbour on the host could).
    for port in (stack.port, stack.web_port, stack.metrics_port):
        for line in lines:
            reply = _send_raw(port, line.encode("latin-1"))
            assert not reply.startswith(b"HTTP/1.1 2"), reply
    # Well-formed calls whose key is refused, is in the path, or is in the query string.
    assert call(stack.port, "GET", f"/profile/{key}?k={key}", secret=key).status in (200, 404)
    assert call(stack.port, "POST", "/event/ingest", event(), secret=key + "x").status == 401
    time.sleep(0.5)  # the lines cross a pipe to serve.py

    logs = stack.log_text()
    assert "Invalid request" in logs  # gunicorn did log the malformed lines
    assert "[redacted]" in logs  # ... and the redactor took the keys out
    for secret in (key, token_secret):
        assert secret not in logs
        assert secret not in unquote(logs)
