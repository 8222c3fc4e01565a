"""What the checks cost a real gunicorn worker per single event: CPU in paired blocks of calls.

    .venv/bin/python bench/server_cpu.py [--blocks 40] [--block 200] [--usage true|false]

Prepares the database as `bench/ingest_bench.py` does, starts gunicorn with ONE worker of the
web pool's class, and sends single events one at a time (a new connection each, as wrk does):
blocks of `--block` calls to `POST /event/ingest` (every check) and to the no-check baseline,
alternating which goes first. For each block it reads how long the worker and the PostgreSQL
backends were on a CPU (`/proc/<pid>/schedstat`, nanoseconds), and prints the medians per call
and the median of the paired differences. Unlike throughput, this is barely moved by other work
on the machine; unlike `bench/cpu_cost.py` (one process, a tight loop whose caches stay warm), it
includes what a worker pays when every request starts on a core other processes just used.
`--usage false` runs the server with `USAGE_RECORDING=false`, to tell the checks from the
recording of key usage.
"""

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest_bench import (
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    SERIAL_MARKER,
    _database_create,
    _event,
    _free_port,
    _gunicorn,
    _prepare,
    server_env,
)


def _on_cpu_ns(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except OSError:
        return 0  # the process ended


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=40, help="blocks of each kind")
    parser.add_argument("--block", type=int, default=200, help="calls per block")
    parser.add_argument("--usage", choices=["true", "false"], default="true")
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    env = server_env(
        database_url=database_url,
        redis_url=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
    )
    env["USAGE_RECORDING"] = args.usage
    _database_create(database_url)
    secret = _prepare(env)
    port = _free_port()
    template = json.dumps(_event("page_view", 1))
    serial = 0

    def send(path: str, key: str | None) -> None:
        nonlocal serial
        serial += 1
        body = template.replace(SERIAL_MARKER, f"cpu-{serial}").encode()
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("POST", path, body, headers)
            answer = connection.getresponse()
            answer.read()
        finally:
            connection.close()
        if answer.status != 204:
            sys.exit(f"{path} answered {answer.status}")

    kinds = [("checked", "/event/ingest", secret), ("baseline", "/_bench/baseline/event", None)]
    worker_ms: dict[str, list[float]] = {name: [] for name, *_ in kinds}
    database_ms: dict[str, list[float]] = {name: [] for name, *_ in kinds}
    with tempfile.TemporaryFile() as log:
        server = _gunicorn(env, port, 1, log)
        try:
            for _ in range(300):  # warm the worker, its connection and the key cache
                for _, path, key in kinds:
                    send(path, key)
            children = subprocess.run(
                ["pgrep", "-P", str(server.pid)], capture_output=True, text=True, check=True
            )
            worker = int(children.stdout.split()[0])
            database = urlsplit(database_url).path.lstrip("/")
            backends = subprocess.run(
                ["pgrep", "-f", f"postgres: .* {database} "], capture_output=True, text=True
            )
            pids = [int(pid) for pid in backends.stdout.split()]
            print(f"worker {worker}, PostgreSQL backends {pids}, usage recording {args.usage}")
            for number in range(args.blocks):
                for name, path, key in kinds if number % 2 == 0 else kinds[::-1]:
                    worker_before = _on_cpu_ns(worker)
                    database_before = sum(_on_cpu_ns(pid) for pid in pids)
                    for _ in range(args.block):
                        send(path, key)
                    worker_ms[name].append((_on_cpu_ns(worker) - worker_before) / args.block / 1e6)
                    database_ms[name].append(
                        (sum(_on_cpu_ns(pid) for pid in pids) - database_before) / args.block / 1e6
                    )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    print(f"{'':9} {'worker ms/call':>15} {'PostgreSQL ms/call':>19}  (medians of {args.blocks})")
    for name, *_ in kinds:
        print(
            f"{name:9} {statistics.median(worker_ms[name]):15.4f}"
            f" {statistics.median(database_ms[name]):19.4f}"
        )
    paired = [c - b for c, b in zip(worker_ms["checked"], worker_ms["baseline"], strict=True)]
    paired_db = [
        c - b for c, b in zip(database_ms["checked"], database_ms["baseline"], strict=True)
    ]
    print(
        f"the checks cost, median of paired blocks: worker {statistics.median(paired):+.4f} ms, "
        f"PostgreSQL {statistics.median(paired_db):+.4f} ms per call"
    )


if __name__ == "__main__":
    main()
