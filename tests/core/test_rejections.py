"""Every refused call is logged for the admins: sampled and bounded, never with the secret."""

import pytest

from apikeys.models import RejectedCall
from apikeys.selectors import rejected_calls_recent
from core import rejections
from tests.support.api import CLIENT_IP, event, unknown_key

pytestmark = pytest.mark.django_db


def test_refusal_of_a_known_key_is_logged_for_its_workspace(api, secrets, wo_key, workspace):
    response = api.get("/profile/user-1?locationEnrichment=true", key=secrets["writeOnly"])
    assert response.status_code == 403
    call = RejectedCall.objects.get()
    assert call.workspace == workspace
    assert call.key == wo_key
    assert call.client_ip == CLIENT_IP
    assert call.reason == "insufficient_scope"
    assert call.method == "GET"
    assert call.path == "/profile/user-1"  # never the query string
    assert call.count == 1


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "missing_key"),
        ("uf_wo_garbage", "malformed_key"),
        ("unknown", "unknown_key"),
    ],
)
def test_refusal_of_an_unknown_caller_has_no_workspace(api, key, reason, created):
    secret = unknown_key() if key == "unknown" else key
    assert api.post("/event/ingest", event(), key=secret).status_code == 401
    call = RejectedCall.objects.get()
    assert (call.workspace, call.key, call.reason, call.client_ip) == (
        None,
        None,
        reason,
        CLIENT_IP,
    )


def test_the_log_tells_a_revoked_key_from_an_unknown_one(api, secrets, wo_key):
    from django.utils import timezone

    from apikeys.keycache import key_config_changed
    from apikeys.models import ApiKey

    ApiKey.objects.filter(pk=wo_key.pk).update(revoked_at=timezone.now())
    key_config_changed()
    assert api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code == 401
    call = RejectedCall.objects.get()
    assert (call.key, call.reason) == (wo_key, "revoked")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("nope", "invalid_body"),
        ({"name": "a b", "userId": "u"}, "invalid_body"),
    ],
)
def test_bad_bodies_are_logged_too(api, secrets, body, reason):
    assert api.post("/event/ingest", body, key=secrets["writeOnly"]).status_code == 400
    assert RejectedCall.objects.get().reason == reason


def test_a_flood_of_refusals_writes_one_row_a_minute(
    api, secrets, django_assert_max_num_queries, settings
):
    # On a slow machine the loop may outlast the key cache's bound: its one version read per
    # key is not what this test is about.
    settings.KEY_CACHE_MAX_STALENESS_SECONDS = 3600
    api.post("/event/ingest", "nope", key=secrets["writeOnly"])
    with django_assert_max_num_queries(0):
        for _ in range(50):
            assert api.post("/event/ingest", "nope", key=secrets["writeOnly"]).status_code == 400
    assert RejectedCall.objects.count() == 1


def test_repeats_are_counted_into_the_next_row(api, secrets, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(rejections.time, "time", lambda: clock[0])
    for _ in range(5):
        api.post("/event/ingest", "nope", key=secrets["writeOnly"])
    clock[0] += 60
    api.post("/event/ingest", "nope", key=secrets["writeOnly"])
    assert list(RejectedCall.objects.order_by("id").values_list("count", flat=True)) == [1, 5]


def test_other_processes_do_not_write_the_same_minutes_row(api, secrets):
    api.post("/event/ingest", "nope", key=secrets["writeOnly"])
    rejections.rejections_reset()  # another process: its own memory, the same shared cache
    api.post("/event/ingest", "nope", key=secrets["writeOnly"])
    assert RejectedCall.objects.count() == 1


def test_many_addresses_cannot_flood_the_table(api, monkeypatch):
    monkeypatch.setattr(rejections, "MAX_ROWS_PER_MINUTE", 5)
    # One minute for the whole loop: on a slow machine it could straddle two (10 rows, both right).
    monkeypatch.setattr(rejections.time, "time", lambda: 1_000_020.0)
    for n in range(20):
        api.post("/event/ingest", event(), key=unknown_key(), REMOTE_ADDR=f"198.51.100.{n}")
    assert RejectedCall.objects.count() == 5


def test_recent_rejected_calls_of_a_workspace(
    api, secrets, wo_key, rw_key, workspace, other_created
):
    api.get("/profile/u", key=secrets["writeOnly"])
    api.post("/event/ingest", "nope", key=secrets["readWrite"])
    api.post("/event/ingest", "nope", key=other_created.secrets()["readWrite"])
    api.post("/event/ingest", event(), key=unknown_key())
    recent = list(rejected_calls_recent(workspace=workspace))
    assert [call.reason for call in recent] == ["invalid_body", "insufficient_scope"]
    assert [call.key for call in rejected_calls_recent(workspace=workspace, key=wo_key)] == [wo_key]
    assert len(rejected_calls_recent(workspace=workspace, limit=1)) == 1


def test_no_secret_is_ever_stored(api, secrets):
    for secret in (secrets["writeOnly"], unknown_key(), secrets["writeOnly"][:-1] + "A"):
        api.post(f"/event/ingest?key={secret}", {"name": secret, "userId": secret}, key=secret)
        api.get(f"/profile/{secret}", key=secret)
    for row in RejectedCall.objects.values():
        assert not any("uf_" in str(value) for value in row.values())
