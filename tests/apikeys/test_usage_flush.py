"""The flush: counts added to what is there, the busiest rows kept, old rows pruned."""

import runpy
from datetime import timedelta
from ipaddress import ip_address
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from apikeys import crypto, keycache, usage, usage_selectors
from apikeys.models import KeyUsageAddress, KeyUsageEvent, KeyUsageHour
from apikeys.usage import flush, recording

pytestmark = pytest.mark.django_db


@pytest.fixture
def snapshot(created):
    return keycache.snapshot_for_hash(crypto.secret_hash(created.secrets()["writeOnly"]))


@pytest.fixture
def key(created):
    return created.keys["writeOnly"].key


def _calls(snapshot, address: str, n: int, **kwargs) -> None:
    for _ in range(n):
        usage.usage_record_call(snapshot=snapshot, address=ip_address(address), **kwargs)


def test_two_flushes_add_up_rather_than_overwrite(snapshot, key):
    """What two processes (or one, twice) flush into the same rows is summed."""
    _calls(snapshot, "203.0.113.1", 3)
    usage.usage_record_events(snapshot=snapshot, accepted=["signup", "signup"])
    assert usage.usage_flush()
    usage.usage_reset()  # another process: its own memory, the same database
    _calls(snapshot, "203.0.113.1", 2)
    _calls(snapshot, "203.0.113.1", 1, reason="ip_not_allowed")
    usage.usage_record_events(snapshot=snapshot, accepted=["signup"], refused=["x"])
    assert usage.usage_flush()

    (row,) = KeyUsageAddress.objects.all()
    assert (row.accepted, row.refused) == (5, 1)
    now = usage_selectors.usage_by_hour(key=key, hours=1)[0]
    assert (now.accepted, now.refused) == (5, {"ip_not_allowed": 1})
    names = {
        row.name: (row.count, row.refused) for row in usage_selectors.usage_event_names(key=key)
    }
    assert names == {"signup": (3, 0), "x": (0, 1)}


def test_an_empty_flush_writes_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert usage.usage_flush()


def test_the_busiest_addresses_are_kept_per_key_and_day(snapshot, key, settings):
    settings.USAGE_MAX_ADDRESSES_PER_KEY_DAY = 3
    for n, calls in enumerate([5, 1, 4, 2, 3]):
        _calls(snapshot, f"203.0.113.{n}", calls)
    assert usage.usage_flush()
    kept = [row.address for row in usage_selectors.usage_addresses(key=key)]
    assert kept == ["203.0.113.0", "203.0.113.2", "203.0.113.4"]
    # Counts of the hour are exact whatever the cap.
    assert usage_selectors.usage_by_hour(key=key, hours=1)[0].accepted == 15


def test_event_names_are_capped_too(snapshot, key, settings):
    settings.USAGE_MAX_EVENT_NAMES_PER_KEY_DAY = 2
    usage.usage_record_events(snapshot=snapshot, accepted=["a"] * 3 + ["b"] + ["c"] * 2)
    assert usage.usage_flush()
    assert [row.name for row in usage_selectors.usage_event_names(key=key)] == ["a", "c"]


def test_retention_prunes_rows_older_than_the_setting(snapshot, key, settings):
    _calls(snapshot, "203.0.113.1", 1)
    usage.usage_record_events(snapshot=snapshot, accepted=["a"])
    assert usage.usage_flush()
    old = timezone.now() - timedelta(days=40)
    KeyUsageHour.objects.update(hour=old.replace(minute=0, second=0, microsecond=0))
    KeyUsageAddress.objects.update(day=old.date())
    KeyUsageEvent.objects.update(day=old.date())

    settings.USAGE_RETENTION_DAYS = 90
    assert flush.usage_prune() == 0
    settings.USAGE_RETENTION_DAYS = 30
    call_command("usage_prune")
    assert not KeyUsageHour.objects.exists()
    assert not KeyUsageAddress.objects.exists()
    assert not KeyUsageEvent.objects.exists()


def test_counts_survive_a_failed_flush(snapshot, key, monkeypatch):
    """When the database refuses a flush, the counts wait in memory for the next one."""
    _calls(snapshot, "203.0.113.1", 2)
    with connection.cursor() as cursor:
        table = KeyUsageHour._meta.db_table
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    try:
        assert usage.usage_flush() is False
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table}_away RENAME TO {table}")
    _calls(snapshot, "203.0.113.1", 1)
    assert usage.usage_flush()
    assert usage_selectors.usage_by_hour(key=key, hours=1)[0].accepted == 3
    assert KeyUsageAddress.objects.get().accepted == 3


def test_flush_runs_after_a_request_once_the_interval_is_up(client, created, key, settings):
    settings.USAGE_FLUSH_SECONDS = 0
    response = client.post(
        "/event/ingest",
        {"timestamp": 1_767_225_600_000, "name": "a", "userId": "u", "properties": {}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {created.secrets()['writeOnly']}",
        REMOTE_ADDR="203.0.113.1",
    )
    assert response.status_code == 204
    assert not recording._state.pending  # written once the response was done
    assert KeyUsageAddress.objects.get().accepted == 1


def test_the_flush_prunes_old_rows_about_once_an_hour(snapshot, key, settings):
    _calls(snapshot, "203.0.113.1", 1)
    assert usage.usage_flush()  # claims this hour's pruning (nothing to prune yet)
    KeyUsageHour.objects.update(hour=timezone.now() - timedelta(days=100))
    _calls(snapshot, "203.0.113.1", 1)
    assert usage.usage_flush()
    assert KeyUsageHour.objects.count() == 2  # pruned at most once an hour
    flush.prune_timer_reset()  # another process: the claim in the shared cache holds
    _calls(snapshot, "203.0.113.1", 1)
    assert usage.usage_flush()
    assert KeyUsageHour.objects.count() == 2

    # An hour later, for this process and for the shared claim.
    flush.prune_timer_reset()
    cache.delete(flush.PRUNE_CACHE_KEY)
    _calls(snapshot, "203.0.113.1", 1)
    assert usage.usage_flush()
    assert list(KeyUsageHour.objects.values_list("calls", flat=True)) == [3]


@pytest.mark.django_db(transaction=True)
def test_a_key_deleted_before_the_flush_loses_only_its_own_counts(created, other_created):
    gone = keycache.snapshot_for_hash(crypto.secret_hash(created.secrets()["writeOnly"]))
    kept = keycache.snapshot_for_hash(crypto.secret_hash(other_created.secrets()["writeOnly"]))
    _calls(gone, "203.0.113.1", 2)
    _calls(kept, "203.0.113.2", 3)
    usage.usage_record_events(snapshot=gone, accepted=["a"])
    created.workspace.delete()

    assert usage.usage_flush()
    assert list(KeyUsageAddress.objects.values_list("address", "accepted")) == [("203.0.113.2", 3)]
    assert not KeyUsageEvent.objects.exists()


def test_a_flush_of_known_rows_skips_the_caps(snapshot, key, django_assert_num_queries):
    _calls(snapshot, "203.0.113.1", 1)
    usage.usage_record_events(snapshot=snapshot, accepted=["a"])
    assert usage.usage_flush()  # new rows: the caps are checked
    _calls(snapshot, "203.0.113.1", 1)
    usage.usage_record_events(snapshot=snapshot, accepted=["a"])
    # Savepoint, three upserts and the secret's update, savepoint released: no cap query.
    with django_assert_num_queries(6):
        assert usage.usage_flush()
    assert KeyUsageAddress.objects.get().accepted == 2


def test_the_deploy_config_flushes_when_a_worker_exits(snapshot, key):
    hooks = runpy.run_path(str(Path(__file__).resolve().parents[2] / "deploy/gunicorn.conf.py"))
    _calls(snapshot, "203.0.113.1", 2)
    hooks["worker_exit"](None, None)
    assert KeyUsageAddress.objects.get().accepted == 2
