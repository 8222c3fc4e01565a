"""Who may call: the 401s (one body for all), scopes, and the key's lifecycle."""

import time
from datetime import timedelta
from unittest import mock

import pytest
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.request import Request

from apikeys import crypto, keycache, services
from apikeys.authentication import IntegrationKeyAuthentication
from apikeys.models import ApiKey
from core import limiter
from core.actors import SYSTEM
from core.exceptions import InvalidKey
from tests.support.api import (
    NOTHING,
    event,
    key_changed_behind_services,
    stored,
    unknown_key,
)

pytestmark = pytest.mark.django_db

WRITE_ENDPOINTS = ["/event/ingest", "/event/ingest/batch", "/profile"]


def _body(path: str) -> dict:
    if path == "/event/ingest/batch":
        return {"events": [event()]}
    if path == "/profile":
        return {"userId": "user-1", "properties": {"plan": "pro"}}
    return event()


def _mangled(secret: str) -> list[str]:
    last = "A" if secret[-1] != "A" else "B"
    return [
        secret[:-1] + last,  # checksum off by one character
        secret[:10] + ("X" if secret[10] != "X" else "Y") + secret[11:],  # body typo
        secret.upper(),
        secret[:-1],
        secret + "A",
        secret.replace("uf_wo_", "uf_rw_"),  # right body, wrong prefix: checksum fails
        " " * 44,
        secret.replace("uf_", "uf-"),
    ]


def _assert_invalid_key(response) -> None:
    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_key",
        "detail": "Send a valid API key in the Authorization header, with the scheme “Bearer”.",
    }
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", WRITE_ENDPOINTS)
@pytest.mark.parametrize(
    "header",
    [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc", "bearer nonsense"],
)
def test_no_or_malformed_key_is_401_and_stores_nothing(api, created, path, header):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    _assert_invalid_key(api.post(path, _body(path), **extra))
    assert stored() == NOTHING


def test_mangled_keys_are_401_with_the_same_body(api, secrets):
    for secret in _mangled(secrets["writeOnly"]):
        _assert_invalid_key(api.post("/event/ingest", event(), key=secret))
    assert stored() == NOTHING


@pytest.mark.parametrize("name", ["metricsApiKey", "metricsClientSecret"])
def test_metrics_credentials_are_not_integration_keys(api, secrets, name):
    _assert_invalid_key(api.post("/event/ingest", event(), key=secrets[name]))
    assert stored() == NOTHING


def test_unknown_well_formed_key_is_401(api, created):
    _assert_invalid_key(api.post("/event/ingest", event(), key=unknown_key()))
    _assert_invalid_key(
        api.post("/event/ingest", event(), key=unknown_key(crypto.SecretKind.READ_WRITE))
    )
    assert stored() == NOTHING


def test_revoked_key_is_401_at_once(api, secrets, wo_key, django_capture_on_commit_callbacks):
    assert api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        services.api_key_revoke(key=wo_key, by=SYSTEM)
    _assert_invalid_key(api.post("/event/ingest", event(), key=secrets["writeOnly"]))
    assert stored()["events"] == 1


def test_expired_key_is_401(api, secrets, wo_key):
    key_changed_behind_services(wo_key, expires_at=timezone.now() - timedelta(seconds=1))
    _assert_invalid_key(api.post("/event/ingest", event(), key=secrets["writeOnly"]))
    assert stored() == NOTHING


def test_key_expiring_between_calls_is_refused_without_any_change_event(api, secrets, wo_key):
    """Expiry is a moment, not a change: the cached snapshot is judged against the clock."""
    services.api_key_set_expiry(
        key=wo_key, expires_at=timezone.now() + timedelta(hours=1), by=SYSTEM
    )
    assert api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code == 204
    later = timezone.now() + timedelta(hours=2)
    with mock.patch("apikeys.authentication.timezone.now", return_value=later):
        _assert_invalid_key(api.post("/event/ingest", event(), key=secrets["writeOnly"]))


def test_roll_without_grace_stops_the_old_secret_and_starts_the_new(
    api, secrets, wo_key, django_capture_on_commit_callbacks
):
    assert api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        new = services.api_key_roll(key=wo_key, grace="none", by=SYSTEM)
    _assert_invalid_key(api.post("/event/ingest", event(), key=secrets["writeOnly"]))
    assert api.post("/event/ingest", event(), key=new).status_code == 204


def test_roll_with_grace_keeps_the_old_secret_for_the_grace(
    api, secrets, wo_key, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        new = services.api_key_roll(key=wo_key, grace="1h", by=SYSTEM)
    assert api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code == 204
    assert api.post("/event/ingest", event(), key=new).status_code == 204


@pytest.mark.parametrize(
    "where",
    ["query", "body", "cookie", "x-api-key"],
)
def test_a_key_anywhere_but_the_authorization_header_is_ignored(api, client, secrets, where):
    secret = secrets["writeOnly"]
    if where == "query":
        response = api.post(f"/event/ingest?apiKey={secret}&key={secret}", event())
    elif where == "body":
        response = api.post("/event/ingest", event(apiKey=secret, key=secret))
    elif where == "cookie":
        client.cookies["apiKey"] = secret
        response = api.post("/event/ingest", event())
    else:
        response = api.post("/event/ingest", event(), HTTP_X_API_KEY=secret)
    _assert_invalid_key(response)
    assert secret not in response.content.decode()
    assert stored() == NOTHING


def test_bad_checksum_is_refused_without_database_or_cache(
    rf: RequestFactory, secrets, django_assert_num_queries, monkeypatch
):
    bad = secrets["writeOnly"][:-1] + ("A" if secrets["writeOnly"][-1] != "A" else "B")
    request = Request(rf.post("/event/ingest", HTTP_AUTHORIZATION=f"Bearer {bad}"))
    limiter._state.checked_at = time.monotonic()  # the limiter polled a moment ago
    with (
        django_assert_num_queries(0),
        mock.patch("apikeys.keycache.cache") as keycache_cache,
        mock.patch("core.limiter.cache") as limiter_cache,
        mock.patch("apikeys.keycache.snapshot_for_hash") as lookup,
        pytest.raises(InvalidKey),
    ):
        IntegrationKeyAuthentication().authenticate(request)
    lookup.assert_not_called()
    assert keycache_cache.method_calls == []
    assert limiter_cache.method_calls == []


def test_bad_checksum_endpoint_makes_no_query_once_its_refusal_is_logged(
    api, secrets, django_assert_num_queries
):
    bad = secrets["writeOnly"][:-1] + ("A" if secrets["writeOnly"][-1] != "A" else "B")
    _assert_invalid_key(api.post("/event/ingest", event(), key=bad))  # logs the refusal once
    with django_assert_num_queries(0):
        _assert_invalid_key(api.post("/event/ingest", event(), key=bad))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/profile/user-1", None),
        ("post", "/workflow/trigger", {"triggerId": "welcome", "userId": "user-1"}),
    ],
)
def test_write_only_key_is_refused_beyond_the_three_posts(api, secrets, method, path, body):
    call = (
        api.get(path, key=secrets["writeOnly"])
        if method == "get"
        else api.post(path, body, key=secrets["writeOnly"])
    )
    assert call.status_code == 403
    assert call.json()["code"] == "insufficient_scope"
    assert stored() == NOTHING


@pytest.mark.parametrize("path", WRITE_ENDPOINTS)
@pytest.mark.parametrize("name", ["writeOnly", "readWrite"])
def test_both_integration_keys_may_write(api, secrets, path, name):
    assert api.post(path, _body(path), key=secrets[name]).status_code == 204


def test_successful_call_marks_the_key_used_at_most_once_a_minute(
    api, secrets, wo_key, django_assert_num_queries
):
    keycache._local.last_used.clear()
    assert api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code == 204
    first = ApiKey.objects.get(pk=wo_key.pk).last_used_at
    assert first is not None
    assert api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code == 204
    assert ApiKey.objects.get(pk=wo_key.pk).last_used_at == first


def test_other_workspaces_key_writes_to_its_own_workspace(api, secrets, other_created, workspace):
    from ingest.models import Event

    other = other_created.secrets()["writeOnly"]
    assert api.post("/event/ingest", event("a"), key=secrets["writeOnly"]).status_code == 204
    assert api.post("/event/ingest", event("b"), key=other).status_code == 204
    assert dict(Event.objects.values_list("name", "workspace_id")) == {
        "a": workspace.id,
        "b": other_created.workspace.id,
    }


def test_rw_key_cannot_read_another_workspaces_profile(api, secrets, other_created):
    other_rw = other_created.secrets()["readWrite"]
    assert api.post("/profile", {"userId": "user-1"}, key=secrets["writeOnly"]).status_code == 204
    response = api.get("/profile/user-1", key=other_rw)
    assert response.status_code == 404
    assert response.json()["code"] == "profile_not_found"
