"""The web pool's worker is free as soon as its answer is sent, and lingers only when it must.

One worker of the web pool, started as deploy/gunicorn.conf.py configures it (so with
deploy.workers.PromptCloseSyncWorker), and raw sockets: client A is answered and keeps its
connection open; what client B then sees says whether the worker waited for A to close.
gunicorn's own sync worker waits up to 2 s for every client to close.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time

import pytest

from tests.site.stack import ROOT, call, free_port

LINGER_SECONDS = 2  # gunicorn's close_graceful waits this long for a client to close


@pytest.fixture(scope="module")
def web_port():
    port = free_port()
    env = {
        **os.environ,
        "USERFLUX_POOL": "web",
        "SERVE_WEB_WORKERS": "1",
        "DJANGO_SETTINGS_MODULE": "userflux_site.settings",
    }
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"),
            *("--bind", f"127.0.0.1:{port}"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "gunicorn exited"
            try:
                call(port, "GET", "/healthz", timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes its side."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _healthz_seconds(port: int) -> float:
    started = time.monotonic()
    with contextlib.closing(socket.create_connection(("127.0.0.1", port), 10)) as sock:
        sock.settimeout(10)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert _answer(sock).startswith(b"HTTP/1.1 200")
    return time.monotonic() - started


def test_a_client_that_keeps_its_connection_open_does_not_hold_the_worker(web_port):
    with contextlib.closing(socket.create_connection(("127.0.0.1", web_port), 10)) as first:
        first.settimeout(10)
        first.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert _answer(first).startswith(b"HTTP/1.1 200")  # answered, then closed by the server
        # `first` stays open; the one worker must not be waiting for it to close.
        assert _healthz_seconds(web_port) < LINGER_SECONDS * 0.75


def test_a_refused_request_whose_body_was_not_read_gets_its_whole_answer(web_port):
    """An early 401 leaves the body unread: the worker lingers (drains) so no reset destroys it."""
    declared, sent = 60_000, 30_000
    with contextlib.closing(socket.create_connection(("127.0.0.1", web_port), 10)) as first:
        first.settimeout(10)
        first.sendall(
            b"POST /event/ingest HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {declared}\r\n\r\n".encode()
            + b" " * sent
        )
        head = b""
        while b'"code"' not in head:
            chunk = first.recv(65536)
            assert chunk, f"the connection ended before the answer: {head!r}"
            head += chunk
        assert head.startswith(b"HTTP/1.1 401")
        # The worker is still draining `first`'s unread body, so it serves nobody else yet...
        started = time.monotonic()
        with contextlib.closing(socket.create_connection(("127.0.0.1", web_port), 10)) as second:
            second.settimeout(LINGER_SECONDS / 4)
            second.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            with pytest.raises(TimeoutError):
                second.recv(1)
            # ...until `first` closes (or its 2 s are up); then `second` is answered.
            first.close()
            second.settimeout(10)
            assert _answer(second).startswith(b"HTTP/1.1 200")
        assert time.monotonic() - started < LINGER_SECONDS + 5


def test_nothing_waiting_tells_an_empty_socket_from_one_holding_bytes():
    from deploy.workers import nothing_waiting

    ours, theirs = socket.socketpair()
    with ours, theirs:
        assert nothing_waiting(ours)
        theirs.sendall(b"GET / HTTP/1.1\r\n")  # a pipelined request, say
        assert not nothing_waiting(ours)
        assert ours.recv(100) == b"GET / HTTP/1.1\r\n"  # peeking took nothing
        theirs.close()
        assert nothing_waiting(ours)  # a closed peer leaves nothing to protect

    class CannotPeek:  # as an SSL socket refuses recv flags
        def recv(self, *_):
            raise ValueError("non-zero flags not allowed")

    assert not nothing_waiting(CannotPeek())
