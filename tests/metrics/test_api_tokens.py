"""The token exchange and the token check: expiry, rolls, revocation, wrong halves, limits."""

import pytest
from django.utils import timezone

from apikeys.models import ApiKey, KeySecret
from apikeys.services import api_key_revoke, api_key_roll, api_key_set_access_mode, ip_rule_add
from tests.support.metrics import exchange, query

pytestmark = pytest.mark.django_db

SQL = "SELECT count(*) AS n FROM eventsTable"


def test_exchange_answers_a_bearer_token_that_is_never_cached(client, acme):
    response = exchange(client, acme)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"accessToken", "tokenType", "expiresIn"}
    assert body["tokenType"] == "Bearer" and body["expiresIn"] == 900
    assert body["accessToken"].startswith("uf_at_")
    assert "no-store" in response["Cache-Control"]
    stored = KeySecret.objects.get(role="access_token")
    assert stored.hash != body["accessToken"] and body["accessToken"] not in stored.mask


def test_the_lifetime_comes_from_settings(client, acme, settings):
    settings.METRICS_TOKEN_LIFETIME_SECONDS = 60
    assert exchange(client, acme).json()["expiresIn"] == 60


@pytest.mark.parametrize("wrong", ["environmentApiKey", "clientSecret", "both", "swapped"])
def test_wrong_credentials_get_one_answer_whichever_half_is_wrong(
    client, acme, other_created, wrong
):
    good, other = acme.secrets(), other_created.secrets()
    body = {"environmentApiKey": good["metricsApiKey"], "clientSecret": good["metricsClientSecret"]}
    if wrong in ("environmentApiKey", "both"):
        body["environmentApiKey"] = other["metricsApiKey"]
    if wrong in ("clientSecret", "both"):
        body["clientSecret"] = other["metricsClientSecret"][:-1] + "x"
    if wrong == "swapped":
        body = {
            "environmentApiKey": body["clientSecret"],
            "clientSecret": body["environmentApiKey"],
        }
    response = client.post("/metrics/auth/token", body, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_client"
    assert not KeySecret.objects.filter(role="access_token").exists()


@pytest.mark.parametrize(
    "body", [{}, {"environmentApiKey": 5, "clientSecret": None}, {"clientSecret": "x"}]
)
def test_malformed_exchanges_are_refused(client, acme, body):
    response = client.post("/metrics/auth/token", body, content_type="application/json")
    assert response.status_code == 401 and response.json()["code"] == "invalid_client"


def test_the_exchange_needs_json(client, acme):
    response = client.post("/metrics/auth/token", "x=1", content_type="text/plain")
    assert response.status_code == 415


def test_failed_exchanges_are_limited_per_address(client, acme, settings):
    settings.AUTH_FAILURE_LIMIT = 3
    bad = {"environmentApiKey": acme.secrets()["metricsApiKey"], "clientSecret": "nope"}
    statuses = [
        client.post("/metrics/auth/token", bad, content_type="application/json").status_code
        for _ in range(5)
    ]
    assert statuses[:3] == [401, 401, 401] and statuses[3:] == [429, 429]
    blocked = exchange(client, acme)  # even the right pair waits now
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) >= 1


def test_failed_exchanges_are_limited_per_api_key(client, acme, settings):
    """A guesser spread over many addresses is still stopped on the key it aims at."""
    settings.AUTH_FAILURE_LIMIT = 3
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    bad = {"environmentApiKey": acme.secrets()["metricsApiKey"], "clientSecret": "nope"}
    statuses = [
        client.post(
            "/metrics/auth/token",
            bad,
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(1, 6)
    ]
    assert statuses[-1] == 429


def test_a_token_reads_and_other_credentials_do_not(client, acme, token):
    assert query(client, token, SQL).status_code == 200
    secrets = acme.secrets()
    for other in (secrets["readWrite"], secrets["metricsApiKey"], secrets["metricsClientSecret"]):
        response = query(client, other, SQL)
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"
        assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_no_token_is_401_with_a_bearer_challenge(client, acme):
    response = client.post("/metrics/query", {}, content_type="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_expired_token_is_refused(client, acme, token):
    KeySecret.objects.filter(role="access_token").update(retires_at=timezone.now())
    from apikeys import keycache

    keycache.key_config_changed()
    response = query(client, token, SQL)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


@pytest.mark.parametrize("change", ["roll_api_key", "roll_client_secret", "revoke"])
def test_rolling_or_revoking_ends_every_token_at_once(
    client, acme, token, actor, change, django_capture_on_commit_callbacks
):
    key = ApiKey.objects.get(workspace=acme.workspace, kind="metrics")
    assert query(client, token, SQL).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        if change == "revoke":
            api_key_revoke(key=key, by=actor)
        else:
            role = "primary" if change == "roll_api_key" else "client_secret"
            api_key_roll(key=key, grace="7d", role=role, by=actor)
    response = query(client, token, SQL)
    assert response.status_code == 401 and response.json()["code"] == "invalid_token"


def test_a_rolled_half_with_grace_still_exchanges_but_old_tokens_end(
    client, acme, token, actor, django_capture_on_commit_callbacks
):
    key = ApiKey.objects.get(workspace=acme.workspace, kind="metrics")
    with django_capture_on_commit_callbacks(execute=True):
        api_key_roll(key=key, grace="1h", role="client_secret", by=actor)
    assert query(client, token, SQL).status_code == 401
    fresh = exchange(client, acme)  # the old client secret is inside its grace
    assert fresh.status_code == 200
    assert query(client, fresh.json()["accessToken"], SQL).status_code == 200


def test_access_control_holds_at_the_exchange_and_on_every_query(
    client, acme, token, actor, django_capture_on_commit_callbacks
):
    key = ApiKey.objects.get(workspace=acme.workspace, kind="metrics")
    with django_capture_on_commit_callbacks(execute=True):
        ip_rule_add(key=key, network="203.0.113.0/24", by=actor)
        api_key_set_access_mode(key=key, mode="specific", by=actor)
    response = query(client, token, SQL)
    assert response.status_code == 403 and response.json()["code"] == "ip_not_allowed"
    response = exchange(client, acme)
    assert response.status_code == 403 and response.json()["code"] == "ip_not_allowed"
    allowed = exchange(client, acme, REMOTE_ADDR="203.0.113.9")
    assert allowed.status_code == 200
    assert (
        query(client, allowed.json()["accessToken"], SQL, REMOTE_ADDR="203.0.113.9").status_code
        == 200
    )


def test_refused_queries_are_recorded_without_the_token(client, acme, token, actor):
    from apikeys.models import RejectedCall

    query(client, token[:-1] + "x", SQL)
    rows = list(RejectedCall.objects.values_list("reason", "path"))
    assert rows and rows[0][1] == "/metrics/query"
    assert token not in repr(list(RejectedCall.objects.values()))
