"""A PostgreSQL server of the test's own, on a free port in a temporary directory.

Fault tests stop and start it; the shared server on 5432 is never touched. initdb refuses to
run as root, so as root the server runs as the `postgres` user (runuser).
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.site.stack import free_port

BIN = Path("/usr/lib/postgresql/15/bin")


class OwnPostgres:
    """initdb, start, stop and start again, on a port and directory of its own."""

    def __init__(self):
        if not (BIN / "initdb").exists():
            pytest.skip(f"PostgreSQL 15's server programs are not in {BIN}")
        # Not under pytest's temporary directory, which the postgres user cannot enter.
        self.directory = directory = Path(tempfile.mkdtemp(prefix="userflux-test-pg-"))
        self.data = directory / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self._as_owner = []
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv: str) -> None:
        subprocess.run([*self._as_owner, *argv], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run(str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        log = str(self.directory / "server.log")
        pg_ctl = str(BIN / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        """Stop the server (when it runs) and delete its directory: everything it made."""
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)

    def running(self) -> bool:
        status = subprocess.run(
            [*self._as_owner, str(BIN / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
            timeout=30,
        )
        return status.returncode == 0
