"""gunicorn's own error and access logs pass the redaction filter, without serve.py's help.

A pool started as deploy/gunicorn.conf.py configures it, its output read straight from its
stderr and stdout: a key in a malformed request line, or in a refused call's path, is not in
either.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time

from tests.site.stack import ROOT, call, free_port

KEY = "uf_rw_" + "Ab3" * 12 + "xy"  # shaped like a Read & Write key (38 characters after uf_rw_)


def _wait_answering(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        with contextlib.suppress(OSError):
            call(port, "GET", "/healthz", timeout=5)
            return
        time.sleep(0.1)
    raise AssertionError("gunicorn did not start")


def test_gunicorn_logs_a_malformed_request_line_without_the_key(tmp_path):
    port = free_port()
    bind = f"127.0.0.1:{port}"
    env = {
        **os.environ,
        "USERFLUX_POOL": "web",
        "SERVE_WEB_WORKERS": "1",
        "DJANGO_SETTINGS_MODULE": "userflux_site.settings",
    }
    out, err = tmp_path / "out", tmp_path / "err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", bind],
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        _wait_answering(port, process)
        with contextlib.closing(socket.create_connection(("127.0.0.1", port), 5)) as sock:
            sock.sendall(f"GET /profile/{KEY}\x01 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert sock.recv(65536).startswith(b"HTTP/1.1 400")
        call(port, "GET", f"/nothing/{KEY}", secret=KEY)
        time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=30)
    error_log, access_log = err.read_text(), out.read_text()
    assert "Invalid request" in error_log and "[redacted]" in error_log
    assert "/nothing/[redacted]" in access_log
    assert KEY not in error_log + access_log
