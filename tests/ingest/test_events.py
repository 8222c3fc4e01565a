"""Events as UserFlux's SDKs send them: stored whole, derived, catalogued, and checked by name."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apikeys import services
from core.actors import SYSTEM
from ingest.models import Event, EventName
from tests.support.api import NOTHING, event, is_postgresql, stored

pytestmark = pytest.mark.django_db

USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


def browser_event(name: str, n: int) -> dict:
    """An event as `@userflux/browser-js` queues it: page, referrer and UTM properties."""
    return {
        "timestamp": 1_767_225_600_000 + n,
        "userId": None,
        "anonymousId": "0b7f6c1e-8d2a-4c51-9a3e-5f2b1d7c9e40",
        "name": name,
        "properties": {
            "sessionId": "s-1",
            "host": "shop.example.com",
            "href": f"https://shop.example.com/products/{n}?utm_source=news&utm_campaign=spring",
            "path": f"/products/{n}",
            "pageTitle": "Products – Shop",
            "referrerHref": "https://www.google.com/search?q=shop",
            "referrerHost": "www.google.com",
            "utmSource": "news",
            "utmMedium": None,
            "utmCampaign": "spring",
            "utmTerm": None,
            "utmContent": None,
            "gclid": None,
            "nested": {"list": [1, 2, {"deep": True}], "price": 9.99},
        },
        "deviceData": {
            "userAgent": USER_AGENT,
            "browser": "Chrome",
            "browserVersion": "120",
            "deviceType": "Desktop",
            "os": "Windows",
            "screenWidth": 1920,
            "screenHeight": 1080,
            "browserWidth": 1280,
            "browserHeight": 720,
        },
    }


def test_browser_batch_is_stored_whole_with_derived_properties(api, secrets, wo_key, workspace):
    events = [browser_event("page_view" if n % 2 else "click", n) for n in range(10)]
    response = api.post(
        "/event/ingest/batch?locationEnrichment=true", {"events": events}, key=secrets["writeOnly"]
    )
    assert response.status_code == 204
    assert response.content == b""
    assert Event.objects.count() == 10
    stored_event = Event.objects.get(properties__path="/products/3")
    assert stored_event.workspace_id == workspace.id
    assert stored_event.key_id == wo_key.id
    assert stored_event.name == "page_view"
    assert stored_event.user_id is None
    assert stored_event.anonymous_id == "0b7f6c1e-8d2a-4c51-9a3e-5f2b1d7c9e40"
    assert stored_event.timestamp == datetime(2026, 1, 1, 0, 0, 0, 3000, tzinfo=UTC)
    assert stored_event.received_at is not None
    assert stored_event.properties == events[3]["properties"]
    assert stored_event.device_data == events[3]["deviceData"]
    assert stored_event.uf_properties == {
        "urlPath": "/products/3",
        "urlHost": "shop.example.com",
        "pageTitle": "Products – Shop",
        "referrerHost": "www.google.com",
        "utmSource": "news",
        "utmCampaign": "spring",
        "browser": "Chrome",
        "os": "Windows",
        "deviceType": "Desktop",
    }


def test_backend_event_with_null_device_data_and_no_location_enrichment(api, secrets):
    body = {
        "timestamp": 1_767_225_600_000,
        "userId": "user-42",
        "anonymousId": None,
        "name": "subscription_started",
        "properties": {"plan": "pro", "seats": 3},
        "deviceData": None,
    }
    response = api.post("/event/ingest", body, key=secrets["readWrite"])
    assert response.status_code == 204
    stored_event = Event.objects.get()
    assert stored_event.user_id == "user-42"
    assert stored_event.anonymous_id is None
    assert stored_event.device_data is None
    assert stored_event.properties == {"plan": "pro", "seats": 3}
    assert stored_event.uf_properties == {}


@pytest.mark.parametrize("value", ["true", "false", "TRUE", "", "anything"])
def test_location_enrichment_is_never_an_error(api, secrets, value):
    path = f"/event/ingest?locationEnrichment={value}"
    assert api.post(path, event(), key=secrets["writeOnly"]).status_code == 204


def test_every_field_but_name_and_one_id_may_be_missing(api, secrets):
    before = datetime.now(UTC)
    assert (
        api.post(
            "/event/ingest", {"name": "ping", "anonymousId": "a"}, key=secrets["writeOnly"]
        ).status_code
        == 204
    )
    stored_event = Event.objects.get()
    assert stored_event.timestamp >= before.replace(microsecond=0)
    assert stored_event.properties == {}
    assert stored_event.device_data is None
    assert stored_event.session_id is None
    assert stored_event.external_id is None


def test_session_and_external_ids_are_stored(api, secrets):
    body = event(sessionId="sess-9", externalId="crm-7")
    assert api.post("/event/ingest", body, key=secrets["writeOnly"]).status_code == 204
    assert Event.objects.values_list("session_id", "external_id").get() == ("sess-9", "crm-7")


def test_unknown_fields_are_ignored(api, secrets):
    body = event(surprise={"a": 1}, version=3, context=[1, 2])
    assert api.post("/event/ingest", body, key=secrets["writeOnly"]).status_code == 204
    body = {"events": [event(userId="user-2")], "sentAt": 1, "batchId": "b"}
    assert api.post("/event/ingest/batch", body, key=secrets["writeOnly"]).status_code == 204
    assert Event.objects.count() == 2


def test_the_catalogue_counts_names_with_first_and_last_seen(
    api, secrets, workspace, other_created
):
    key = secrets["writeOnly"]
    batch = {"events": [event("signup"), event("page_view"), event("page_view", userId="u2")]}
    assert api.post("/event/ingest/batch", batch, key=key).status_code == 204
    first = EventName.objects.get(workspace=workspace, name="page_view")
    assert first.count == 2
    assert first.first_seen == first.last_seen
    assert api.post("/event/ingest", event("page_view", userId="u3"), key=key).status_code == 204
    assert (
        api.post(
            "/event/ingest", event("page_view"), key=other_created.secrets()["writeOnly"]
        ).status_code
        == 204
    )
    later = EventName.objects.get(workspace=workspace, name="page_view")
    assert later.count == 3
    assert later.first_seen == first.first_seen
    assert later.last_seen > first.last_seen
    assert dict(EventName.objects.filter(workspace=workspace).values_list("name", "count")) == {
        "page_view": 3,
        "signup": 1,
    }
    assert EventName.objects.get(workspace=other_created.workspace).count == 1


def test_an_empty_batch_is_accepted_and_stores_nothing(api, secrets):
    assert (
        api.post("/event/ingest/batch", {"events": []}, key=secrets["writeOnly"]).status_code == 204
    )
    assert stored() == NOTHING


@pytest.fixture
def signup_only(wo_key, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.api_key_set_allowed_events(
            key=wo_key, mode="specific", names=["signup", "page_view"], by=SYSTEM
        )


def test_allowed_events_pass(api, secrets, signup_only):
    batch = {"events": [event("signup"), event("page_view")]}
    assert api.post("/event/ingest/batch", batch, key=secrets["writeOnly"]).status_code == 204
    assert stored()["events"] == 2


def test_event_the_key_may_not_send_is_403(api, secrets, signup_only):
    response = api.post("/event/ingest", event("purchase"), key=secrets["writeOnly"])
    assert response.status_code == 403
    assert response.json()["code"] == "event_not_allowed"
    assert response.json()["events"] == ["purchase"]
    assert "purchase" in response.json()["detail"]
    assert stored() == NOTHING


def test_a_mixed_batch_stores_its_allowed_events_and_lists_the_refused(api, secrets, signup_only):
    events = [
        event("signup"),
        event("purchase"),
        event("page_view"),
        event("refund"),
        event("purchase", userId="user-2"),
    ]
    response = api.post("/event/ingest/batch", {"events": events}, key=secrets["writeOnly"])
    assert response.status_code == 200, response.content
    payload = response.json()
    assert payload["accepted"] == 2
    assert [(item["index"], item["code"], item["name"]) for item in payload["rejected"]] == [
        (1, "event_not_allowed", "purchase"),
        (3, "event_not_allowed", "refund"),
        (4, "event_not_allowed", "purchase"),
    ]
    assert all(item["detail"] for item in payload["rejected"])
    assert sorted(Event.objects.values_list("name", flat=True)) == ["page_view", "signup"]


def test_a_batch_of_only_refused_events_is_403_with_the_rejected_list(api, secrets, signup_only):
    events = [event("purchase"), event("refund")]
    response = api.post("/event/ingest/batch", {"events": events}, key=secrets["writeOnly"])
    assert response.status_code == 403
    payload = response.json()
    assert payload["code"] == "event_not_allowed"
    assert [item["index"] for item in payload["rejected"]] == [0, 1]
    assert stored() == NOTHING


def test_a_batch_refused_for_its_events_and_its_body_is_400(api, secrets, signup_only):
    events = [event("purchase"), event("bad name")]
    response = api.post("/event/ingest/batch", {"events": events}, key=secrets["writeOnly"])
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "invalid_body"
    assert [item["code"] for item in payload["rejected"]] == ["event_not_allowed", "invalid_event"]
    assert stored() == NOTHING


def test_allowed_events_limit_only_that_key(api, secrets, signup_only):
    assert api.post("/event/ingest", event("purchase"), key=secrets["readWrite"]).status_code == 204


def test_warm_key_check_makes_no_query_and_one_event_one_statement(
    api, secrets, wo_key, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(50):
            services.ip_rule_add(key=wo_key, network=f"198.51.{n}.0/24", by=SYSTEM)
        services.ip_rule_add(key=wo_key, network="203.0.113.10", by=SYSTEM)
        services.api_key_set_access_mode(key=wo_key, mode="specific", by=SYSTEM)
        services.api_key_set_allowed_events(
            key=wo_key,
            mode="specific",
            names=[f"event_{n}" for n in range(49)] + ["page_view"],
            by=SYSTEM,
        )
    key = secrets["writeOnly"]
    assert api.post("/event/ingest", event(), key=key).status_code == 204  # warms the caches
    with CaptureQueriesContext(connection) as single:
        assert api.post("/event/ingest", event(userId="u2"), key=key).status_code == 204
    events = [event(userId=f"batch-{n}") for n in range(100)]
    with CaptureQueriesContext(connection) as batch:
        assert api.post("/event/ingest/batch", {"events": events}, key=key).status_code == 204
    writes = [query["sql"] for query in single.captured_queries if "SAVEPOINT" not in query["sql"]]
    batch_writes = [
        query["sql"] for query in batch.captured_queries if "SAVEPOINT" not in query["sql"]
    ]
    if is_postgresql():
        # One statement: events (deduplicated), profiles and catalogue in one atomic INSERT.
        assert len(writes) == 1 and len(batch_writes) == 1
        assert writes[0].lstrip().startswith("WITH rows AS")
    else:
        # SQLite: the known keys, the events, their profiles and the catalogue upsert, inside
        # one transaction (here a savepoint, as the test itself runs in a transaction).
        assert any(sql.startswith('INSERT INTO "ingest_event"') for sql in writes)
        assert "ON CONFLICT" in writes[-1] and "ingest_eventname" in writes[-1]
        for capture in (single, batch):
            opened = [q for q in capture.captured_queries if q["sql"].startswith("SAVEPOINT")]
            assert len(opened) == 1
    assert not any(
        table in sql for sql in writes + batch_writes for table in ("apikeys_", "workspaces_")
    )
    assert stored()["events"] == 102


def test_refusals_on_a_warm_cache_make_no_query(api, secrets, django_assert_num_queries):
    """Key, address, scope and event checks read the cached snapshot: no query at all."""
    key = secrets["writeOnly"]
    assert api.post("/event/ingest", event(), key=key).status_code == 204
    assert api.get("/profile/user-1", key=key).status_code == 403  # its refusal is logged once
    with django_assert_num_queries(0):
        response = api.get("/profile/user-1", key=key)
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"


def test_every_rejected_event_of_a_batch_is_recorded_with_its_name_and_reason(
    api, secrets, signup_only, wo_key
):
    from apikeys.models import RejectedCall

    events = [event("signup"), event("purchase"), event("bad name"), event("refund")]
    response = api.post("/event/ingest/batch", {"events": events}, key=secrets["writeOnly"])
    assert response.status_code == 200
    rows = set(RejectedCall.objects.values_list("key_id", "reason", "event_name", "path"))
    assert rows == {
        (wo_key.pk, "event_not_allowed", "purchase", "/event/ingest/batch"),
        (wo_key.pk, "invalid_event", "bad name", "/event/ingest/batch"),
        (wo_key.pk, "event_not_allowed", "refund", "/event/ingest/batch"),
    }
    # A single refused event is recorded with its name too.
    assert api.post("/event/ingest", event("refund2"), key=secrets["writeOnly"]).status_code == 403
    assert RejectedCall.objects.filter(event_name="refund2", reason="event_not_allowed").exists()
