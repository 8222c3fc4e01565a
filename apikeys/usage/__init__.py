"""Usage of keys, recorded off the hot path: counted in memory, flushed by upserts that add.

Every process adds its calls up in a small in-memory accumulator (`recording`): a dictionary
update under a lock per call, no I/O. At most every `USAGE_FLUSH_SECONDS` (10 s by default) the
request that crosses the interval writes the accumulated counts once the response has been sent
(Django's `request_finished`), and at shutdown (`atexit`; a gunicorn `worker_exit` hook may call
`usage_flush` too). The flush (`flush`) merges with what other processes wrote by adding counts
(`INSERT … ON CONFLICT DO UPDATE SET n = n + EXCLUDED.n`), keeps the busiest addresses and event
names per key and day, and prunes rows older than `USAGE_RETENTION_DAYS` about once an hour.

Reads are in `apikeys.usage_selectors`.
"""

from apikeys.usage.recording import (
    usage_flush,
    usage_flush_if_due,
    usage_note_would_refuse,
    usage_record_call,
    usage_record_events,
    usage_record_response,
    usage_record_secret,
    usage_reset,
)

__all__ = [
    "usage_flush",
    "usage_flush_if_due",
    "usage_note_would_refuse",
    "usage_record_call",
    "usage_record_events",
    "usage_record_response",
    "usage_record_secret",
    "usage_reset",
]
