"""Ingestion is idempotent (CONTRACT.md §2): a re-sent event is stored once, and answered alike."""

import importlib

import pytest
from django.db import connection

from apikeys import services
from core.actors import SYSTEM
from ingest.models import Event, EventName
from tests.support.api import event

BATCH = "/event/ingest/batch"
MIGRATION = importlib.import_module("ingest.migrations.0003_dedup_and_profiles_from_events")
REKEY = importlib.import_module("ingest.migrations.0004_event_key_unindexed_dedup_rekeyed")


def _names() -> list[str]:
    return sorted(Event.objects.values_list("name", flat=True))


def test_the_same_batch_sent_twice_is_stored_once_with_the_same_answer(api, secrets):
    events = [event("signup"), event("page_view"), event("page_view", userId="user-2")]
    first = api.post(BATCH, {"events": events}, key=secrets["writeOnly"])
    again = api.post(BATCH, {"events": events}, key=secrets["writeOnly"])
    assert first.status_code == again.status_code == 204
    assert _names() == ["page_view", "page_view", "signup"]
    # The catalogue counts stored events, not deliveries.
    assert dict(EventName.objects.values_list("name", "count")) == {"page_view": 2, "signup": 1}


def test_a_mixed_batch_re_sent_gets_the_same_200_and_stores_nothing_twice(
    api, secrets, wo_key, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.api_key_set_allowed_events(
            key=wo_key, mode="specific", names=["signup"], by=SYSTEM
        )
    events = [event("signup"), event("purchase"), event("bad name")]
    first = api.post(BATCH, {"events": events}, key=secrets["writeOnly"])
    again = api.post(BATCH, {"events": events}, key=secrets["writeOnly"])
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["accepted"] == 1
    assert _names() == ["signup"]


def test_duplicates_within_one_batch_are_stored_once_and_all_accepted(api, secrets):
    events = [
        event("signup"),
        event("signup"),
        event("signup", eventId="e-1"),
        event("other", eventId="e-1"),
    ]
    response = api.post(BATCH, {"events": events}, key=secrets["writeOnly"])
    assert response.status_code == 204
    assert _names() == ["signup", "signup"]


def test_an_event_id_re_sent_with_other_content_is_stored_once(api, secrets):
    key = secrets["writeOnly"]
    original = event("signup", eventId="evt-42", properties={"plan": "free"})
    assert api.post("/event/ingest", original, key=key).status_code == 204
    changed = event("signup", eventId="evt-42", properties={"plan": "pro"}, timestamp=None)
    assert api.post("/event/ingest", changed, key=key).status_code == 204
    assert api.post(BATCH, {"events": [changed]}, key=key).status_code == 204
    stored = Event.objects.get()
    assert stored.properties == {"plan": "free"}


def test_distinct_event_ids_with_the_same_content_are_distinct_events(api, secrets):
    events = [event("signup", eventId="a"), event("signup", eventId="b")]
    assert api.post(BATCH, {"events": events}, key=secrets["writeOnly"]).status_code == 204
    assert Event.objects.count() == 2


def test_an_event_without_a_client_timestamp_is_never_deduplicated(api, secrets):
    timeless = event("signup")
    del timeless["timestamp"]
    for _ in range(2):
        assert api.post("/event/ingest", timeless, key=secrets["writeOnly"]).status_code == 204
    assert api.post(BATCH, {"events": [timeless] * 2}, key=secrets["writeOnly"]).status_code == 204
    assert Event.objects.count() == 4


def test_every_field_counts_in_the_content(api, secrets):
    base = event("signup", properties={"a": {"b": [1, 2]}}, deviceData={"os": "Linux"})
    variants = [
        base,
        {**base, "timestamp": base["timestamp"] + 1},
        {**base, "userId": "user-2"},
        {**base, "anonymousId": "anon-1"},
        {**base, "externalId": "ext-1"},
        {**base, "sessionId": "s-1"},
        {**base, "properties": {"a": {"b": [2, 1]}}},
        {**base, "deviceData": {"os": "Mac"}},
        {**base, "name": "signup2"},
    ]
    assert api.post(BATCH, {"events": variants}, key=secrets["writeOnly"]).status_code == 204
    # Key order and unknown fields are not content: this one is the first again.
    same = {"deviceData": {"os": "Linux"}, "surprise": 1, **{k: base[k] for k in reversed(base)}}
    assert api.post("/event/ingest", same, key=secrets["writeOnly"]).status_code == 204
    assert Event.objects.count() == len(variants)


def test_idempotency_is_per_workspace(api, secrets, other_created):
    sent = event("signup", eventId="shared-id")
    assert api.post("/event/ingest", sent, key=secrets["writeOnly"]).status_code == 204
    other = other_created.secrets()["writeOnly"]
    assert api.post("/event/ingest", sent, key=other).status_code == 204
    assert Event.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_migrations_key_existing_rows_as_new_ones_are_keyed(api, secrets):
    """Rows stored before the key existed get the key a new insert would give them.

    0003 keyed them by the first rule (on PostgreSQL, a hash of the jsonb text); 0004 re-keys
    those by the current one (ingest/dedup.py), which new inserts use.
    """
    events = [
        event("signup", properties={"x": 1.5, "y": ["é", None]}),
        event("page_view", deviceData={"screenWidth": 1920}),
    ]
    assert api.post(BATCH, {"events": events}, key=secrets["writeOnly"]).status_code == 204
    keyed = dict(Event.objects.values_list("id", "dedup_key"))
    assert all(keyed.values())
    Event.objects.update(dedup_key=None)
    # An old duplicate: it keeps no key, and is not deleted.
    old = Event.objects.order_by("id").first()
    old.pk = None
    old.save()
    with connection.schema_editor() as editor:
        MIGRATION.existing_rows(_Apps(), editor)
    first_rule = {pk: key for pk, key in Event.objects.values_list("id", "dedup_key") if key}
    assert first_rule.keys() == keyed.keys()
    if connection.vendor == "postgresql":  # the first rule differed there
        assert first_rule != keyed
    with connection.schema_editor() as editor:
        REKEY.rekey(_Apps(), editor)
    assert {pk: key for pk, key in Event.objects.values_list("id", "dedup_key") if key} == keyed
    assert Event.objects.filter(dedup_key=None).count() == 1
    # And a re-send after the migration is still recognised.
    assert api.post(BATCH, {"events": events}, key=secrets["writeOnly"]).status_code == 204
    assert Event.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_re_keying_leaves_keys_by_event_id_and_by_the_current_rule_alone(api, secrets):
    events = [event("signup", eventId="client-1"), event("page_view")]
    assert api.post(BATCH, {"events": events}, key=secrets["writeOnly"]).status_code == 204
    keyed = dict(Event.objects.values_list("id", "dedup_key"))
    with connection.schema_editor() as editor:
        REKEY.rekey(_Apps(), editor)
    assert dict(Event.objects.values_list("id", "dedup_key")) == keyed


class _Apps:
    """The current models, as the migration's historical ones (the fields it uses are there)."""

    def get_model(self, app_label: str, name: str):
        from django.apps import apps

        return apps.get_model(app_label, name)


def test_integers_beyond_64_bits_are_stored_exactly_and_keyed_like_any_value(api, secrets):
    """The fast encoder refuses them; the fallback writes (and hashes) them exactly."""
    big = event("purchase", properties={"amount": 2**70, "nested": [-(2**65)]})
    bigger = event("purchase", properties={"amount": 2**70 + 1, "nested": [-(2**65)]})
    for sent in (big, big, bigger):
        assert api.post(BATCH, {"events": [sent]}, key=secrets["writeOnly"]).status_code == 204
    properties = list(Event.objects.values_list("properties", flat=True))
    assert sorted(p["amount"] for p in properties) == [2**70, 2**70 + 1]
    assert all(p["nested"] == [-(2**65)] for p in properties)
