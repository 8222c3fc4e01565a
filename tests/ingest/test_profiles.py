"""Identify (`POST /profile`) and `GET /profile/{userId}`: merge, link, and one answer shape."""

import pytest

from ingest.models import Profile, ProfileAlias
from tests.support.api import NOTHING, stored

pytestmark = pytest.mark.django_db


@pytest.fixture
def identify(api, secrets):
    def call(**body):
        response = api.post("/profile", body, key=secrets["writeOnly"])
        assert response.status_code == 204, response.content
        assert response.content == b""

    return call


@pytest.fixture
def profile(api, secrets):
    def get(user_id):
        return api.get(f"/profile/{user_id}", key=secrets["readWrite"])

    return get


def test_identify_creates_and_merges_properties(identify, profile):
    identify(userId="user-1", properties={"plan": "free", "name": "Ada"})
    identify(userId="user-1", properties={"plan": "pro", "seats": 3})
    response = profile("user-1")
    assert response.status_code == 200
    body = response.json()
    assert body.pop("createdAt").endswith("Z")
    assert body == {
        "id": "user-1",
        "anonymousIds": [],
        "properties": {"plan": "pro", "name": "Ada", "seats": 3},
        "computedProperties": {},
        "segments": [],
        "deviceData": None,
        "location": None,
        "lastSeenAt": None,
    }


def test_browser_identify_links_the_anonymous_id(identify, profile):
    """The browser SDK's identify: userId, anonymousId, properties and deviceData."""
    identify(
        userId="user-1",
        anonymousId="anon-1",
        properties={"email": "ada@example.com"},
        deviceData={"browser": "Chrome", "os": "Windows"},
    )
    identify(userId="user-1", anonymousId="anon-2", properties={})
    identify(userId="user-1", anonymousId="anon-1", properties={})
    assert profile("user-1").json()["anonymousIds"] == ["anon-1", "anon-2"]
    assert ProfileAlias.objects.filter(anonymous_id="anon-1").get().profile.user_id == "user-1"


def test_anonymous_profile_is_merged_into_the_user_when_identified(identify, profile):
    identify(anonymousId="anon-1", properties={"theme": "dark", "plan": "trial"})
    assert Profile.objects.filter(user_id=None).count() == 1
    identify(userId="user-1", properties={"plan": "pro"})
    identify(userId="user-1", anonymousId="anon-1", properties={"name": "Ada"})
    assert Profile.objects.count() == 1
    body = profile("user-1").json()
    assert body["anonymousIds"] == ["anon-1"]
    # The anonymous history merges in; what the user's profile already said wins.
    assert body["properties"] == {"theme": "dark", "plan": "pro", "name": "Ada"}


def test_anonymous_identify_updates_the_profile_the_id_belongs_to(identify, profile):
    identify(userId="user-1", anonymousId="anon-1", properties={})
    identify(anonymousId="anon-1", properties={"theme": "dark"})
    assert Profile.objects.count() == 1
    assert profile("user-1").json()["properties"] == {"theme": "dark"}


def test_an_anonymous_id_moves_to_the_latest_user_identified_with_it(identify, profile):
    identify(userId="user-1", anonymousId="shared-device", properties={})
    identify(userId="user-2", anonymousId="shared-device", properties={})
    assert profile("user-1").json()["anonymousIds"] == []
    assert profile("user-2").json()["anonymousIds"] == ["shared-device"]
    assert ProfileAlias.objects.get(anonymous_id="shared-device").profile.user_id == "user-2"


def test_identify_needs_a_user_or_anonymous_id(api, secrets):
    response = api.post("/profile", {"properties": {"a": 1}}, key=secrets["writeOnly"])
    assert response.status_code == 400
    assert response.json()["field"] == "userId"
    response = api.post("/profile", {"userId": None, "anonymousId": None}, key=secrets["writeOnly"])
    assert response.status_code == 400
    assert stored() == NOTHING


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"userId": 1}, "userId"),
        ({"userId": "u", "anonymousId": ["a"]}, "anonymousId"),
        ({"userId": "u", "externalId": {}}, "externalId"),
        ({"userId": "u", "properties": ["a"]}, "properties"),
        ({"userId": "u", "deviceData": "x"}, "deviceData"),
        ({"userId": "u" * 201}, "userId"),
    ],
)
def test_invalid_identify_is_400(api, secrets, body, field):
    response = api.post("/profile", body, key=secrets["writeOnly"])
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert stored() == NOTHING


def test_unknown_profile_is_404(profile):
    response = profile("nobody")
    assert response.status_code == 404
    assert response.json() == {"code": "profile_not_found", "detail": "No profile has this userId."}


def test_user_ids_with_slashes_and_spaces_are_found(identify, profile):
    identify(userId="team/a b", properties={})
    assert profile("team/a%20b").json()["id"] == "team/a b"


def test_profiles_are_per_workspace(identify, api, other_created):
    identify(userId="user-1", properties={"secret": "acme's"})
    response = api.get("/profile/user-1", key=other_created.secrets()["readWrite"])
    assert response.status_code == 404
