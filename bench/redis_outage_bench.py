"""What a Redis outage costs ingestion: healthy vs stopped vs hung Redis, as ratios in one run.

Starts its own redis-server on a free port and one gunicorn master (sync workers, production
settings) against a bench database, then, round by round, measures single-event ingestion
requests/s with Redis healthy, with Redis stopped (connections refused) and with Redis replaced
by a socket that accepts and never answers. Each outage is entered one second before it is
measured, as in life: the first call of each worker meets the failure and opens its breaker.

    .venv/bin/python bench/redis_outage_bench.py [--duration 5] [--rounds 3] [--clients 8]

Needs PostgreSQL (default `postgres://postgres@127.0.0.1:5432/uf_bench_redis`, dropped and
re-created; override with BENCH_DATABASE_URL). Results are recorded in docs/performance.md.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest_bench import _database_create, _prepare, server_env  # noqa: E402
from tests.support.processes import Gunicorn, HungServer, RedisServer, call  # noqa: E402

EVENT = {"name": "page_view", "userId": "user-1", "properties": {"path": "/"}}


def _rate(port: int, secret: str, seconds: float, clients: int) -> tuple[float, float]:
    """Requests/s and the slowest call (s) of `clients` closed-loop clients for `seconds`."""
    stop = time.monotonic() + seconds
    done, slowest = [0], [0.0]
    lock = threading.Lock()

    def client() -> None:
        while time.monotonic() < stop:
            started = time.monotonic()
            status, body, _ = call(port, "POST", "/event/ingest", EVENT, secret=secret)
            took = time.monotonic() - started
            if status != 204:
                raise RuntimeError(f"{status} {body}")
            with lock:
                done[0] += 1
                slowest[0] = max(slowest[0], took)

    began = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda _: client(), range(clients)))
    return done[0] / (time.monotonic() - began), slowest[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    database_url = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/uf_bench_redis"
    )
    _database_create(database_url)
    with tempfile.TemporaryDirectory() as folder:
        redis = RedisServer(Path(folder)).start()
        env = server_env(database_url=database_url, redis_url=redis.url)
        secret = _prepare(env)
        env.pop("DJANGO_SETTINGS_MODULE")
        server = Gunicorn(env, workers=args.workers, settings_module="bench.settings")
        hung = None
        results: dict[str, list[tuple[float, float]]] = {"healthy": [], "stopped": [], "hung": []}
        try:
            server.wait_ready()
            _rate(server.port, secret, 2.0, args.clients)  # warm every worker
            for _ in range(args.rounds):
                for scenario in results:
                    if scenario == "healthy" and not redis.running:
                        hung.close()
                        hung = None
                        redis.restart_from(None)
                        time.sleep(args.duration)  # let every breaker probe and close
                    elif scenario == "stopped":
                        redis.stop()
                    elif scenario == "hung":
                        hung = HungServer(redis.port)
                    if scenario != "healthy":
                        _rate(server.port, secret, 1.0, args.clients)  # meet the outage
                    results[scenario].append(
                        _rate(server.port, secret, args.duration, args.clients)
                    )
        finally:
            server.stop()
            if hung is not None:
                hung.close()
            redis.stop()
    healthy = [rate for rate, _ in results["healthy"]]
    summary = {}
    for scenario, runs in results.items():
        ratios = [rate / base for (rate, _), base in zip(runs, healthy, strict=True)]
        summary[scenario] = {
            "rps_median": round(statistics.median(rate for rate, _ in runs), 1),
            "ratio_median": round(statistics.median(ratios), 3),
            "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
            "slowest_call_s": round(max(slow for _, slow in runs), 3),
        }
        print(
            f"{scenario:>8}: {summary[scenario]['rps_median']:8.1f} req/s, "
            f"ratio to healthy {summary[scenario]['ratio_median']:.3f} "
            f"{summary[scenario]['ratio_range']}, slowest call "
            f"{summary[scenario]['slowest_call_s']:.3f} s"
        )
    print("JSON", json.dumps({"workers": args.workers, "clients": args.clients, **summary}))


if __name__ == "__main__":
    main()
