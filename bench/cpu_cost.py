"""CPU per request of the four benchmark scenarios, measured in one process: robust to noise.

    .venv/bin/python bench/cpu_cost.py [--requests 1000]

Run after `bench/ingest_bench.py`, whose database (and workspace and key) it reuses. It calls
the site's WSGI application directly, with the same bodies and production settings, and counts
this process's CPU time (`time.process_time`), which other work on the machine barely changes,
unlike throughput. The database's own CPU is not in it: that is the same for a baseline and its
checked twin, which write the same rows with the same statement.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest_bench import (  # noqa: E402
    ALLOWED_NAMES,
    BATCH_SIZE,
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    SERIAL_MARKER,
    _event,
    server_env,
)

SERIAL_BYTES = SERIAL_MARKER.encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="single-event requests a run")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    # The benchmarked server's own environment (production settings), in this process.
    os.environ.update(
        server_env(
            database_url=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
            redis_url=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        )
    )
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    from apikeys import services
    from apikeys.models import ApiKey
    from core.actors import SYSTEM

    key = ApiKey.objects.get(workspace__slug="bench", kind=ApiKey.Kind.WRITE_ONLY)
    secret = services.api_key_roll(key=key, grace="24h", by=SYSTEM)
    application = WSGIHandler()
    single = json.dumps(_event("page_view", 1)).encode()
    batch = json.dumps(
        {"events": [_event(ALLOWED_NAMES[n % 50], n) for n in range(BATCH_SIZE)]}
    ).encode()

    serials = itertools.count()

    def call(path: str, body: bytes, key: str | None) -> None:
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
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }
        if key:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        status = []
        b"".join(application(environ, lambda line, headers: status.append(line)))
        if not status[0].startswith("204"):
            sys.exit(f"{path} answered {status[0]}")

    scenarios = [
        ("baseline-single", "/_bench/baseline/event", single, None, args.requests),
        ("single", "/event/ingest", single, secret, args.requests),
        ("baseline-batch", "/_bench/baseline/batch", batch, None, args.requests // 20),
        ("batch", "/event/ingest/batch", batch, secret, args.requests // 20),
    ]
    cpu: dict[str, list[float]] = {name: [] for name, *_ in scenarios}
    for _name, path, body, key, _ in scenarios:  # warm up
        for _ in range(20):
            call(path, body, key)
    for _ in range(args.rounds):
        for name, path, body, key, count in scenarios:
            start = time.process_time()
            for _ in range(count):
                call(path, body, key)
            cpu[name].append((time.process_time() - start) / count * 1000)
    print(f"{'scenario':16} {'CPU ms/request':>15}  (median of {args.rounds} rounds)")
    for name, *_ in scenarios:
        median = statistics.median(cpu[name])
        baseline = cpu.get(f"baseline-{name}")
        extra = ""
        if baseline:
            extra = f"  checks cost {median - statistics.median(baseline):+.3f} ms"
        print(f"{name:16} {median:15.3f}{extra}")


if __name__ == "__main__":
    main()
