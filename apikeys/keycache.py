"""The key check's memory: a per-process cache of key snapshots in front of the shared one.

The hot path must not touch the database or the network on every request, yet a change made
through any process must hold everywhere within a second. So each process keeps the snapshots
it has loaded, and at most every `REFRESH_SECONDS` reads one shared generation token from the
shared cache (Redis in production). Every committed change writes a new token; a process that
sees a token other than its own drops every snapshot and reloads from the database, which stays
the only source of truth. When the shared cache cannot be reached, snapshots are dropped at each
refresh: slower, never stale.
"""

import contextlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apikeys import lifecycle
from apikeys.models import ApiKey, KeySecret
from core import networks

GENERATION_KEY = "apikeys:generation"
REFRESH_SECONDS = 0.5
MAX_ENTRIES = 10_000
LAST_USED_INTERVAL_SECONDS = 60


@dataclass(frozen=True, slots=True)
class KeySnapshot:
    """Everything the key check needs about one secret and its key, loaded in one go."""

    key_id: int
    secret_id: int
    workspace_id: int
    kind: str
    role: str
    revoked_at: datetime | None
    expires_at: datetime | None
    retires_at: datetime | None
    access_mode: str
    networks: tuple[networks.IPNetwork, ...]
    events_mode: str
    allowed_events: frozenset[str]
    cache_ttl_minutes: int
    address_enforcement: str = ApiKey.Enforcement.ENFORCE
    event_enforcement: str = ApiKey.Enforcement.ENFORCE

    def refusal(self, now: datetime) -> lifecycle.Refusal | None:
        return lifecycle.secret_refusal(
            now=now,
            revoked_at=self.revoked_at,
            expires_at=self.expires_at,
            retires_at=self.retires_at,
        )

    def refused_events(self, names: list[str]) -> list[str]:
        """The names among these that this key may not send, in order, without repeats."""
        if self.events_mode == ApiKey.EventsMode.ALL:
            return []
        return list(dict.fromkeys(name for name in names if name not in self.allowed_events))


class _LocalState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, KeySnapshot | None] = {}
        self.generation: object = None
        self.checked_at = float("-inf")
        self.last_used: dict[int, float] = {}


_local = _LocalState()


def _snapshot_load(secret_hash: str) -> KeySnapshot | None:
    secret = (
        KeySecret.objects.select_related("key")
        .filter(hash=secret_hash)
        .only(
            "role",
            "retires_at",
            "key__id",
            "key__workspace_id",
            "key__kind",
            "key__revoked_at",
            "key__expires_at",
            "key__access_mode",
            "key__events_mode",
            "key__allowed_events",
            "key__cache_ttl_minutes",
            "key__address_enforcement",
            "key__event_enforcement",
        )
        .first()
    )
    if secret is None:
        return None
    key = secret.key
    rules: tuple[networks.IPNetwork, ...] = ()
    if key.access_mode == ApiKey.AccessMode.SPECIFIC:
        rules = tuple(
            networks.rule_parse(text) for text in key.ip_rules.values_list("network", flat=True)
        )
    return KeySnapshot(
        key_id=key.id,
        secret_id=secret.id,
        workspace_id=key.workspace_id,
        kind=key.kind,
        role=secret.role,
        revoked_at=key.revoked_at,
        expires_at=key.expires_at,
        retires_at=secret.retires_at,
        access_mode=key.access_mode,
        networks=rules,
        events_mode=key.events_mode,
        allowed_events=frozenset(key.allowed_events or ()),
        cache_ttl_minutes=key.cache_ttl_minutes,
        address_enforcement=key.address_enforcement,
        event_enforcement=key.event_enforcement,
    )


def _sync() -> None:
    now = time.monotonic()
    if now - _local.checked_at < REFRESH_SECONDS:
        return
    try:
        generation = cache.get(GENERATION_KEY)
        if generation is None:
            cache.add(GENERATION_KEY, secrets.token_hex(8), timeout=None)
            generation = cache.get(GENERATION_KEY)
    except Exception:
        generation = object()  # unreachable: a token equal to nothing, so nothing is kept
    with _local.lock:
        if generation is None or generation != _local.generation:
            _local.entries.clear()
            _local.generation = generation
        _local.checked_at = now


def snapshot_for_hash(secret_hash: str) -> KeySnapshot | None:
    """The snapshot of the key that owns this secret hash, or None when no key does."""
    _sync()
    try:
        return _local.entries[secret_hash]
    except KeyError:
        pass
    snapshot = _snapshot_load(secret_hash)
    with _local.lock:
        if len(_local.entries) >= MAX_ENTRIES:
            _local.entries.clear()
        _local.entries[secret_hash] = snapshot
    return snapshot


def key_config_changed() -> None:
    """Make every process forget what it knows of keys; call once the change is committed."""
    with _local.lock:
        _local.entries.clear()
        _local.checked_at = float("-inf")
    # When the cache is unreachable, other processes drop their snapshots at every refresh.
    with contextlib.suppress(Exception):
        cache.set(GENERATION_KEY, secrets.token_hex(8), timeout=None)


def key_config_changed_on_commit() -> None:
    """Schedule `key_config_changed` for when the current transaction commits."""
    transaction.on_commit(key_config_changed)


def key_used(snapshot: KeySnapshot) -> None:
    """Record that a key was used: at most one write a minute per key, across all processes."""
    now = time.monotonic()
    last = _local.last_used.get(snapshot.key_id)
    if last is not None and now - last < LAST_USED_INTERVAL_SECONDS:
        return
    _local.last_used[snapshot.key_id] = now
    try:
        first = cache.add(f"apikeys:used:{snapshot.key_id}", 1, timeout=LAST_USED_INTERVAL_SECONDS)
    except Exception:
        first = True
    if first:
        ApiKey.objects.filter(pk=snapshot.key_id).update(last_used_at=timezone.now())
