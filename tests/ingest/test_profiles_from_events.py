"""Events make profiles (CONTRACT.md §2); identify keeps deviceData; reads show the new fields."""

from datetime import UTC, datetime

from ingest.models import Profile, ProfileAlias
from tests.support.api import event

BATCH = "/event/ingest/batch"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def test_a_tracked_only_user_has_a_profile_with_last_seen_at(api, secrets):
    events = [event("page_view", timestamp=T0), event("signup", timestamp=T0 + 5000)]
    assert api.post(BATCH, {"events": events}, key=secrets["writeOnly"]).status_code == 204
    response = api.get("/profile/user-1", key=secrets["readWrite"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == "user-1" and body["properties"] == {}
    assert body["lastSeenAt"] == _iso(T0 + 5000)
    assert body["createdAt"].endswith("Z")
    # An older event (a late re-send) never moves it back; a newer one moves it on.
    api.post("/event/ingest", event("old", timestamp=T0 - 60_000), key=secrets["writeOnly"])
    assert api.get("/profile/user-1", key=secrets["readWrite"]).json()["lastSeenAt"] == _iso(
        T0 + 5000
    )
    api.post("/event/ingest", event("new", timestamp=T0 + 9000), key=secrets["writeOnly"])
    assert api.get("/profile/user-1", key=secrets["readWrite"]).json()["lastSeenAt"] == _iso(
        T0 + 9000
    )
    assert Profile.objects.count() == 1


def test_an_anonymous_visitor_gets_one_anonymous_profile_that_identify_merges(api, secrets):
    key = secrets["writeOnly"]
    visits = [event(f"v{n}", userId=None, anonymousId="anon-1", timestamp=T0 + n) for n in range(3)]
    assert api.post(BATCH, {"events": visits}, key=key).status_code == 204
    assert api.post(BATCH, {"events": visits[:1]}, key=key).status_code == 204
    anonymous = Profile.objects.get()
    assert anonymous.user_id is None and anonymous.anonymous_ids == ["anon-1"]
    assert anonymous.last_seen_at == datetime.fromtimestamp((T0 + 2) / 1000, tz=UTC)
    assert ProfileAlias.objects.get().profile == anonymous
    # Identify links the anonymous history to the known user: one profile, seen when it was.
    body = {"userId": "user-9", "anonymousId": "anon-1", "properties": {"plan": "pro"}}
    assert api.post("/profile", body, key=key).status_code == 204
    profile = api.get("/profile/user-9", key=secrets["readWrite"]).json()
    assert profile["anonymousIds"] == ["anon-1"]
    assert profile["lastSeenAt"] == _iso(T0 + 2)
    assert Profile.objects.count() == 1
    # Later anonymous events of that visitor move the user's profile.
    later = event("later", userId=None, anonymousId="anon-1", timestamp=T0 + 7000)
    assert api.post("/event/ingest", later, key=key).status_code == 204
    assert api.get("/profile/user-9", key=secrets["readWrite"]).json()["lastSeenAt"] == _iso(
        T0 + 7000
    )
    assert Profile.objects.count() == 1


def test_events_do_not_link_an_anonymous_id_to_a_user(api, secrets):
    both = event("page_view", userId="user-1", anonymousId="anon-1")
    assert api.post("/event/ingest", both, key=secrets["writeOnly"]).status_code == 204
    assert list(Profile.objects.values_list("user_id", "anonymous_ids")) == [("user-1", [])]
    assert not ProfileAlias.objects.exists()


def test_identify_keeps_the_latest_device_data(api, secrets):
    key = secrets["writeOnly"]
    chrome = {"browser": "Chrome", "os": "Windows", "screenWidth": 1920}
    assert api.post("/profile", {"userId": "u", "deviceData": chrome}, key=key).status_code == 204
    assert api.post("/profile", {"userId": "u", "properties": {"a": 1}}, key=key).status_code == 204
    assert api.get("/profile/u", key=secrets["readWrite"]).json()["deviceData"] == chrome
    safari = {"browser": "Safari", "os": "iOS"}
    assert api.post("/profile", {"userId": "u", "deviceData": safari}, key=key).status_code == 204
    assert api.get("/profile/u", key=secrets["readWrite"]).json()["deviceData"] == safari


def test_refused_and_invalid_events_make_no_profile(api, secrets):
    events = [event("bad name", userId="user-x"), event("ok", userId=None, anonymousId=None)]
    assert api.post(BATCH, {"events": events}, key=secrets["writeOnly"]).status_code == 400
    assert not Profile.objects.exists()
