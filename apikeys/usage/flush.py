"""Writing usage: upserts that add counts, the per-key caps, and retention.

Several processes (and hosts) flush into the same rows, so every write adds to what is there
(`INSERT … ON CONFLICT (…) DO UPDATE SET n = t.n + EXCLUDED.n`, which PostgreSQL and SQLite both
speak) and rows are written in a fixed order, so that two flushes never wait on each other in a
cycle. After the upserts, the address and event-name rows of each key and day that got rows new
to this process are cut back to the busiest `USAGE_MAX_ADDRESSES_PER_KEY_DAY` /
`USAGE_MAX_EVENT_NAMES_PER_KEY_DAY`.
"""

import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apikeys.models import ApiKey, KeySecret
from apikeys.models_usage import KeyUsageAddress, KeyUsageEvent, KeyUsageHour
from apikeys.usage.pending import Pending

logger = logging.getLogger(__name__)

CHUNK_ROWS = 500
PRUNE_EVERY_SECONDS = 3600
PRUNE_CACHE_KEY = "apikeys:usage:pruned"
EPOCH = date(1970, 1, 1)


def _moment(seconds: float) -> object:
    return connection.ops.adapt_datetimefield_value(datetime.fromtimestamp(seconds, UTC))


def _day(days: int) -> object:
    return connection.ops.adapt_datefield_value(EPOCH + timedelta(days=days))


def _greatest(a: str, b: str) -> str:
    return f"GREATEST({a}, {b})" if connection.vendor == "postgresql" else f"MAX({a}, {b})"


def _least(a: str, b: str) -> str:
    return f"LEAST({a}, {b})" if connection.vendor == "postgresql" else f"MIN({a}, {b})"


def _upsert(model, columns: Sequence[str], conflict: Sequence[str], updates: dict, rows) -> None:
    """INSERT rows, and on a conflict apply `updates` (column -> SQL over t and EXCLUDED)."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    assignments = ", ".join(f"{quote(column)} = {sql}" for column, sql in updates.items())
    rows = list(rows)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[start : start + CHUNK_ROWS]
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(map(quote, columns))}) "  # noqa: S608
                f"VALUES {', '.join([placeholders] * len(chunk))} "
                f"ON CONFLICT ({', '.join(map(quote, conflict))}) DO UPDATE SET {assignments}",
                [value for row in chunk for value in row],
            )


def _add(model, column: str) -> str:
    quote = connection.ops.quote_name
    return f"{quote(model._meta.db_table)}.{quote(column)} + EXCLUDED.{quote(column)}"


def _latest(model, column: str, *, earliest: bool = False) -> str:
    quote = connection.ops.quote_name
    ours = f"{quote(model._meta.db_table)}.{quote(column)}"
    theirs = f"EXCLUDED.{quote(column)}"
    return _least(ours, theirs) if earliest else _greatest(ours, theirs)


def _hours_write(hours: dict) -> None:
    rows = (
        (key_id, _moment(hour * 3600), outcome, reason, calls)
        for (key_id, hour, outcome, reason), calls in sorted(hours.items())
    )
    _upsert(
        KeyUsageHour,
        ["key_id", "hour", "outcome", "reason", "calls"],
        ["key_id", "hour", "outcome", "reason"],
        {"calls": _add(KeyUsageHour, "calls")},
        rows,
    )


def _addresses_write(addresses: dict) -> None:
    texts: dict[tuple[int, int, str], list] = {}
    for (key_id, day, address), entry in addresses.items():
        texts[(key_id, day, "" if address is None else str(address))] = entry
    rows = (
        (key_id, _day(day), address, _moment(first), _moment(last), *counts)
        for (key_id, day, address), (first, last, *counts) in sorted(texts.items())
    )
    model = KeyUsageAddress
    _upsert(
        model,
        [
            "key_id",
            "day",
            "address",
            "first_seen",
            "last_seen",
            "accepted",
            "refused",
            "would_refuse",
        ],
        ["key_id", "day", "address"],
        {
            "first_seen": _latest(model, "first_seen", earliest=True),
            "last_seen": _latest(model, "last_seen"),
            "accepted": _add(model, "accepted"),
            "refused": _add(model, "refused"),
            "would_refuse": _add(model, "would_refuse"),
        },
        rows,
    )


def _events_write(events: dict) -> None:
    rows = (
        (key_id, _day(day), name, accepted, refused, would, _moment(last))
        for (key_id, day, name), (accepted, refused, would, last) in sorted(events.items())
    )
    model = KeyUsageEvent
    _upsert(
        model,
        ["key_id", "day", "name", "accepted", "refused", "would_refuse", "last_seen"],
        ["key_id", "day", "name"],
        {
            "accepted": _add(model, "accepted"),
            "refused": _add(model, "refused"),
            "would_refuse": _add(model, "would_refuse"),
            "last_seen": _latest(model, "last_seen"),
        },
        rows,
    )


def _secrets_write(secrets: dict) -> None:
    quote = connection.ops.quote_name
    table = quote(KeySecret._meta.db_table)
    column = quote("last_used_at")
    with connection.cursor() as cursor:
        for secret_id, last in sorted(secrets.items()):
            moment = _moment(last)
            cursor.execute(
                f"UPDATE {table} SET {column} = %s "  # noqa: S608
                f"WHERE id = %s AND ({column} IS NULL OR {column} < %s)",
                [moment, secret_id, moment],
            )


def _cap(model, order: str, limit: int, pairs: Iterable[tuple[int, int]]) -> None:
    """Keep the `limit` busiest rows of each (key, day) among these; delete the rest."""
    by_day: dict[int, list[int]] = {}
    for key_id, day in pairs:
        by_day.setdefault(day, []).append(key_id)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    with connection.cursor() as cursor:
        for day, key_ids in sorted(by_day.items()):
            key_ids = sorted(set(key_ids))
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM ("  # noqa: S608
                f"SELECT id, ROW_NUMBER() OVER (PARTITION BY key_id ORDER BY {order}) AS n "
                f"FROM {table} WHERE day = %s AND key_id IN ({', '.join(['%s'] * len(key_ids))})"
                f") AS ranked WHERE n > %s)",
                [_day(day), *key_ids, limit],
            )


# The (key, day, address) and (key, day, name) rows this process has written before: a flush
# that adds no new row cannot push a key past its cap, so it skips the cap's query.
MAX_REMEMBERED_ROWS = 100_000
_written: dict[str, set] = {"addresses": set(), "events": set()}


def _grown(kind: str, buckets: Iterable[tuple]) -> set[tuple[int, int]]:
    """The (key, day) pairs of the buckets this process writes for the first time."""
    written = _written[kind]
    if len(written) > MAX_REMEMBERED_ROWS:
        written.clear()  # forget: the caps run once more for each key, which is harmless
    new = [bucket for bucket in buckets if bucket not in written]
    written.update(new)
    return {(key_id, day) for key_id, day, _ in new}


def written_reset() -> None:
    """Forget which rows this process wrote (for tests)."""
    for written in _written.values():
        written.clear()


def _write_all(pending: Pending) -> None:
    pending.events_fold()
    with transaction.atomic():
        _hours_write(pending.hours)
        _addresses_write(pending.addresses)
        _events_write(pending.events)
        _secrets_write(pending.secrets)
    _cap(
        KeyUsageAddress,
        "accepted + refused + would_refuse DESC, last_seen DESC, id",
        int(settings.USAGE_MAX_ADDRESSES_PER_KEY_DAY),
        _grown("addresses", pending.addresses),
    )
    _cap(
        KeyUsageEvent,
        "accepted + refused DESC, last_seen DESC, id",
        int(settings.USAGE_MAX_EVENT_NAMES_PER_KEY_DAY),
        _grown("events", pending.events),
    )


def _only_keys(pending: Pending, key_ids: set[int]) -> Pending:
    return Pending(
        hours={bucket: n for bucket, n in pending.hours.items() if bucket[0] in key_ids},
        addresses={b: e for b, e in pending.addresses.items() if b[0] in key_ids},
        events={b: e for b, e in pending.events.items() if b[0] in key_ids},
        secrets=pending.secrets,
    )


def pending_write(pending: Pending) -> None:
    """Write one batch of counts; a key deleted meanwhile loses its counts, nothing else does."""
    try:
        _write_all(pending)
    except IntegrityError:
        key_ids = {bucket[0] for bucket in [*pending.hours, *pending.addresses, *pending.events]}
        live = set(ApiKey.objects.filter(pk__in=key_ids).values_list("pk", flat=True))
        _write_all(_only_keys(pending, live))
    _prune_if_due()


def usage_prune(*, now: datetime | None = None) -> int:
    """Delete usage rows older than `USAGE_RETENTION_DAYS`; the number of rows deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=int(settings.USAGE_RETENTION_DAYS))
    deleted, _ = KeyUsageHour.objects.filter(hour__lt=cutoff).delete()
    for model in (KeyUsageAddress, KeyUsageEvent):
        count, _ = model.objects.filter(day__lt=cutoff.date()).delete()
        deleted += count
    return deleted


def _prune_if_due() -> None:
    """Prune about once an hour, by one process of all (the first to claim the hour).

    Each process asks the shared cache at most once an hour, so that a slow or hung Redis
    costs a flush nothing the rest of the time.
    """
    now = time.monotonic()
    if now - _last_prune_try[0] < PRUNE_EVERY_SECONDS:
        return
    _last_prune_try[0] = now
    try:
        due = cache.add(PRUNE_CACHE_KEY, 1, timeout=PRUNE_EVERY_SECONDS)
    except Exception:
        due = True  # without the shared cache, each process prunes on its own, hourly
    if due:
        try:
            usage_prune()
        except Exception:
            logger.exception("Pruning old key usage failed.")


_last_prune_try = [float("-inf")]


def prune_timer_reset() -> None:
    """Let the next flush try to prune at once (for tests)."""
    _last_prune_try[0] = float("-inf")
