"""The log of rejected API calls for admins: sampled, so a flood of refusals is no flood of writes.

At most one row is written per (key, or address when the key is unknown) and reason and minute,
across all processes (`cache.add` decides which process writes it). Within a process, repeats in
the same minute cost no I/O at all: they are only counted, and the count is carried into the next
row that process writes for them, so `count` is a lower bound of the refusals, not an exact tally.
Each process also writes at most `MAX_ROWS_PER_MINUTE` rows a minute, whatever the number of
distinct addresses (an IPv6 attacker has many). No row holds a header, and paths pass through
the secret redactor.

The rows are stored by the app that owns the table (`apikeys`): it registers its writer with
`rejection_writer_set` when Django starts, so this module knows no model.
"""

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.core.cache import cache
from django.db import DatabaseError
from django.utils import timezone

from core.limiter import address_bucket
from core.networks import IPAddress
from core.redaction import redact

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
MAX_ROWS_PER_MINUTE = 120
MAX_TRACKED = 10_000


class RefusedKey(Protocol):
    """The key a refused call named, when it is known (a key snapshot is one)."""

    key_id: int
    workspace_id: int


@dataclass(frozen=True)
class RejectedRow:
    """One sampled refusal, as the writer stores it."""

    workspace_id: int | None
    key_id: int | None
    client_ip: str | None
    reason: str
    method: str
    path: str
    count: int
    created_at: datetime
    event_name: str = ""  # the event refused, when one event of a call was


_writer: list[Callable[[RejectedRow], object]] = []


def rejection_writer_set(writer: Callable[[RejectedRow], object]) -> None:
    """Register what stores a sampled refusal (the owner of the table does, at start-up)."""
    _writer[:] = [writer]


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.window = -1
        self.seen: dict[tuple[str, str], int] = {}  # this minute: bucket -> repeats not written
        self.carried: dict[tuple[str, str], int] = {}  # last minute's unwritten repeats
        self.written = 0
        self.warned = False


_state = _State()


def rejections_reset() -> None:
    """Forget what this process has sampled (for tests)."""
    global _state
    _state = _State()


def _claim(bucket: tuple[str, str], window: int) -> int | None:
    """How many earlier repeats the row to write should count, or None when no row is due."""
    with _state.lock:
        if _state.window != window:
            _state.carried = _state.seen if _state.window == window - 1 else {}
            _state.seen, _state.written, _state.window = {}, 0, window
            _state.warned = False
        if bucket in _state.seen:
            _state.seen[bucket] += 1
            return None
        if len(_state.seen) >= MAX_TRACKED:
            return None
        _state.seen[bucket] = 0
        if _state.written >= MAX_ROWS_PER_MINUTE:
            if not _state.warned:
                _state.warned = True
                logger.warning("Rejected calls are arriving too fast to log; sampling harder.")
            return None
        _state.written += 1
        return _state.carried.pop(bucket, 0)


def rejection_record(
    *,
    reason: str,
    address: IPAddress | None,
    snapshot: RefusedKey | None,
    method: str,
    path: str,
    event_name: str | None = None,
) -> None:
    """Note that a call was refused, when this minute's sample for its key and reason is due.

    A refused event (`event_name`: a batch is judged event by event) is sampled per name too,
    so that each name a key may not send shows in the list.
    """
    who = f"key:{snapshot.key_id}" if snapshot is not None else f"addr:{address_bucket(address)}"
    event_name = redact(event_name)[:200] if event_name else ""
    if event_name:
        reason_of_bucket = f"{reason}:{hashlib.sha256(event_name.encode()).hexdigest()[:16]}"
    else:
        reason_of_bucket = reason
    bucket = (who, reason_of_bucket)
    window = int(time.time() // WINDOW_SECONDS)
    carried = _claim(bucket, window)
    if carried is None:
        return
    try:
        first = cache.add(
            f"rejected:{who}:{reason_of_bucket}:{window}", 1, timeout=2 * WINDOW_SECONDS
        )
    except Exception:
        first = True  # without the shared cache, each process samples on its own
    if not first:
        return
    if not _writer:
        logger.warning("No writer is registered for rejected calls (%s).", reason)
        return
    try:
        _writer[0](
            RejectedRow(
                workspace_id=snapshot.workspace_id if snapshot else None,
                key_id=snapshot.key_id if snapshot else None,
                client_ip=str(address) if address is not None else None,
                reason=reason[:50],
                method=method[:10],
                path=redact(path)[:200],
                count=1 + carried,
                created_at=timezone.now(),
                event_name=event_name,
            )
        )
    except DatabaseError:
        logger.warning("Could not record a rejected call (%s).", reason)
