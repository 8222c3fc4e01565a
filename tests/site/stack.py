"""The production stack (deploy/serve.py: nginx and both pools) started by a test on free ports.

Tests talk to it with plain sockets and http.client, as any client would; the stack's log files
(SERVE_LOG_DIR) and serve.py's own output are kept for the tests that read them.
"""

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "deploy" / "serve.py"
START_SECONDS = 60


def require_nginx() -> None:
    """Skip without nginx, except in CI, which installs it (.ci/run) and must run these tests."""
    if shutil.which("nginx") or os.path.exists("/usr/sbin/nginx"):
        return
    if os.environ.get("CI"):
        pytest.fail("nginx is not installed (apt-get install nginx)")
    pytest.skip("nginx is not installed (apt-get install nginx)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body)


def call(
    port: int,
    method: str,
    path: str,
    body=None,
    secret: str | None = None,
    headers: dict | None = None,
    source: str | None = None,
    timeout: float = 30,
) -> Answer:
    """One request on a new connection (from the `source` address when given)."""
    sent = {"Content-Type": "application/json", **(headers or {})}
    if secret is not None:
        sent["Authorization"] = f"Bearer {secret}"
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0) if source else None
    )
    started = time.monotonic()
    try:
        data = None if body is None else json.dumps(body)
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        payload = response.read()
        headers_ = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, headers_, payload, time.monotonic() - started)
    finally:
        connection.close()


def event(name: str = "signup", user: str = "user-1") -> dict:
    return {"name": name, "userId": user, "properties": {"plan": "pro"}}


@dataclass
class Stack:
    """A running stack: nginx's port, each pool's port, and where its logs are."""

    port: int
    web_port: int
    metrics_port: int
    log_dir: Path
    output: Path
    process: subprocess.Popen
    env: dict = field(repr=False, default_factory=dict)

    def log_text(self) -> str:
        """Every log file of the stack, and serve.py's own output, as one text."""
        files = [*sorted(self.log_dir.glob("*")), self.output]
        return "\n".join(path.read_text(errors="replace") for path in files if path.is_file())

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def stack_env(database_url: str, log_dir: Path, **extra: str) -> dict:
    """Production settings (DEBUG off) on plain HTTP, for the database and Redis of the test."""
    caches = settings.CACHES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "userflux_site.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_KEY_PREFIX": str(caches.get("KEY_PREFIX") or "uf"),
        "DEBUG": "false",
        "SECRET_KEY": "stack-test-secret-key-" + "x" * 40,
        "SECURE_SSL_REDIRECT": "false",
        "SERVE_WEB_WORKERS": "2",
        "SERVE_METRICS_WORKERS": "1",
        "SERVE_METRICS_THREADS": "6",
        "SERVE_WEB_BIND": f"127.0.0.1:{free_port()}",
        "SERVE_METRICS_BIND": f"127.0.0.1:{free_port()}",
        "SERVE_LOG_DIR": str(log_dir),
        # Tests send refused keys on purpose; that is not key guessing.
        "AUTH_FAILURE_LIMIT": "0",
    }
    env.pop("TRUSTED_PROXIES", None)
    env.update(extra)
    return env


def start_stack(tmp: Path, database_url: str, **extra: str) -> Stack:
    """serve.py on a free port, as `make serve` runs it; returns once /healthz answers."""
    log_dir = tmp / "logs"
    env = stack_env(database_url, log_dir, **extra)
    port = free_port()
    output = tmp / "serve.out"
    with open(output, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, str(SERVE), f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    stack = Stack(
        port=port,
        web_port=int(env["SERVE_WEB_BIND"].rpartition(":")[2]),
        metrics_port=int(env["SERVE_METRICS_BIND"].rpartition(":")[2]),
        log_dir=log_dir,
        output=output,
        process=process,
        env=env,
    )
    deadline = time.monotonic() + START_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"serve.py exited with {process.returncode}:\n{stack.log_text()}")
        with contextlib.suppress(OSError):
            if call(port, "GET", "/healthz", timeout=2).status == 200:
                return stack
        if time.monotonic() > deadline:
            stack.stop()
            raise RuntimeError(f"the stack did not start in time:\n{stack.log_text()}")
        time.sleep(0.1)


def metrics_token(port: int, secrets: dict) -> str:
    answer = call(
        port,
        "POST",
        "/metrics/auth/token",
        {
            "clientSecret": secrets["metricsClientSecret"],
            "environmentApiKey": secrets["metricsApiKey"],
        },
    )
    assert answer.status == 200, answer
    return answer.json()["accessToken"]
