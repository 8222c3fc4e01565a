"""Metrics API benchmark: the cache-hit query path against an authenticated no-op, and cold queries.

    .venv/bin/python bench/metrics_bench.py [--duration 10] [--rounds 3] [--events 1000000]

Creates (or re-creates) a dedicated PostgreSQL database, migrates it, makes three workspaces,
loads `--events` events into one of them and a quarter as many into each of the two others
(interleaved in time order, as ingestion writes them), VACUUM ANALYZEs, starts gunicorn with
production settings on that database and Redis (the same start-up and `wrk` driver as
bench/ingest_bench.py, imported from it), exchanges the Metrics key for an access token, then
measures in one run:

    baseline   POST /_bench/baseline/metrics   the query views' authentication, then {"ok": true}
    cached     POST /metrics/query             one query answered from the result cache

(interleaved round by round, the ratio cached/baseline is the goal: 90 % or more; the server's
CPU per request, gunicorn workers plus Redis, beside it), and, one
request at a time, the latency of three queries cold (a variable value never used before, so
the result cache misses and the sandbox runs the SQL) and cached (the same request again),
with PostgreSQL's own EXPLAIN ANALYZE of each compiled query. See bench/README.md.
"""

import argparse
import base64
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ingest_bench import (  # noqa: E402
    LUA,
    _database_create,
    _free_port,
    _gunicorn,
    _run,
    _wrk,
    server_env,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/uf_bench_metrics"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
DAYS = 45  # the events span this many days, ending when the load runs
USERS = 20_000
NAMES = 50
CACHE_TTL_MINUTES = 120  # longer than any run: a cached entry never expires mid-run

QUERIES = {
    "events_per_day": (
        "SELECT date_trunc('day', timestamp) AS day, count(*) AS events\n"
        "FROM eventsTable\n"
        "WHERE timestamp >= '@{since}'\n"
        "GROUP BY 1 ORDER BY 1"
    ),
    "top_10_names": (
        "SELECT name, count(*) AS events\n"
        "FROM eventsTable\n"
        "WHERE timestamp >= '@{since}'\n"
        "GROUP BY name ORDER BY events DESC, name LIMIT 10"
    ),
    "users_per_day": (
        "SELECT date_trunc('day', timestamp) AS day, count(DISTINCT userId) AS users\n"
        "FROM eventsTable\n"
        "WHERE timestamp >= '@{since}'\n"
        "GROUP BY 1 ORDER BY 1"
    ),
}

# One statement, no round trip per row: workspaces interleaved 4:1:1 in time order (as live
# ingestion writes them), about 50 names with a skewed popularity, about 20,000 users (one
# event in ten anonymous), three JSON columns of realistic size.
LOAD_SQL = """
INSERT INTO ingest_event (
    workspace_id, key_id, name, user_id, anonymous_id, external_id, session_id,
    "timestamp", received_at, properties, uf_properties, device_data
)
SELECT
    CASE WHEN mod(g, 6) < 4 THEN %(main)s WHEN mod(g, 6) = 4 THEN %(second)s ELSE %(third)s END,
    NULL,
    CASE WHEN n = 0 THEN 'page_view' ELSE 'event_' || lpad(n::text, 2, '0') END,
    CASE WHEN random() < 0.1 THEN NULL ELSE 'user_' || floor(random() * %(users)s)::int END,
    'anon_' || floor(random() * %(users)s * 1.5)::int,
    NULL,
    'session_' || (g / 30),
    ts,
    ts + random() * interval '2 seconds',
    jsonb_build_object(
        'path', '/products/' || mod(g, 500), 'plan', (ARRAY['free', 'pro', 'team'])[1 + mod(g, 3)],
        'amount', mod(g, 100), 'utmSource', 'news'
    ),
    jsonb_build_object('urlPath', '/products/' || mod(g, 500), 'host', 'shop.example.com'),
    jsonb_build_object(
        'browser', (ARRAY['Chrome', 'Firefox', 'Safari'])[1 + mod(g, 3)],
        'os', (ARRAY['Windows', 'macOS', 'Linux', 'iOS', 'Android'])[1 + mod(g, 5)],
        'deviceType', 'Desktop'
    )
FROM (
    -- random() in the select list: evaluated per row, and keeps the subquery from being flattened
    SELECT g, floor(%(names)s * power(random(), 2))::int AS n,
        %(end)s::timestamptz
            - ((%(total)s - g)::float8 * %(span)s / %(total)s) * interval '1 second' AS ts
    FROM generate_series(1, %(total)s) AS g
) AS rows
"""

PREPARE = """
import django, json
django.setup()
from django.core.cache import cache
from django.core.management import call_command
from apikeys import services
from core.actors import SYSTEM
from apikeys.provisioning import workspace_provision
call_command("migrate", verbosity=0)
cache.delete_pattern("*") if hasattr(cache, "delete_pattern") else cache.clear()
made = [
    workspace_provision(name=f"Metrics bench {{n}}", slug=f"metrics-bench-{{n}}", by=SYSTEM)
    for n in (1, 2, 3)
]
key = made[0].keys["metrics"].key
for n in range(49):
    services.ip_rule_add(key=key, network=f"198.51.{{n}}.0/24", by=SYSTEM)
services.ip_rule_add(key=key, network="127.0.0.1", by=SYSTEM)
services.api_key_set_access_mode(key=key, mode="specific", by=SYSTEM)
services.metrics_cache_ttl_set(key=key, minutes={ttl}, by=SYSTEM)
print("PREPARED " + json.dumps({{
    "workspaces": [m.workspace.id for m in made],
    "apiKey": made[0].secrets()["metricsApiKey"],
    "clientSecret": made[0].secrets()["metricsClientSecret"],
}}))
"""


def _prepare(env: dict) -> dict:
    """Migrate, empty the bench cache, make the workspaces and the Metrics key's rules."""
    result = subprocess.run(
        [sys.executable, "-c", PREPARE.format(ttl=CACHE_TTL_MINUTES)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(result.stderr)
    line = next(x for x in result.stdout.splitlines() if x.startswith("PREPARED "))
    return json.loads(line[len("PREPARED ") :])


def _load(url: str, workspaces: list[int], events: int, end: datetime) -> dict:
    """Load the events and VACUUM ANALYZE; returns counts, sizes and how long it took."""
    import psycopg

    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            LOAD_SQL,
            {
                "main": workspaces[0],
                "second": workspaces[1],
                "third": workspaces[2],
                "users": USERS,
                "names": NAMES,
                "total": events * 6 // 4,
                "end": end,
                "span": DAYS * 86400,
            },
        )
        loaded = time.monotonic() - started
        # What autovacuum would have done by now on a live table: statistics for the planner
        # and a visibility map that makes index-only scans possible.
        connection.execute("VACUUM (ANALYZE) ingest_event")
        counts = dict(
            connection.execute(
                "SELECT workspace_id, count(*) FROM ingest_event GROUP BY 1 ORDER BY 1"
            ).fetchall()
        )
        sizes = dict(
            connection.execute(
                "SELECT c.relname, pg_size_pretty(pg_relation_size(c.oid)) FROM pg_class c "
                "WHERE c.relname IN ('ingest_event', 'event_ws_time', 'event_ws_name_time')"
            ).fetchall()
        )
        stats = connection.execute(
            "SELECT count(DISTINCT name), count(DISTINCT user_id), min(timestamp), max(timestamp)"
            " FROM ingest_event WHERE workspace_id = %s",
            (workspaces[0],),
        ).fetchone()
    return {
        "counts": counts,
        "sizes": sizes,
        "names": stats[0],
        "users": stats[1],
        "from": stats[2].isoformat(),
        "to": stats[3].isoformat(),
        "load_s": loaded,
        "total_s": time.monotonic() - started,
    }


def _database_times(
    url: str, text: str, since: datetime, workspace_id: int, runs: int
) -> tuple[list[float], list[str]]:
    """The compiled SQL run as the sandbox runs it, timed from the client, each run with a
    `since` of its own; then EXPLAIN (ANALYZE, BUFFERS) of it (whose own timing overhead
    makes it slower than the plain runs)."""
    import psycopg

    from metrics.sql import compile_query

    def compiled(moment: datetime):
        return compile_query(
            text,
            {"since": moment.strftime("%Y-%m-%dT%H:%M:%SZ")},
            dialect="postgres",
            workspace_id=workspace_id,
            row_cap=10_000,
        )

    times = []
    with psycopg.connect(url) as connection:
        connection.read_only = True
        for n in range(runs + 1):
            query = compiled(since - timedelta(minutes=1, seconds=n))
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL TimeZone = 'UTC'")
                started = time.perf_counter()
                cursor.execute(query.sql, list(query.params), binary=True)
                cursor.fetchall()
                if n:  # the first run opens the connection's caches; not counted
                    times.append(time.perf_counter() - started)
            connection.rollback()
        query = compiled(since - timedelta(minutes=2))
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL TimeZone = 'UTC'")
            cursor.execute(
                "EXPLAIN (ANALYZE, BUFFERS) " + query.sql, list(query.params), binary=True
            )
            plan = [row[0] for row in cursor.fetchall()]
        connection.rollback()
    return times, plan


def _server_cpu(master: int, redis_url: str) -> float | None:
    """CPU seconds used so far by gunicorn's workers and the Redis server (Linux only).

    Other programs on the machine slow a run down without showing here, so CPU per request
    compares two scenarios more steadily than requests a second do on a shared machine.
    """
    import redis

    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        ticks = 0
        for pid in children:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
        with redis.Redis.from_url(redis_url) as connection:
            info = connection.info("cpu")
    except (OSError, ValueError, redis.RedisError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK") + info["used_cpu_sys"] + info["used_cpu_user"]


class _Client:
    """One keep-alive HTTP connection on loopback, timing each request."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, body: dict, token: str | None = None) -> tuple[float, int, dict]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        self.connection.request("POST", path, body=json.dumps(body), headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        return elapsed, response.status, json.loads(data or b"null")


def _query_body(text: str, since: datetime) -> dict:
    return {
        "encodedQuery": base64.b64encode(text.encode()).decode(),
        "variables": {"since": since.strftime("%Y-%m-%dT%H:%M:%SZ")},
    }


def _ms(values: list[float]) -> dict:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "n": len(values),
        "min_ms": ordered[0] * 1000,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": p99 * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def _latencies(client: _Client, token: str, since: datetime, cold: int, cached: int) -> dict:
    """Cold (a `since` never asked before, so the cache misses) and cached, query by query."""
    samples: dict[str, dict] = {name: {"cold": [], "cached": [], "rows": 0} for name in QUERIES}
    # Round-robin over the queries, so drift hits all alike; each cold sample moves `since`
    # back by a further second, a value no request of this run has used.
    for n in range(cold):
        for i, (name, text) in enumerate(QUERIES.items()):
            body = _query_body(text, since - timedelta(seconds=1 + n * len(QUERIES) + i))
            elapsed, status, answer = client.post("/metrics/query", body, token)
            if status != 200 or answer.get("cached") is not False:
                sys.exit(f"{name}: expected a cold answer, got {status} {answer}")
            samples[name]["cold"].append(elapsed)
            samples[name]["rows"] = answer["rowCount"]
            samples[name]["last"] = body
    noop: list[float] = []
    for _ in range(cached):
        elapsed, status, _ = client.post(
            "/_bench/baseline/metrics", samples["events_per_day"]["last"], token
        )
        if status != 200:
            sys.exit(f"baseline: {status}")
        noop.append(elapsed)
        for name in QUERIES:
            elapsed, status, answer = client.post("/metrics/query", samples[name]["last"], token)
            if status != 200 or answer.get("cached") is not True:
                sys.exit(f"{name}: expected a cached answer, got {status} {answer}")
            samples[name]["cached"].append(elapsed)
    samples["noop"] = noop
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (max 60)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the two runs (max 10)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--events", type=int, default=1_000_000, help="in the main workspace")
    parser.add_argument("--cold", type=int, default=7, help="cold samples per query (max 50)")
    parser.add_argument("--cached", type=int, default=100, help="cached samples per query")
    parser.add_argument("--explain", action="store_true", help="print the full query plans")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_METRICS_DATABASE_URL", DEFAULT_DATABASE_URL),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_METRICS_REDIS_URL", DEFAULT_REDIS_URL)
    )
    args = parser.parse_args()
    duration, rounds = min(args.duration, 60), min(args.rounds, 10)
    events = min(max(args.events // 4 * 4, 4), 5_000_000)
    cold, cached = min(max(args.cold, 1), 50), min(max(args.cached, 1), 1000)

    load_before = os.getloadavg()
    wrk = _wrk()
    env = server_env(database_url=args.database_url, redis_url=args.redis_url)
    print(f"Preparing {args.database_url} …", flush=True)
    _database_create(args.database_url)
    prepared = _prepare(env)
    workspaces = prepared["workspaces"]
    end = datetime.now(UTC).replace(microsecond=0)
    print(f"Loading {events:,} events into workspace {workspaces[0]} (and others) …", flush=True)
    data = _load(args.database_url, workspaces, events, end)
    print(
        f"  {data['counts']} events per workspace in {data['load_s']:.1f} s "
        f"({data['total_s']:.1f} s with VACUUM ANALYZE); sizes {data['sizes']}; main workspace: "
        f"{data['names']} names, {data['users']:,} users, {data['from']} … {data['to']}",
        flush=True,
    )

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    since = end - timedelta(days=30)
    hit_body = _query_body(QUERIES["events_per_day"], since)
    with tempfile.TemporaryDirectory() as folder, open(Path(folder) / "gunicorn.log", "w+b") as log:
        server = _gunicorn(env, port, args.workers, log)
        try:
            client = _Client(port)
            _, status, issued = client.post(
                "/metrics/auth/token",
                {"clientSecret": prepared["clientSecret"], "environmentApiKey": prepared["apiKey"]},
            )
            if status != 200:
                sys.exit(f"token exchange: {status} {issued}")
            token = issued["accessToken"]
            first, status, answer = client.post("/metrics/query", hit_body, token)
            if status != 200 or answer["cached"]:
                sys.exit(f"first query: {status} {answer}")
            _, status, answer = client.post("/metrics/query", hit_body, token)
            if status != 200 or not answer["cached"]:
                sys.exit(f"second query was not a cache hit: {status} {answer}")
            print(
                f"gunicorn: {args.workers} sync workers on {base}; first query (cold, new "
                f"connection) {first * 1000:.0f} ms, {answer['rowCount']} rows",
                flush=True,
            )

            scenarios = [
                ("baseline", "/_bench/baseline/metrics", hit_body),
                ("cached", "/metrics/query", hit_body),
            ]
            scripts = {}
            for name, _, body in scenarios:
                scripts[name] = Path(folder) / f"{name}.lua"
                scripts[name].write_text(
                    LUA.format(
                        auth=f'wrk.headers["Authorization"] = "Bearer {token}"',
                        body=json.dumps(body),
                    )
                )
            print(
                f"wrk: {args.connections} connections, {duration} s per run, {rounds} rounds",
                flush=True,
            )
            for name, path, _ in scenarios:  # warm every worker
                _run(wrk, base + path, scripts[name], 2, args.connections)
            results: dict[str, list[dict]] = {name: [] for name, *_ in scenarios}
            for round_ in range(rounds):
                for name, path, _ in scenarios:
                    cpu = _server_cpu(server.pid, args.redis_url)
                    result = _run(wrk, base + path, scripts[name], duration, args.connections)
                    after = _server_cpu(server.pid, args.redis_url)
                    if cpu is not None and after is not None:
                        result["cpu_us"] = (after - cpu) / result["requests"] * 1e6
                    results[name].append(result)
                    print(
                        f"  round {round_ + 1} {name:9} {result['rps']:8.1f} req/s"
                        f"  server CPU {result.get('cpu_us', 0):4.0f} µs/request"
                        f"  non-2xx {result['non2xx']}  socket errors {result['socket_errors']}",
                        flush=True,
                    )
            _, status, answer = client.post("/metrics/query", hit_body, token)
            if status != 200 or not answer["cached"]:
                sys.exit(f"the cached query stopped being a cache hit: {status} {answer}")

            print(f"Latency, one request at a time: {cold} cold and {cached} cached per query …")
            samples = _latencies(client, token, since, cold, cached)
        finally:
            server.terminate()
            server.wait(timeout=30)
        log.seek(0)
        errors = [
            line for line in log.read().decode(errors="replace").splitlines() if "Error" in line
        ]

    database = {
        name: _database_times(args.database_url, text, since, workspaces[0], runs=3)
        for name, text in QUERIES.items()
    }
    load_after = os.getloadavg()

    print()
    summary: dict = {"throughput": {}, "latency": {}, "data": data}
    for name, *_ in scenarios:
        runs = results[name]
        summary["throughput"][name] = {
            "rps": statistics.median(r["rps"] for r in runs),
            "rps_runs": [round(r["rps"], 1) for r in runs],
            "cpu_us": statistics.median(r.get("cpu_us", 0) for r in runs),
            "p50_ms": statistics.median(r["p50_us"] for r in runs) / 1000,
            "p99_ms": statistics.median(r["p99_us"] for r in runs) / 1000,
            "non2xx": sum(r["non2xx"] for r in runs),
            "socket_errors": sum(r["socket_errors"] for r in runs),
        }
    throughput = summary["throughput"]
    ratio = throughput["cached"]["rps"] / throughput["baseline"]["rps"]
    paired = statistics.median(
        c["rps"] / b["rps"] for b, c in zip(results["baseline"], results["cached"], strict=True)
    )
    cpu_ratio = (
        throughput["baseline"]["cpu_us"] / throughput["cached"]["cpu_us"]
        if throughput["cached"]["cpu_us"]
        else None
    )
    throughput.update(ratio=ratio, ratio_paired=paired, ratio_cpu=cpu_ratio)
    print(f"{'scenario':9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs':>7} {'ratio':>7}")
    for name, *_ in scenarios:
        row = throughput[name]
        shown = f"{ratio:7.1%}" if name == "cached" else "      -"
        print(
            f"{name:9} {row['rps']:9.1f} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
            f"{row['cpu_us']:7.0f} {shown}"
            f"   (non-2xx {row['non2xx']}, socket errors {row['socket_errors']})"
        )
    verdict = "met" if ratio >= 0.9 else "NOT met"
    print(
        f"cache-hit throughput is {ratio:.1%} of the baseline (median of the rounds' own ratios "
        f"{paired:.1%}): goal (90 % or more) {verdict}"
    )
    if cpu_ratio:
        print(
            f"server CPU per request (gunicorn workers + Redis): baseline/cached = {cpu_ratio:.1%}"
        )
    print()
    print(
        f"{'query':15} {'rows':>5} {'cold p50':>9} {'cold max':>9} {'db p50':>8} "
        f"{'cached p50':>11} {'cached p99':>11} {'speed-up':>9}"
    )
    noop = _ms(samples.pop("noop"))
    summary["latency"]["noop"] = noop
    for name in QUERIES:
        cold_ms, cached_ms = _ms(samples[name]["cold"]), _ms(samples[name]["cached"])
        times, _ = database[name]
        summary["latency"][name] = {
            "rows": samples[name]["rows"],
            "cold": cold_ms,
            "cached": cached_ms,
            "db": _ms(times),
        }
        print(
            f"{name:15} {samples[name]['rows']:5} {cold_ms['p50_ms']:9.1f} "
            f"{cold_ms['max_ms']:9.1f} {summary['latency'][name]['db']['p50_ms']:8.1f} "
            f"{cached_ms['p50_ms']:11.2f} {cached_ms['p99_ms']:11.2f} "
            f"{cold_ms['p50_ms'] / cached_ms['p50_ms']:8.0f}x"
        )
    print(f"{'no-op':15} {'':5} {'':9} {'':9} {'':8} {noop['p50_ms']:11.2f} {noop['p99_ms']:11.2f}")
    slowest = max(summary["latency"][name]["cold"]["p50_ms"] for name in QUERIES)
    print(
        "(milliseconds, one request at a time; cold = result-cache miss, with PostgreSQL's "
        "buffers\n and the OS cache warm; db = the compiled SQL alone, run as the sandbox runs "
        "it;\n no-op = the authenticated baseline endpoint)"
    )
    under = "under" if slowest < 1000 else "OVER"
    print(f"slowest cold query (p50): {slowest:.0f} ms, {under} a second")
    for name, text in QUERIES.items():
        _, plan = database[name]
        shown = plan if args.explain else [x for x in plan if "Scan" in x or "Sort Method" in x]
        print(f"\n{name}:\n  " + text.replace("\n", "\n  "))
        print("  plan: " + "\n        ".join(x.strip() for x in shown))
    if errors:
        print(f"\ngunicorn logged {len(errors)} error lines; first: {errors[0]}")
    summary["load_average"] = {"before": load_before, "after": load_after}
    print(
        f"\nload average (1, 5, 15 min) before {load_before[0]:.2f} {load_before[1]:.2f} "
        f"{load_before[2]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}"
    )
    print("JSON " + json.dumps(summary))


if __name__ == "__main__":
    main()
