"""The hot path of usage: count a call or some events in memory; flush when the interval is up.

Recording costs a few dictionary updates under a lock and no I/O. `usage_flush` hands what was
counted to `apikeys.usage.flush`, which writes it; when the database cannot take it, the counts
go back into memory for the next flush (bounded, so an outage cannot grow memory without end).
"""

import atexit
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.signals import request_finished
from django.db import DatabaseError, connection

from apikeys.keycache import KeySnapshot
from apikeys.models_usage import Outcome
from apikeys.usage import flush
from apikeys.usage.pending import MAX_LISTED_NAMES, MAX_PENDING_ADDRESSES, Pending
from core.clientip import client_address
from core.networks import IPAddress

logger = logging.getLogger(__name__)

MAX_REASON_LENGTH = 50

_ACCEPTED = Outcome.ACCEPTED.value
_REFUSED = Outcome.REFUSED.value
_WOULD_REFUSE = Outcome.WOULD_REFUSE.value

_RECORDED = "_uf_usage_recorded"
_WOULD = "_uf_usage_would_refuse"


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending = Pending()
        self.flushed_at = time.monotonic()
        self.flush_lock = threading.Lock()


_state = _State()


def _enabled() -> bool:
    return getattr(settings, "USAGE_RECORDING", True)


def usage_reset() -> None:
    """Forget every count not yet flushed, and restart the interval (for tests)."""
    global _state
    _state = _State()
    flush.prune_timer_reset()
    flush.written_reset()


def usage_record_call(
    *,
    snapshot: KeySnapshot,
    address: IPAddress | None,
    reason: str | None = None,
    would_refuse: Iterable[str] = (),
) -> None:
    """Count one call of a key: accepted (reason None) or refused for `reason`.

    `would_refuse` lists what a list in monitor mode would have refused the (accepted) call
    for, e.g. "ip_not_allowed"; such a call counts as accepted and as would-refuse.
    """
    if not _enabled():
        return
    now = time.time()
    hour = int(now // 3600)
    day = hour // 24
    key_id = snapshot.key_id
    state = _state
    with state.lock:
        pending = state.pending
        hours = pending.hours
        if reason is None:
            bucket = (key_id, hour, _ACCEPTED, "")
            hours[bucket] = hours.get(bucket, 0) + 1
            for why in would_refuse:
                bucket = (key_id, hour, _WOULD_REFUSE, why[:MAX_REASON_LENGTH])
                hours[bucket] = hours.get(bucket, 0) + 1
            pending.secrets[snapshot.secret_id] = now
        else:
            bucket = (key_id, hour, _REFUSED, reason[:MAX_REASON_LENGTH])
            hours[bucket] = hours.get(bucket, 0) + 1
        # The address object itself: made text only at the flush, off the hot path.
        entry = pending.addresses.get((key_id, day, address))
        if entry is None:
            if len(pending.addresses) >= MAX_PENDING_ADDRESSES:
                return
            entry = pending.addresses[(key_id, day, address)] = [now, now, 0, 0, 0]
        entry[1] = now
        if reason is not None:
            entry[3] += 1
        else:
            entry[2] += 1
            if would_refuse:
                entry[4] += 1


def usage_record_events(
    *,
    snapshot: KeySnapshot,
    accepted: Sequence[str] = (),
    refused: Sequence[str] = (),
    would_refuse: Sequence[str] = (),
) -> None:
    """Count the event names of one call: stored ones, refused ones, and stored ones that a
    monitored event list would have refused (these are also in `accepted`). Repeats count.

    The lists are kept as they are until the next flush counts them: do not change them after.
    """
    if not _enabled():
        return
    now = time.time()
    state = _state
    with state.lock:
        pending = state.pending
        pending.event_lists.append(
            (snapshot.key_id, int(now // 86400), now, accepted, refused, would_refuse)
        )
        pending.listed_names += len(accepted) + len(refused)
        if pending.listed_names > MAX_LISTED_NAMES:
            pending.events_fold()


def usage_record_secret(secret_id: int) -> None:
    """Note that a secret was used now (for secrets used outside an API call's key check)."""
    if not _enabled():
        return
    now = time.time()
    with _state.lock:
        _state.pending.secrets[secret_id] = now


def usage_note_would_refuse(request: Any, reason: str) -> None:
    """Mark the current call as one a monitored list would have refused, for `reason`."""
    http_request = getattr(request, "_request", request)
    reasons = getattr(http_request, _WOULD, None)
    if reasons is None:
        reasons = []
        setattr(http_request, _WOULD, reasons)
    if reason not in reasons:
        reasons.append(reason)


def usage_record_response(request: Any, *, snapshot: Any = None, reason: str | None = None) -> None:
    """Count the call of this request once: refused for `reason`, or accepted when None.

    Called where an API view knows how its call ended; the key is `snapshot` or the request's
    authenticated key. A call with no known key (an unknown secret) is not any key's usage.
    """
    http_request = getattr(request, "_request", request)
    if getattr(http_request, _RECORDED, False):
        return
    if snapshot is None:
        snapshot = getattr(http_request, "auth", None)
    if not isinstance(snapshot, KeySnapshot):
        return
    setattr(http_request, _RECORDED, True)
    usage_record_call(
        snapshot=snapshot,
        address=client_address(http_request),
        reason=reason,
        would_refuse=() if reason is not None else getattr(http_request, _WOULD, ()),
    )


def _interval() -> float:
    return float(getattr(settings, "USAGE_FLUSH_SECONDS", 10))


def usage_flush() -> bool:
    """Write every count this process holds; True when they were written (or there were none).

    When the database refuses, the counts are kept for the next flush and False is returned.
    """
    state = _state
    with state.flush_lock:  # one flush at a time per process, so rows merge in order
        with state.lock:
            pending, state.pending = state.pending, Pending()
            state.flushed_at = time.monotonic()
        if not pending:
            return True
        try:
            flush.pending_write(pending)
        except DatabaseError:
            logger.warning("Could not write key usage; keeping it for the next flush.")
            with state.lock:
                pending.merge(state.pending)
                state.pending = pending
            return False
    return True


def usage_flush_if_due(**_: Any) -> None:
    """Flush when the interval is up (a `request_finished` receiver: after the response)."""
    if time.monotonic() - _state.flushed_at < _interval():
        return
    # Django closed the request's connection already when it is not kept between requests:
    # leave things as they were rather than hold one open until the next request.
    was_closed = connection.connection is None
    try:
        usage_flush()
    except Exception:  # a flush must never break the request that happens to carry it
        logger.exception("Key usage flush failed.")
    if was_closed and not connection.in_atomic_block:
        connection.close()


def _flush_at_exit() -> None:
    try:
        usage_flush()
    except Exception:
        logger.exception("Key usage flush at exit failed.")


def recording_connect() -> None:
    """Flush after requests and at exit (called once from the app's `ready`)."""
    request_finished.connect(usage_flush_if_due, dispatch_uid="apikeys.usage.flush_if_due")
    atexit.register(_flush_at_exit)
