"""The per-process key cache: warm hits cost nothing, and another process's change is seen."""

import contextlib
import time
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.models import F
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


def test_a_change_from_another_process_is_seen_within_the_refresh(created, settings):
    """Another process is simulated by writing the database and the shared token directly."""
    settings.KEY_CACHE_REFRESH_SECONDS = 0.05
    settings.KEY_CACHE_MAX_STALENESS_SECONDS = 3600  # only the shared token can tell here
    secret_hash = _hash(created)
    assert keycache.snapshot_for_hash(secret_hash).revoked_at is None

    # What another process's revoke does: the row changes, then the shared token.
    ApiKey.objects.filter(secrets__hash=secret_hash).update(revoked_at="2026-01-01T00:00:00Z")
    assert keycache.snapshot_for_hash(secret_hash).revoked_at is None  # still fresh here
    cache.set(keycache.GENERATION_KEY, "changed-elsewhere", timeout=None)
    time.sleep(0.06)
    assert keycache.snapshot_for_hash(secret_hash).revoked_at is not None


def _revoke_elsewhere(secret_hash: str) -> None:
    """What another process's revoke leaves in the database when its signal is lost."""
    ApiKey.objects.filter(secrets__hash=secret_hash).update(
        revoked_at="2026-01-01T00:00:00Z", version=F("version") + 1
    )


def test_without_any_signal_the_database_bound_holds(created, settings):
    """The shared token never changes (Redis lost the signal): the version read still does."""
    settings.KEY_CACHE_REFRESH_SECONDS = 0
    settings.KEY_CACHE_MAX_STALENESS_SECONDS = 0.2
    secret_hash = _hash(created)
    assert keycache.snapshot_for_hash(secret_hash).revoked_at is None
    _revoke_elsewhere(secret_hash)
    assert keycache.snapshot_for_hash(secret_hash).revoked_at is None  # within the bound
    time.sleep(0.25)
    assert keycache.snapshot_for_hash(secret_hash).revoked_at is not None


def test_revalidation_is_one_version_read_per_key_per_bound(created, settings):
    settings.KEY_CACHE_MAX_STALENESS_SECONDS = 0.2
    secrets_ = created.secrets()
    hashes = [
        crypto.secret_hash(secrets_[name]) for name in ("metricsApiKey", "metricsClientSecret")
    ]
    for secret_hash in hashes:
        keycache.snapshot_for_hash(secret_hash)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(50):
            for secret_hash in hashes:
                keycache.snapshot_for_hash(secret_hash)
    assert len(queries) == 0
    time.sleep(0.25)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(50):
            for secret_hash in hashes:  # two secrets of one key: one read for both
                assert keycache.snapshot_for_hash(secret_hash) is not None
    assert len(queries) == 1
    assert '"version"' in queries[0]["sql"] and "apikeys_keysecret" not in queries[0]["sql"]


def test_an_unreachable_shared_cache_keeps_snapshots_only_within_the_bound(created, settings):
    settings.KEY_CACHE_REFRESH_SECONDS = 0
    settings.KEY_CACHE_MAX_STALENESS_SECONDS = 0.2
    secret_hash = _hash(created)
    keycache.snapshot_for_hash(secret_hash)
    with _cache_down():
        with CaptureQueriesContext(connection) as queries:
            assert keycache.snapshot_for_hash(secret_hash).revoked_at is None
        assert len(queries) == 0  # no reload storm while Redis is away
        _revoke_elsewhere(secret_hash)
        time.sleep(0.25)
        assert keycache.snapshot_for_hash(secret_hash).revoked_at is not None


def test_a_cache_back_with_old_data_makes_the_process_start_over(created, settings):
    """Redis restored from a dump holding this process's own token: it must not vouch."""
    settings.KEY_CACHE_REFRESH_SECONDS = 0
    settings.KEY_CACHE_MAX_STALENESS_SECONDS = 3600  # only the shared token can tell here
    secret_hash = _hash(created)
    keycache.snapshot_for_hash(secret_hash)
    old_token = cache.get(keycache.GENERATION_KEY)
    with _cache_down():
        keycache.snapshot_for_hash(secret_hash)  # the process notices the outage
        _revoke_elsewhere(secret_hash)
    assert cache.get(keycache.GENERATION_KEY) == old_token
    assert keycache.snapshot_for_hash(secret_hash).revoked_at is not None


@contextlib.contextmanager
def _cache_down():
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    with (
        mock.patch.object(keycache.cache, "get", down),
        mock.patch.object(keycache.cache, "add", down),
    ):
        yield


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
