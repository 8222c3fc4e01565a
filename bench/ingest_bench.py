"""Integration API benchmark: no-check baselines against the fully checked endpoints, in one run.

    .venv/bin/python bench/ingest_bench.py [--duration 10] [--rounds 3] [--connections 8]

Creates (or re-creates) a dedicated PostgreSQL database, migrates it, makes a workspace whose
Write-Only key has 50 address rules (127.0.0.1 among them, last) and 50 allowed event names,
starts gunicorn with production settings (DEBUG off, sync workers, one per core) on that
database and Redis, and drives it from `wrk` on the same machine (loopback only; every run is
bounded by --duration). Scenarios, interleaved round by round so that drift hits all alike:

    baseline-single  POST /_bench/baseline/event      one event, no check at all
    single           POST /event/ingest               the same event, every check on
    baseline-batch   POST /_bench/baseline/batch      100 events, no check at all
    batch            POST /event/ingest/batch         the same 100 events, every check on

It prints requests/s, events/s, p50 and p99 (the median over the rounds), the best round's
requests/s and events/s (on a machine shared with other work, the least disturbed round), and
each checked scenario as a ratio of its baseline: the median (and range) of the per-round
ratios, each round running a baseline just before its checked twin. See bench/README.md.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy.pools import WEB_WORKER_CLASS  # noqa: E402 (production's worker)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/uf_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"
BATCH_SIZE = 100
ALLOWED_NAMES = [f"event_{n:02d}" for n in range(49)] + ["page_view"]

# Every request is new to the server: each event carries the request's own serial (the wrk
# run, the thread and a count) in its properties and anonymousId, so content deduplication
# stores every one instead of skipping a repeat. The body is split at the marker once; a request
# joins the parts around its serial.
SERIAL_MARKER = "@@SERIAL@@"
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{auth}
local template = [==[{body}]==]
local threads = 0
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end
function init(args)
  run = args[1] or "0"
  parts = {{}}
  local start = 1
  while true do
    local first, last = string.find(template, "{marker}", start, true)
    if not first then break end
    parts[#parts + 1] = string.sub(template, start, first - 1)
    start = last + 1
  end
  parts[#parts + 1] = string.sub(template, start)
  serial = 0
end
function request()
  serial = serial + 1
  local body = table.concat(parts, run .. "-" .. tostring(thread_id) .. "-" .. tostring(serial))
  return wrk.format(nil, nil, nil, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {{\\"requests\\": %d, \\"duration_us\\": %d, \\"non2xx\\": %d, "
    .. "\\"socket_errors\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d}}\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _event(name: str, n: int) -> dict:
    """A realistic browser event, as `@userflux/browser-js` sends it (about 1 KB)."""
    return {
        "timestamp": int(time.time() * 1000),
        "userId": None,
        # A new visitor per request: every batch makes an anonymous profile (the dearer case
        # of profiles from events; a returning visitor only moves lastSeenAt).
        "anonymousId": f"visitor-{SERIAL_MARKER}",
        "name": name,
        "properties": {
            "serial": SERIAL_MARKER,
            "sessionId": "5d1c3e8a-41f2-4b1e-9f63-0c2a7d9e8b14",
            "host": "shop.example.com",
            "href": f"https://shop.example.com/products/{n}?utm_source=news&utm_campaign=spring",
            "path": f"/products/{n}",
            "pageTitle": "Products – Example Shop",
            "referrerHref": "https://www.google.com/",
            "referrerHost": "www.google.com",
            "utmSource": "news",
            "utmMedium": None,
            "utmCampaign": "spring",
            "utmTerm": None,
            "utmContent": None,
        },
        "deviceData": {
            "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "browser": "Chrome",
            "browserVersion": "120",
            "deviceType": "Desktop",
            "os": "Windows",
            "screenWidth": 1920,
            "screenHeight": 1080,
            "browserWidth": 1280,
            "browserHeight": 720,
        },
    }


def _wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("Installing wrk from Debian's packages…", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is needed: apt-get install wrk")
    return found


def _database_create(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def _prepare(env: dict) -> str:
    """Migrate the bench database and make the workspace and key; returns the key's secret."""
    script = f"""
import django, json
django.setup()
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from apikeys import services
from core.actors import SYSTEM
from apikeys.provisioning import workspace_provision
call_command("migrate", verbosity=0)
cache.delete_pattern("*") if hasattr(cache, "delete_pattern") else cache.clear()
created = workspace_provision(name="Bench", slug="bench", by=SYSTEM)
key = created.keys["writeOnly"].key
for n in range(49):
    services.ip_rule_add(key=key, network=f"198.51.{{n}}.0/24", by=SYSTEM)
services.ip_rule_add(key=key, network="127.0.0.1", by=SYSTEM)
services.api_key_set_access_mode(key=key, mode="specific", by=SYSTEM)
services.api_key_set_allowed_events(key=key, mode="specific", names={ALLOWED_NAMES!r}, by=SYSTEM)
print("SECRET", created.secrets()["writeOnly"])
"""
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(result.stderr)
    return next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("SECRET"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gunicorn(
    env: dict, port: int, workers: int, log, worker_class: str = WEB_WORKER_CLASS
) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", worker_class, "--backlog", "2048",
        "--chdir", str(ROOT), "userflux_site.wsgi:application",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    sys.exit("gunicorn did not start in time")


def _run(wrk: str, url: str, script: Path, duration: int, connections: int) -> dict:
    command = [
        wrk, "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--timeout", "10s",
        "-s", str(script), url, "--", str(time.time_ns()),
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    line = next((x for x in output.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        sys.exit(f"wrk gave no result:\n{output.stdout}\n{output.stderr}")
    result = json.loads(line[len("RESULT ") :])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def _events_stored(env: dict) -> int:
    script = (
        "import django; django.setup(); from ingest.models import Event; "
        "print(Event.objects.count())"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    return int(result.stdout.strip() or 0)


def server_env(*, database_url: str, redis_url: str) -> dict[str, str]:
    """The environment of the benchmarked server: production settings plus the baselines."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per run (max 60)")
    parser.add_argument("--rounds", type=int, default=8, help="rounds of the four runs (max 20)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--worker-class",
        default=WEB_WORKER_CLASS,
        help="gunicorn's worker class (default: production's web pool; `sync` is gunicorn's own)",
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    args = parser.parse_args()
    duration, rounds = min(args.duration, 60), min(args.rounds, 20)

    wrk = _wrk()
    env = server_env(database_url=args.database_url, redis_url=args.redis_url)
    print(f"Preparing {args.database_url} …", flush=True)
    _database_create(args.database_url)
    secret = _prepare(env)

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    single = json.dumps(_event("page_view", 1))
    batch = json.dumps({"events": [_event(ALLOWED_NAMES[n % 50], n) for n in range(BATCH_SIZE)]})
    scenarios = [
        ("baseline-single", "/_bench/baseline/event", single, None, 1),
        ("single", "/event/ingest", single, secret, 1),
        ("baseline-batch", "/_bench/baseline/batch", batch, None, BATCH_SIZE),
        ("batch", "/event/ingest/batch", batch, secret, BATCH_SIZE),
    ]
    results: dict[str, list[dict]] = {name: [] for name, *_ in scenarios}
    with tempfile.TemporaryDirectory() as folder, open(Path(folder) / "gunicorn.log", "w+b") as log:
        scripts = {}
        for name, _, body, key, _ in scenarios:
            auth = f'wrk.headers["Authorization"] = "Bearer {key}"' if key else ""
            scripts[name] = Path(folder) / f"{name}.lua"
            scripts[name].write_text(LUA.format(auth=auth, body=body, marker=SERIAL_MARKER))
        server = _gunicorn(env, port, args.workers, log, args.worker_class)
        try:
            print(
                f"gunicorn: {args.workers} workers ({args.worker_class}) on {base}; wrk: "
                f"{args.connections} "
                f"connections, {duration} s per run, {rounds} rounds",
                flush=True,
            )
            for name, path, *_ in scenarios:  # warm up every worker and cache
                _run(wrk, base + path, scripts[name], 2, args.connections)
            stored_before = _events_stored(env)
            expected = 0
            for round_ in range(rounds):
                # Each baseline runs next to its checked twin, first in even rounds and second
                # in odd ones, so that neither side always meets the later (larger) table.
                order = scenarios if round_ % 2 == 0 else [scenarios[i] for i in (1, 0, 3, 2)]
                for name, path, _, _, events in order:
                    result = _run(wrk, base + path, scripts[name], duration, args.connections)
                    results[name].append(result)
                    expected += (result["requests"] - result["non2xx"]) * events
                    print(
                        f"  round {round_ + 1} {name:16} {result['rps']:9.1f} req/s"
                        f"  non-2xx {result['non2xx']}  socket errors {result['socket_errors']}",
                        flush=True,
                    )
            stored = _events_stored(env) - stored_before
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        log.seek(0)
        errors = [
            line for line in log.read().decode(errors="replace").splitlines() if "Error" in line
        ]

    print()
    print(
        f"{'scenario':16} {'req/s':>8} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'best req/s':>10} {'best ev/s':>9}  ratio (paired rounds: median, range)"
    )
    summary = {}
    for name, _, _, _, events in scenarios:
        runs = results[name]
        summary[name] = {
            "rps": statistics.median(r["rps"] for r in runs),
            "events_per_s": statistics.median(r["rps"] for r in runs) * events,
            "p50_ms": statistics.median(r["p50_us"] for r in runs) / 1000,
            "p99_ms": statistics.median(r["p99_us"] for r in runs) / 1000,
            "best_rps": max(r["rps"] for r in runs),
            "best_events_per_s": max(r["rps"] for r in runs) * events,
            "non2xx": sum(r["non2xx"] for r in runs),
        }
        baseline = results.get(f"baseline-{name}")
        if baseline:
            # Each round runs the baseline next to its checked twin: comparing within a round
            # cancels most of the drift in what else the machine is doing.
            ratios = [r["rps"] / b["rps"] for r, b in zip(runs, baseline, strict=True)]
            summary[name]["ratio"] = statistics.median(ratios)
            summary[name]["ratio_range"] = [min(ratios), max(ratios)]
    for name, *_ in scenarios:
        row = summary[name]
        ratio = (
            f"{row['ratio']:6.1%} ({row['ratio_range'][0]:.0%} to {row['ratio_range'][1]:.0%})"
            if "ratio" in row
            else "     -"
        )
        print(
            f"{name:16} {row['rps']:8.1f} {row['events_per_s']:9.0f} {row['p50_ms']:7.2f} "
            f"{row['p99_ms']:7.2f} {row['best_rps']:10.1f} {row['best_events_per_s']:9.0f}  {ratio}"
        )
    print()
    print(f"events stored during the measured runs: {stored:,} (expected {expected:,})")
    if errors:
        print(f"gunicorn logged {len(errors)} error lines; first: {errors[0]}")
    print("JSON " + json.dumps(summary))


if __name__ == "__main__":
    main()
