"""The key check's memory: a per-process cache of key snapshots, bounded in staleness twice.

The hot path must not touch the database or the network on every request, yet a change made
through any process must hold everywhere quickly. Two mechanisms do that, one fast and one sure:

- The fast path: at most every `KEY_CACHE_REFRESH_SECONDS` a process reads one shared
  generation token from the shared cache (Redis in production). Every committed change writes a
  new token; a process that sees a token other than its own drops every snapshot. With Redis
  healthy a change holds everywhere within about half a second.
- The hard bound, independent of Redis: every key has a `version`, bumped in the same
  transaction as each change to it. A process re-validates a key's snapshot against the
  database (one primary-key read of `version`) once it is `KEY_CACHE_MAX_STALENESS_SECONDS`
  old, per key and not per request. So whether Redis is down, hung, flushed, restored from an
  old dump or not configured at all, no process uses a snapshot older than the bound.

A load racing a commit never stores an outdated snapshot as current: every drop bumps a local
epoch, and a snapshot (or a re-validation) read during an epoch that has since ended is used
for the one call that read it and never stored. Times are taken before the read, so a snapshot
is never considered fresher than the database moment it reflects.
"""

import contextlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apikeys import lifecycle
from apikeys.models import ApiKey, KeySecret
from core import networks

GENERATION_KEY = "apikeys:generation"
MAX_ENTRIES = 10_000
LAST_USED_INTERVAL_SECONDS = 60


@dataclass(frozen=True, slots=True)
class KeySnapshot:
    """Everything the key check needs about one secret and its key, loaded in one go."""

    key_id: int
    version: int
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
        # secret hash -> (snapshot or None for an unknown hash, monotonic time before its read)
        self.entries: dict[str, tuple[KeySnapshot | None, float]] = {}
        # key id -> (version, monotonic time before the read that saw it)
        self.versions: dict[int, tuple[int, float]] = {}
        self.epoch = 0
        self.generation: object = None
        self.checked_at = float("-inf")
        self.last_used: dict[int, float] = {}

    def drop(self) -> None:
        """Forget every snapshot; call with the lock held."""
        self.entries.clear()
        self.versions.clear()
        self.epoch += 1


_local = _LocalState()
_UNREACHABLE = object()  # the generation while the shared cache cannot be read


def _snapshot_load(secret_hash: str) -> KeySnapshot | None:
    secret = (
        KeySecret.objects.select_related("key")
        .filter(hash=secret_hash)
        .only(
            "role",
            "retires_at",
            "key__id",
            "key__version",
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
        version=key.version,
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
    """Compare the shared generation token with this process's, at most once per refresh."""
    now = time.monotonic()
    if now - _local.checked_at < settings.KEY_CACHE_REFRESH_SECONDS:
        return
    _local.checked_at = now
    try:
        generation = cache.get(GENERATION_KEY)
        if generation is None:  # flushed, or never set: start a new one
            cache.add(GENERATION_KEY, secrets.token_hex(8), timeout=None)
            generation = cache.get(GENERATION_KEY)
    except Exception:
        # Unreachable: keep the snapshots, whose age the database bound limits, and remember
        # that changes may have been missed, so whatever the cache holds when it is back
        # (even an old dump holding this very token) makes this process start over.
        generation = _UNREACHABLE
    with _local.lock:
        if generation is _UNREACHABLE:
            _local.generation = _UNREACHABLE
        elif generation is None or generation != _local.generation:
            _local.drop()
            _local.generation = generation


def _fresh(snapshot: KeySnapshot | None, read_at: float, now: float, bound: float) -> bool:
    if snapshot is None:
        return now - read_at < bound
    known = _local.versions.get(snapshot.key_id)
    return known is not None and known[0] == snapshot.version and now - known[1] < bound


def _revalidate(snapshot: KeySnapshot) -> bool:
    """Whether the database still holds this snapshot's version of its key (one indexed read)."""
    epoch, started = _local.epoch, time.monotonic()
    found = list(ApiKey.objects.filter(pk=snapshot.key_id).values_list("version", flat=True))
    if not found:
        return False  # the key is gone (its workspace was deleted)
    version = found[0]
    with _local.lock:
        known = _local.versions.get(snapshot.key_id)
        if epoch == _local.epoch and (known is None or known[0] <= version):
            _local.versions[snapshot.key_id] = (version, started)
    return version == snapshot.version


def _load(secret_hash: str) -> KeySnapshot | None:
    """Read a snapshot and store it, unless a drop happened while it was being read."""
    epoch, started = _local.epoch, time.monotonic()
    snapshot = _snapshot_load(secret_hash)
    _loaded(secret_hash, snapshot, epoch, started)
    return snapshot


def _loaded(secret_hash: str, snapshot: KeySnapshot | None, epoch: int, started: float) -> None:
    with _local.lock:
        if epoch != _local.epoch:
            return  # a change committed meanwhile: this read may predate it
        if snapshot is not None:
            known = _local.versions.get(snapshot.key_id)
            if known is not None and known[0] > snapshot.version:
                return  # another thread already saw a newer version of this key
            _local.versions[snapshot.key_id] = (snapshot.version, started)
        if len(_local.entries) >= MAX_ENTRIES:
            _local.drop()
            return
        _local.entries[secret_hash] = (snapshot, started)


def snapshot_for_hash(secret_hash: str) -> KeySnapshot | None:
    """The snapshot of the key that owns this secret hash, or None when no key does."""
    _sync()
    entry = _local.entries.get(secret_hash)
    if entry is not None:
        snapshot, read_at = entry
        bound = settings.KEY_CACHE_MAX_STALENESS_SECONDS
        if _fresh(snapshot, read_at, time.monotonic(), bound):
            return snapshot
        if snapshot is not None and _revalidate(snapshot):
            return snapshot
    return _load(secret_hash)


def key_config_changed() -> None:
    """Make every process forget what it knows of keys; call once the change is committed."""
    with _local.lock:
        _local.drop()
        _local.checked_at = float("-inf")
    # When the cache is unreachable, the database bound makes the change hold everywhere.
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
