"""`make run` says plainly when its port is taken (tools/port_free.py, as the Makefile runs it)."""

import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "port_free.py"


def _run(address: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), address], capture_output=True, text=True, timeout=30
    )


def test_a_taken_port_is_said_with_the_fix():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr
    assert f"make run HOST=127.0.0.1:{port + 1}" in result.stderr


def test_a_free_port_passes_and_a_bad_host_is_explained():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    assert _run(f"127.0.0.1:{port}").returncode == 0
    bad = _run("localhost:http")
    assert bad.returncode == 1 and "is not host:port" in bad.stderr
