"""Usage as the selectors show it, after real calls through the middleware and the API views."""

import pytest

from apikeys import restrict_services, services, usage_selectors
from apikeys.models import KeySecret
from core.actors import SYSTEM
from ingest.models import Event
from tests.apikeys.usage_helpers import flushed, ingest

pytestmark = pytest.mark.django_db

HOME = "203.0.113.10"
OFFICE = "198.51.100.20"
STRANGER = "192.0.2.99"


@pytest.fixture
def secret(created) -> str:
    return created.secrets()["writeOnly"]


@pytest.fixture
def key(created):
    return created.keys["writeOnly"].key


def test_addresses_seen_list_each_address_with_its_count(client, secret, key):
    for _ in range(3):
        assert ingest(client, secret, address=HOME) == 204
    assert ingest(client, secret, address=OFFICE) == 204
    flushed()

    rows = usage_selectors.usage_addresses(key=key)
    assert [(row.address, row.accepted, row.refused) for row in rows] == [
        (HOME, 3, 0),
        (OFFICE, 1, 0),
    ]
    assert rows[0].first_seen <= rows[0].last_seen
    assert not rows[0].listed  # the key is usable from anywhere: no rule lists it


def test_the_client_address_comes_from_a_trusted_proxy_only(client, secret, key, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert ingest(client, secret, address="10.0.0.5", HTTP_X_FORWARDED_FOR=OFFICE) == 204
    # An untrusted peer's header proves nothing: the peer is the client.
    assert ingest(client, secret, address=HOME, HTTP_X_FORWARDED_FOR=STRANGER) == 204
    flushed()

    assert {row.address for row in usage_selectors.usage_addresses(key=key)} == {OFFICE, HOME}


def test_usage_by_hour_matches_the_calls_made(client, secret, key):
    services.api_key_set_allowed_events(key=key, mode="specific", names=["signup"], by=SYSTEM)
    for _ in range(4):
        assert ingest(client, secret, address=HOME, names=["signup"]) == 204
    assert ingest(client, secret, address=HOME, names=["page_view"]) == 403
    assert ingest(client, secret + "x", address=HOME) == 401  # no key known: nobody's usage
    flushed()

    hours = usage_selectors.usage_by_hour(key=key)
    assert len(hours) == 24
    assert sum(bucket.accepted for bucket in hours[:-1]) == 0
    now = hours[-1]
    assert (now.accepted, now.refused, now.would_refuse) == (4, {"event_not_allowed": 1}, {})
    days = usage_selectors.usage_by_day(key=key)
    assert len(days) == 30
    assert (days[-1].accepted, days[-1].refused_total) == (4, 1)
    assert usage_selectors.usage_calls_last_24h(workspace=key.workspace)[key.pk].calls == 5


def test_monitored_address_list_stores_the_call_and_counts_it_as_would_refuse(
    client, secret, key, django_capture_on_commit_callbacks
):
    restrict_services.api_key_access_set(
        key=key, mode="specific", rules=[HOME], enforcement="monitor", by=SYSTEM
    )
    assert ingest(client, secret, address=STRANGER) == 204  # answered as usual
    assert ingest(client, secret, address=HOME) == 204
    assert Event.objects.count() == 2  # and stored
    flushed()

    now = usage_selectors.usage_by_hour(key=key)[-1]
    assert (now.accepted, now.refused, now.would_refuse) == (2, {}, {"ip_not_allowed": 1})
    rows = {row.address: row for row in usage_selectors.usage_addresses(key=key)}
    assert (rows[STRANGER].accepted, rows[STRANGER].would_refuse, rows[STRANGER].listed) == (
        1,
        1,
        False,
    )
    assert (rows[HOME].would_refuse, rows[HOME].listed) == (0, True)

    # One click enforces it: the stranger is refused from then on.
    with django_capture_on_commit_callbacks(execute=True):
        restrict_services.api_key_enforcement_set(
            key=key, which="addresses", mode="enforce", by=SYSTEM
        )
    assert ingest(client, secret, address=STRANGER) == 403
    flushed()
    now = usage_selectors.usage_by_hour(key=key)[-1]
    assert (now.accepted, now.refused) == (2, {"ip_not_allowed": 1})


def test_monitored_event_list_stores_the_events_and_counts_them(client, secret, key):
    services.api_key_set_allowed_events(
        key=key, mode="specific", names=["signup"], enforcement="monitor", by=SYSTEM
    )
    assert ingest(client, secret, address=HOME, names=["signup", "forbidden", "forbidden"]) == 204
    assert Event.objects.count() == 3
    flushed()

    names = {row.name: row for row in usage_selectors.usage_event_names(key=key)}
    assert (names["forbidden"].count, names["forbidden"].would_refuse) == (2, 2)
    assert (names["signup"].count, names["signup"].would_refuse, names["signup"].allowed) == (
        1,
        0,
        True,
    )
    now = usage_selectors.usage_by_hour(key=key)[-1]
    assert (now.accepted, now.would_refuse) == (1, {"event_not_allowed": 1})


def test_event_names_seen_count_refused_ones_too(client, secret, key):
    services.api_key_set_allowed_events(key=key, mode="specific", names=["signup"], by=SYSTEM)
    # A batch is judged event by event: signup is stored, purchase refused (CONTRACT.md §2).
    assert ingest(client, secret, address=HOME, names=["signup", "purchase"]) == 200
    assert ingest(client, secret, address=HOME, names=["purchase"]) == 403
    flushed()

    names = {
        row.name: (row.count, row.refused) for row in usage_selectors.usage_event_names(key=key)
    }
    assert names == {"signup": (1, 0), "purchase": (0, 2)}


def test_impact_preview_counts_what_the_proposed_rules_would_refuse(client, secret, key):
    for address, calls in [(HOME, 5), (OFFICE, 2), (STRANGER, 1)]:
        for _ in range(calls):
            assert ingest(client, secret, address=address, names=["signup"]) == 204
    assert ingest(client, secret, address=HOME, names=["page_view", "page_view"]) == 204
    flushed()

    preview = usage_selectors.impact_preview(key=key, address_rules=[HOME, "198.51.100.0/24"])
    assert (preview.refused, preview.total, preview.sources) == (1, 9, 1)
    assert [(row.label, row.calls) for row in preview.rows] == [(STRANGER, 1)]

    preview = usage_selectors.impact_preview(key=key, allowed_events=["signup"])
    assert (preview.unit, preview.refused, preview.total) == ("events", 2, 10)
    assert [(row.label, row.calls) for row in preview.rows] == [("page_view", 2)]


def test_secret_last_used_tells_the_previous_secret_in_grace_from_the_current(client, secret, key):
    assert ingest(client, secret, address=HOME) == 204
    new_secret = services.api_key_roll(key=key, grace="24h", by=SYSTEM)
    flushed()
    rows = usage_selectors.secret_last_used(key=key)
    assert [(row.current, row.last_used_at is not None) for row in rows] == [
        (True, False),
        (False, True),
    ]

    assert ingest(client, new_secret, address=HOME) == 204
    flushed()
    current = usage_selectors.secret_last_used(key=key)[0]
    assert current.current and current.last_used_at is not None

    old = KeySecret.objects.get(pk=rows[1].secret.pk)
    restrict_services.key_secret_end_now(secret=old, by=SYSTEM)
    assert [row.current for row in usage_selectors.secret_last_used(key=key)] == [True]


def test_recording_can_be_turned_off(client, secret, key, settings):
    settings.USAGE_RECORDING = False
    assert ingest(client, secret, address=HOME) == 204
    flushed()
    assert usage_selectors.usage_addresses(key=key) == []


def test_metrics_key_usage_counts_exchanges_and_queries(client, created):
    from tests.support.metrics import encoded, exchange

    metrics = created.keys["metrics"].key
    token = exchange(client, created, REMOTE_ADDR=HOME).json()["accessToken"]
    response = client.post(
        "/metrics/query",
        {"encodedQuery": encoded("SELECT 1 AS one")},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        REMOTE_ADDR=OFFICE,
    )
    assert response.status_code == 200
    flushed()

    assert usage_selectors.usage_by_hour(key=metrics, hours=1)[0].accepted == 2
    assert {row.address for row in usage_selectors.usage_addresses(key=metrics)} == {HOME, OFFICE}
    used = {row.role: row.last_used_at for row in usage_selectors.secret_last_used(key=metrics)}
    assert set(used) == {"primary", "client_secret"}
    assert all(used.values())  # the exchange used both halves of the pair
