"""The per-process key cache: warm hits cost nothing, and another process's change is seen."""

import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apikeys import crypto, keycache
from apikeys.models import ApiKey, KeySecret

pytestmark = pytest.mark.django_db


def _hash(created, name="writeOnly"):
    return crypto.secret_hash(created.secrets()[name])


def test_a_warm_snapshot_costs_no_query(created, django_assert_num_queries):
    keycache.snapshot_for_hash(_hash(created))
    with django_assert_num_queries(0):
        snapshot = keycache.snapshot_for_hash(_hash(created))
    assert snapshot.kind == ApiKey.Kind.WRITE_ONLY
    assert snapshot.workspace_id == created.workspace.pk


def test_unknown_hashes_are_none(created):
    assert keycache.snapshot_for_hash(crypto.secret_hash("nope")) is None


def test_a_change_from_another_process_is_seen_within_the_refresh(created, monkeypatch):
    """Another process is simulated by writing the database and the shared token directly."""
    monkeypatch.setattr(keycache, "REFRESH_SECONDS", 0.05)
    secret_hash = _hash(created)
    assert keycache.snapshot_for_hash(secret_hash).revoked_at is None

    # What another process's revoke does: the row changes, then the shared token.
    ApiKey.objects.filter(secrets__hash=secret_hash).update(revoked_at="2026-01-01T00:00:00Z")
    assert keycache.snapshot_for_hash(secret_hash).revoked_at is None  # still fresh here
    cache.set(keycache.GENERATION_KEY, "changed-elsewhere", timeout=None)
    time.sleep(0.06)
    assert keycache.snapshot_for_hash(secret_hash).revoked_at is not None


def test_an_unreachable_shared_cache_means_reloading_not_trusting(created, monkeypatch):
    monkeypatch.setattr(keycache, "REFRESH_SECONDS", 0)
    secret_hash = _hash(created)
    keycache.snapshot_for_hash(secret_hash)

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(keycache.cache, "get", down)
    with CaptureQueriesContext(connection) as queries:
        assert keycache.snapshot_for_hash(secret_hash) is not None
    assert len(queries) >= 1


def test_last_used_is_written_at_most_once_a_minute(created, django_assert_num_queries):
    snapshot = keycache.snapshot_for_hash(_hash(created))
    keycache._local.last_used.clear()
    with django_assert_num_queries(1):
        keycache.key_used(snapshot)
    with django_assert_num_queries(0):
        for _ in range(20):
            keycache.key_used(snapshot)
    assert ApiKey.objects.get(pk=snapshot.key_id).last_used_at is not None
    # Another process (no local memory of the write) is stopped by the shared marker.
    keycache._local.last_used.clear()
    with django_assert_num_queries(0):
        keycache.key_used(snapshot)


def test_snapshots_never_hold_a_secret(created):
    snapshot = keycache.snapshot_for_hash(_hash(created))
    for secret in created.secrets().values():
        assert secret not in repr(snapshot)
    assert not hasattr(snapshot, "hash")
    assert KeySecret.objects.filter(hash=_hash(created)).exists()
