"""CPU per ingestion request with key usage recorded and not, in one process: robust to noise.

    .venv/bin/python bench/usage_cpu.py [--requests 2000] [--rounds 7]

Prepares its own database as `bench/ingest_bench.py` does, then calls the site's WSGI
application directly (production settings, the same bodies as the benchmarks) and counts this
process's CPU time (`time.process_time`), which other work on the machine barely changes. Each
round runs the single-event and the 100-event batch endpoint with `USAGE_RECORDING` off, then on
(the setting is read at call time). Every "on" run ends with a `usage_flush()`, counted in its
time: one flush per run of about a second over-counts the flush's share ten times or more against
production's one every 10 s. The database's own CPU is not in it.
"""

import argparse
import io
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest_bench import (
    ALLOWED_NAMES,
    BATCH_SIZE,
    SERIAL_MARKER,
    _database_create,
    _event,
    _prepare,
    server_env,
)
from bench.usage_bench import DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL

SERIAL_BYTES = SERIAL_MARKER.encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="single-event requests a run")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    args = parser.parse_args()
    env = server_env(database_url=args.database_url, redis_url=args.redis_url)
    _database_create(args.database_url)
    secret = _prepare(env)
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    from apikeys.usage import usage_flush

    application = WSGIHandler()
    single = json.dumps(_event("page_view", 1)).encode()
    batch = json.dumps(
        {"events": [_event(ALLOWED_NAMES[n % 50], n) for n in range(BATCH_SIZE)]}
    ).encode()

    serials = itertools.count()

    def call(path: str, body: bytes) -> None:
        # A serial per request, as ingest_bench's wrk script sends: deduplication would
        # otherwise store only the first of identical bodies and make the rest cheaper.
        body = body.replace(SERIAL_BYTES, str(next(serials)).encode())
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": f"Bearer {secret}",
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }
        status = []
        response = application(environ, lambda line, headers: status.append(line))
        b"".join(response)
        response.close()  # request_finished, as a server sends it
        if not status[0].startswith("204"):
            sys.exit(f"{path} answered {status[0]}")

    settings.USAGE_FLUSH_SECONDS = 3600  # flushes are counted explicitly, once a run
    scenarios = [
        ("single", "/event/ingest", single, args.requests),
        ("batch", "/event/ingest/batch", batch, max(1, args.requests // 20)),
    ]
    cpu: dict[str, list[float]] = {
        f"{name}-{m}": [] for name, *_ in scenarios for m in ("off", "on")
    }
    for _name, path, body, _ in scenarios:  # warm up
        for _ in range(20):
            call(path, body)
    usage_flush()
    for _ in range(args.rounds):
        for name, path, body, count in scenarios:
            for mode in ("off", "on"):
                settings.USAGE_RECORDING = mode == "on"
                start = time.process_time()
                for _ in range(count):
                    call(path, body)
                if mode == "on":
                    usage_flush()
                cpu[f"{name}-{mode}"].append((time.process_time() - start) / count * 1000)
    recording = _recording_alone(
        secret=secret, names=[ALLOWED_NAMES[n % 50] for n in range(BATCH_SIZE)]
    )
    print(f"load average: {os.getloadavg()[0]:.2f}")
    for what, micros in recording.items():
        print(f"{what}: {micros:.2f} µs")
    print(f"{'scenario':10} {'off ms/req':>10} {'on ms/req':>10} {'on/off':>7}  (median of rounds)")
    for name, *_ in scenarios:
        off, on = statistics.median(cpu[f"{name}-off"]), statistics.median(cpu[f"{name}-on"])
        ratios = [a / b for a, b in zip(cpu[f"{name}-on"], cpu[f"{name}-off"], strict=True)]
        print(
            f"{name:10} {off:10.3f} {on:10.3f} {statistics.median(ratios):7.1%}"
            f"  (range {min(ratios):.1%} to {max(ratios):.1%}; +{on - off:.3f} ms)"
        )


def _recording_alone(*, secret: str, names: list[str], count: int = 20_000) -> dict[str, float]:
    """The recording functions alone, in µs per call (what a request pays, flush aside)."""
    from ipaddress import ip_address

    from django.conf import settings

    from apikeys import crypto, keycache, usage

    settings.USAGE_RECORDING = True
    snapshot = keycache.snapshot_for_hash(crypto.secret_hash(secret))
    address = ip_address("127.0.0.1")
    cases = [
        ("usage_record_call, one call", count, lambda: usage.usage_record_call(
            snapshot=snapshot, address=address)),
        (f"usage_record_events, {len(names)} names", count // 20, lambda: usage.usage_record_events(
            snapshot=snapshot, accepted=names)),
    ]  # fmt: skip
    timings = {}
    for label, repeat, function in cases:
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(repeat):
                function()
            runs.append((time.perf_counter() - start) / repeat)
        timings[label] = min(runs) * 1e6
    start = time.perf_counter()
    usage.usage_flush()
    timings["usage_flush of the counts above (wall time, database included)"] = (
        time.perf_counter() - start
    ) * 1e6
    return timings


if __name__ == "__main__":
    main()
