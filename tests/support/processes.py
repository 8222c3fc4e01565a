"""Real processes for fault tests: a Redis of the test's own, a hung socket, gunicorn masters.

Each is started on a free port, in a temporary directory, and stopped (only what it started)
when the test ends: the shared PostgreSQL and Redis are never touched.
"""

import contextlib
import http.client
import http.cookies
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from deploy.pools import WEB_WORKER_CLASS

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def live_database_url() -> str:
    """`DATABASE_URL` naming the test run's database, for servers started by a test."""
    from django.db import connection

    parts = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    return urllib.parse.urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def call(port: int, method: str, path: str, body=None, *, secret=None, headers=None, timeout=20):
    """One HTTP call: (status, JSON body or None, response headers as a dict)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    sent = {"Content-Type": "application/json", **(headers or {})}
    if secret is not None:
        sent["Authorization"] = f"Bearer {secret}"
    try:
        data = None if body is None else json.dumps(body)
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        payload = response.read()
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = None
        return response.status, parsed, dict(response.getheaders())
    finally:
        connection.close()


class RedisServer:
    """A redis-server of the test's own on a free port, with its dump file in a temp directory."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.directory), "--dbfilename", "dump.rdb",
            "--save", "", "--appendonly", "no", "--daemonize", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while self.cli("PING") != "PONG":
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)
        return self

    def cli(self, *args: str) -> str:
        command = ["redis-cli", "-p", str(self.port), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=10)
        return result.stdout.strip()

    def dump_aside(self) -> Path:
        """SAVE now and keep a copy of the dump: the 'old data' a restore brings back."""
        assert self.cli("SAVE") == "OK"
        copy = self.directory / "old-dump.rdb"
        shutil.copyfile(self.directory / "dump.rdb", copy)
        return copy

    def stop(self) -> None:
        if self.process is None:
            return
        self.cli("SHUTDOWN", "NOSAVE")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None

    def restart_from(self, dump: Path | None) -> None:
        """Start again on the same port, from this dump (old data) or from nothing."""
        target = self.directory / "dump.rdb"
        target.unlink(missing_ok=True)
        if dump is not None:
            shutil.copyfile(dump, target)
        self.start()


class HungServer:
    """A socket that accepts connections and reads what is sent, and never answers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received = 0
        self.accepted = 0
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(128)
        self._listener.settimeout(0.05)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                conn, _ = self._listener.accept()
                conn.setblocking(False)
                self._sockets.append(conn)
                self.accepted += 1
            for conn in list(self._sockets):
                with contextlib.suppress(BlockingIOError, OSError):
                    self.received += len(conn.recv(65536))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._sockets:
            conn.close()
        self._listener.close()


class Gunicorn:
    """A gunicorn master with its workers, serving the site with the given environment."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        workers: int = 2,
        settings_module: str,
        unset: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop)
        command = [
            sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(workers), "--worker-class", WEB_WORKER_CLASS,
            "--chdir", str(ROOT), "--no-control-socket",
            "--graceful-timeout", "3", "userflux_site.wsgi:application",
        ]  # fmt: skip
        full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, **env}
        for name in unset:
            full_env.pop(name, None)
        self.process = subprocess.Popen(command, env=full_env, stdout=self.log, stderr=self.log)

    def wait_ready(self) -> "Gunicorn":
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}: {self.tail()}")
            try:
                if call(self.port, "GET", "/healthz", timeout=5)[0] == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn on port {self.port} did not start in time")

    def tail(self) -> str:
        self.log.seek(0)
        return self.log.read()[-3000:].decode(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def worker_pid_middleware(get_response):
    """Test-only: says which worker answered, so a test can show every worker obeys."""

    def middleware(request):
        response = get_response(request)
        response["X-Worker-Pid"] = str(os.getpid())
        return response

    return middleware


class WebSession:
    """A signed-in person's browser, reduced to cookies and forms (CSRF token included)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            form = {"csrfmiddlewaretoken": self.cookies.get("csrftoken", ""), **form}
            body = urllib.parse.urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    cookie = http.cookies.SimpleCookie(value)
                    self.cookies.update({name: morsel.value for name, morsel in cookie.items()})
            return response.status, response.read().decode(errors="replace")
        finally:
            connection.close()

    def sign_in(self, username: str, password: str) -> None:
        assert self.request("GET", "/login/")[0] == 200
        status, page = self.request("POST", "/login/", {"username": username, "password": password})
        assert status == 302, page[:2000]
        assert "sessionid" in self.cookies
