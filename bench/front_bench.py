"""Isolation through the production stack: one workspace's ingestion latency while another
workspace runs four 10 s Metrics queries at once, or while slow clients hold connections open.

    .venv/bin/python bench/front_bench.py                      # 3 rounds of 8 s per scenario
    .venv/bin/python bench/front_bench.py --rounds 5 --rate 50

Starts the stack exactly as `make serve` does (deploy/serve.py: nginx, web pool, Metrics pool)
with production settings and METRICS_STATEMENT_TIMEOUT=10, on its own database (dropped and
re-created) and its own Redis key prefix (only those keys are deleted, never the rest of the
Redis database). Interleaved round by round:

| scenario | what else runs while workspace B sends events at `--rate` a second |
|---|---|
| quiet | nothing |
| metrics | A's four queries, each running until the 10 s timeout (a CPU-bound cross join) |
| slow-clients | `--slow` connections that send their headers a byte now and then |

Latency is counted from when a request was due (an open-loop schedule), so a stall shows in
full, not hidden by a client that waited. Prints p50, p99 and max per scenario (median over the
rounds), any answer that was not 204, and, in the metrics scenario, what a fifth concurrent
query of workspace A got. Not part of the test suite; results in docs/performance.md.
"""

import argparse
import base64
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest_bench import _database_create, _free_port, server_env  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/uf_bench_front"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
CACHE_KEY_PREFIX = "bench-front"


def _cache_keys_delete(redis_url: str) -> None:
    """Delete this benchmark's own cache keys; the Redis database may hold others' data."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{CACHE_KEY_PREFIX}:*", count=1000):
        client.delete(key)


STATEMENT_TIMEOUT = 10
HEAVY_EVENTS = 2_000  # 2,000³ rows to count: every query runs until the timeout
SLOW_SQL = (
    "SELECT count(*) AS front_bench_probe FROM eventsTable a "
    "CROSS JOIN eventsTable b CROSS JOIN eventsTable c"
)
PREPARE = """
import django, json
django.setup()
from django.core.management import call_command
from apikeys.provisioning import workspace_provision
from core.actors import SYSTEM
call_command("migrate", verbosity=0)
print(json.dumps({slug: workspace_provision(name=slug, slug=slug, by=SYSTEM).secrets()
                  for slug in ("heavy", "light")}))
"""


def _post(connection, path: str, body, secret: str | None = None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    connection.request("POST", path, body=json.dumps(body), headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


def _connect(port: int, timeout: float = 60) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def measure(port: int, secret: str, duration: float, rate: float) -> dict:
    """Events sent at `rate` a second for `duration` s; latency counted from when each was due."""
    total = int(duration * rate)
    start = time.perf_counter() + 0.1
    lock, latencies, statuses, following = threading.Lock(), [], [], iter(range(total))

    def sender() -> None:
        connection = _connect(port)
        event = {"name": "page_view", "userId": "bench-user", "properties": {"path": "/"}}
        while True:
            with lock:
                index = next(following, None)
            if index is None:
                break
            due = start + index / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            try:
                status = _post(connection, "/event/ingest", event, secret)
            except OSError:
                status = 0
                connection = _connect(port)
            with lock:
                latencies.append(time.perf_counter() - due)
                statuses.append(status)

    threads = [threading.Thread(target=sender) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(latencies)
    return {
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
        "max_ms": 1000 * ordered[-1],
        "requests": len(ordered),
        "not_204": sum(1 for status in statuses if status != 204),
    }


def _running(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        sql = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s"
        return connection.execute(sql, ["%front_bench_probe%"]).fetchone()[0]


def with_queries(port: int, token: str, database_url: str, run) -> tuple[dict, int]:
    """`run()` while four slow queries run; returns its result and a fifth query's status."""
    body = {"encodedQuery": base64.b64encode(SLOW_SQL.encode()).decode(), "variables": {}}
    threads = [
        threading.Thread(target=lambda: _post(_connect(port), "/metrics/query", body, token))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while _running(database_url) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    fifth: list[int] = []
    extra = threading.Thread(
        target=lambda: fifth.append(_post(_connect(port), "/metrics/query", body, token))
    )
    extra.start()
    result = run()
    for thread in [*threads, extra]:
        thread.join()
    return result, fifth[0] if fifth else 0


def with_slow_clients(port: int, count: int, run) -> dict:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /event/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        sockets.append(sock)
    try:
        return run()
    finally:
        for sock in sockets:
            sock.close()


def _start_stack(env: dict, port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy" / "serve.py"), f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"serve.py exited; see {log}")
        try:
            connection = _connect(port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    sys.exit(f"the stack did not start; see {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds (at most 9)")
    parser.add_argument("--rate", type=float, default=40.0, help="events a second")
    parser.add_argument("--slow", type=int, default=200, help="slow clients")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_FRONT_DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_FRONT_REDIS_URL"))
    args = parser.parse_args()
    duration = min(args.duration, STATEMENT_TIMEOUT - 1.0, 60)
    database_url = args.database_url or DEFAULT_DATABASE_URL
    redis_url = args.redis_url or DEFAULT_REDIS_URL
    _database_create(database_url)
    _cache_keys_delete(redis_url)
    work = Path(tempfile.mkdtemp(prefix="front-bench-"))
    env = {
        # The benchmarks' production environment; the site's own settings (no baselines).
        **server_env(database_url=database_url, redis_url=redis_url),
        "DJANGO_SETTINGS_MODULE": "userflux_site.settings",
        "CACHE_KEY_PREFIX": CACHE_KEY_PREFIX,
        "METRICS_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT),
        "SERVE_LOG_DIR": str(work / "logs"),
    }
    prepared = subprocess.run(
        [sys.executable, "-c", PREPARE], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if prepared.returncode:
        sys.exit(prepared.stderr)
    secrets = json.loads(prepared.stdout.splitlines()[-1])
    port = _free_port()
    stack = _start_stack(env, port, work / "serve.out")
    try:
        connection = _connect(port)
        for start in range(0, HEAVY_EVENTS, 100):
            batch = [
                {"name": "e", "userId": "u", "eventId": str(n)} for n in range(start, start + 100)
            ]
            assert (
                _post(
                    connection,
                    "/event/ingest/batch",
                    {"events": batch},
                    secrets["heavy"]["writeOnly"],
                )
                == 204
            )
        credentials = {
            "clientSecret": secrets["heavy"]["metricsClientSecret"],
            "environmentApiKey": secrets["heavy"]["metricsApiKey"],
        }
        connection.request(
            "POST",
            "/metrics/auth/token",
            json.dumps(credentials),
            {"Content-Type": "application/json"},
        )
        token = json.loads(connection.getresponse().read())["accessToken"]
        light = secrets["light"]["writeOnly"]
        measure(port, light, 2, args.rate)  # warm every worker

        def run() -> dict:
            return measure(port, light, duration, args.rate)

        results: dict[str, list[dict]] = {"quiet": [], "metrics": [], "slow-clients": []}
        fifth: list[int] = []
        load = os.getloadavg()
        for number in range(args.rounds):
            results["quiet"].append(run())
            outcome, status = with_queries(port, token, database_url, run)
            results["metrics"].append(outcome)
            fifth.append(status)
            results["slow-clients"].append(with_slow_clients(port, args.slow, run))
            print(f"round {number + 1}/{args.rounds} done", flush=True)
    finally:
        stack.send_signal(signal.SIGINT)
        stack.wait(timeout=120)
    summary = {
        name: {
            key: round(statistics.median(r[key] for r in rounds), 1)
            for key in ("p50_ms", "p99_ms", "max_ms")
        }
        | {
            "requests": sum(r["requests"] for r in rounds),
            "not_204": sum(r["not_204"] for r in rounds),
        }
        for name, rounds in results.items()
    }
    print(f"\nload average before: {load[0]:.1f} {load[1]:.1f}; after: {os.getloadavg()[0]:.1f}")
    print(f"{'scenario':<14}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'requests':>10}{'not 204':>9}")
    for name, row in summary.items():
        print(
            f"{name:<14}{row['p50_ms']:>9}{row['p99_ms']:>9}{row['max_ms']:>9}"
            f"{row['requests']:>10}{row['not_204']:>9}"
        )
    print(f"fifth concurrent query of the heavy workspace answered: {fifth}")
    print("JSON " + json.dumps({"summary": summary, "fifth_query": fifth, "rate": args.rate}))


if __name__ == "__main__":
    main()
