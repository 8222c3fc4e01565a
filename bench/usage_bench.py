"""What recording key usage costs ingestion: the same endpoints with recording on and off, one run.

    .venv/bin/python bench/usage_bench.py [--duration 5] [--rounds 6] [--connections 8]

Prepares the database as `bench/ingest_bench.py` does (a Write-Only key with 50 address rules and
50 allowed event names), then starts two gunicorn servers on it that differ in one setting:
`USAGE_RECORDING=false` ("off") and `USAGE_RECORDING=true` ("on", the default, flushing every
`USAGE_FLUSH_SECONDS`). Each round runs, back to back, `single-off`, `single-on`, `batch-off`,
`batch-on` (one event to `/event/ingest`; 100 events to `/event/ingest/batch`), "off" first in
even rounds and "on" first in odd ones, so each "on" run is compared with the "off" run next to
it. Prints the median over the rounds of requests/s
and the median (and range) of the paired on/off ratios. Only one server is driven at a time.
"""

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest_bench import (
    ALLOWED_NAMES,
    BATCH_SIZE,
    LUA,
    SERIAL_MARKER,
    _database_create,
    _event,
    _free_port,
    _gunicorn,
    _prepare,
    _run,
    _wrk,
    server_env,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/uf_usage_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per run (max 60)")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of the four runs (max 20)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    args = parser.parse_args()
    duration, rounds = min(args.duration, 60), min(args.rounds, 20)

    wrk = _wrk()
    env = server_env(database_url=args.database_url, redis_url=args.redis_url)
    print(f"Preparing {args.database_url} …", flush=True)
    _database_create(args.database_url)
    secret = _prepare(env)
    single = json.dumps(_event("page_view", 1))
    batch = json.dumps({"events": [_event(ALLOWED_NAMES[n % 50], n) for n in range(BATCH_SIZE)]})
    ports = {"off": _free_port(), "on": _free_port()}
    scenarios = [
        (f"{shape}-{mode}", mode, path, body, events)
        for shape, path, body, events in [
            ("single", "/event/ingest", single, 1),
            ("batch", "/event/ingest/batch", batch, BATCH_SIZE),
        ]
        for mode in ("off", "on")
    ]
    results: dict[str, list[dict]] = {name: [] for name, *_ in scenarios}
    with tempfile.TemporaryDirectory() as folder, open(Path(folder) / "gunicorn.log", "w+b") as log:
        script = {}
        for name, _, _, body, _ in scenarios:
            script[name] = Path(folder) / f"{name}.lua"
            script[name].write_text(
                LUA.format(
                    auth=f'wrk.headers["Authorization"] = "Bearer {secret}"',
                    body=body,
                    marker=SERIAL_MARKER,
                )
            )
        servers = {
            mode: _gunicorn(
                {**env, "USAGE_RECORDING": "true" if mode == "on" else "false"},
                port,
                args.workers,
                log,
            )
            for mode, port in ports.items()
        }
        try:
            print(
                f"gunicorn: two servers of {args.workers} sync workers; wrk: "
                f"{args.connections} connections, {duration} s per run, {rounds} rounds; "
                f"load average before: {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            for name, mode, path, *_ in scenarios:  # warm up every worker and cache
                _run(wrk, f"http://127.0.0.1:{ports[mode]}{path}", script[name], 2, 8)
            for round_ in range(rounds):
                # "off" runs first in even rounds and second in odd ones, so that neither side
                # always meets the later (larger) table.
                order = scenarios if round_ % 2 == 0 else [scenarios[i] for i in (1, 0, 3, 2)]
                for name, mode, path, *_ in order:
                    url = f"http://127.0.0.1:{ports[mode]}{path}"
                    result = _run(wrk, url, script[name], duration, args.connections)
                    results[name].append(result)
                    print(
                        f"  round {round_ + 1} {name:11} {result['rps']:9.1f} req/s  "
                        f"non-2xx {result['non2xx']}  load {os.getloadavg()[0]:.2f}",
                        flush=True,
                    )
        finally:
            for server in servers.values():
                server.send_signal(signal.SIGTERM)
            for server in servers.values():
                server.wait(timeout=30)

    print()
    print(f"{'scenario':11} {'req/s':>8} {'events/s':>9} {'p50 ms':>7}  on/off (median, range)")
    summary = {}
    for name, mode, _, _, events in scenarios:
        runs = results[name]
        row = summary[name] = {
            "rps": statistics.median(r["rps"] for r in runs),
            "events_per_s": statistics.median(r["rps"] for r in runs) * events,
            "p50_ms": statistics.median(r["p50_us"] for r in runs) / 1000,
            "non2xx": sum(r["non2xx"] for r in runs),
        }
        ratio = "     -"
        if mode == "on":
            off = results[name.replace("-on", "-off")]
            ratios = [on["rps"] / o["rps"] for on, o in zip(runs, off, strict=True)]
            row["ratio"], row["ratio_range"] = statistics.median(ratios), [min(ratios), max(ratios)]
            ratio = f"{row['ratio']:6.1%} ({min(ratios):.1%} to {max(ratios):.1%})"
        print(
            f"{name:11} {row['rps']:8.1f} {row['events_per_s']:9.0f} {row['p50_ms']:7.2f}  {ratio}"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("JSON " + json.dumps(summary))


if __name__ == "__main__":
    main()
