"""What deduplication and profiles from events cost per batch, measured in the database.

    .venv/bin/python bench/store_cost.py [--batches 200] [--rounds 5]

Run after `bench/ingest_bench.py`, whose database and workspace it reuses. It runs the one
statement that stores a batch (`ingest.eventstore.pg_statement`) in four forms, alternating
batch by batch so that drift hits all alike, on batches of 100 browser events (~1 KB each) of a
new visitor, and reports the median and the minimum milliseconds per batch:

    plain      the events and the catalogue only (neither feature)
    dedup      plus the dedup key and ON CONFLICT DO NOTHING against the unique index
    profiles   plus the profiles the events make or move
    full       both: what the site runs
    resend     the full statement on batches already stored (a re-sent batch: all conflicts)

Each batch is its own transaction on one connection, as a request is.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest_bench import (  # noqa: E402
    BATCH_SIZE,
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    SERIAL_MARKER,
    _event,
    server_env,
)

VARIANTS = {
    "plain": {"dedup": False, "profiles": False},
    "dedup": {"dedup": True, "profiles": False},
    "profiles": {"dedup": False, "profiles": True},
    "full": {"dedup": True, "profiles": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=200, help="batches per variant a round")
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
    from django.utils import timezone

    from ingest import eventstore, parsing
    from workspaces.models import Workspace

    workspace_id = Workspace.objects.get(slug="bench").id
    template = json.dumps([_event(f"event_{n % 50:02d}", n) for n in range(BATCH_SIZE)])
    statements = {name: eventstore.pg_statement(**flags) for name, flags in VARIANTS.items()}
    now_ms = time.time() * 1000
    serial = int(time.time())

    def batch() -> list:
        nonlocal serial
        serial += 1
        raws = json.loads(template.replace(SERIAL_MARKER, f"store-{serial}"))
        return [parsing.event_parse(raw, index, now_ms) for index, raw in enumerate(raws)]

    def timed(statement: str, events: list) -> float:
        params = eventstore.pg_params(
            workspace_id=workspace_id,
            key_id=None,
            events=events,
            received_at=timezone.now(),
            location=None,
        )
        started = time.perf_counter()
        with eventstore.prepared_cursor() as cursor:
            cursor.execute(statement, params)
        return (time.perf_counter() - started) * 1000

    # Variants alternate batch by batch, so that whatever else loads the machine hits all alike;
    # the median and the minimum (the least disturbed batch) are both reported.
    times: dict[str, list[float]] = {name: [] for name in [*VARIANTS, "resend"]}
    for round_ in range(args.rounds):
        for _ in range(args.batches):
            for name, statement in statements.items():
                events = batch()
                times[name].append(timed(statement, events))
                if name == "full":
                    times["resend"].append(timed(statement, events))
        print(f"  round {round_ + 1} done", flush=True)

    summary = {
        name: {"median_ms": statistics.median(values), "min_ms": min(values)}
        for name, values in times.items()
    }
    plain = summary["plain"]
    print()
    print(f"{'variant':10} {'median ms':>9} {'vs plain':>9} {'min ms':>8} {'vs plain':>9}")
    for name, row in summary.items():
        print(
            f"{name:10} {row['median_ms']:9.2f} {row['median_ms'] - plain['median_ms']:+9.2f}"
            f" {row['min_ms']:8.2f} {row['min_ms'] - plain['min_ms']:+9.2f}"
        )
    print(f"(batches of {BATCH_SIZE} events, {len(times['plain'])} batches per variant)")
    print("JSON " + json.dumps(summary))


if __name__ == "__main__":
    main()
