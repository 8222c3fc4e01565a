"""The token exchange and the token check: expiry, rolls, revocation, wrong halves, limits."""

import io
from datetime import timedelta

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


def _wrong_secret(client, acme, **extra):
    bad = {"environmentApiKey": acme.secrets()["metricsApiKey"], "clientSecret": "nope"}
    return client.post("/metrics/auth/token", bad, content_type="application/json", **extra)


def test_wrong_secrets_are_limited_per_api_key_and_address(client, acme, settings):
    settings.AUTH_FAILURE_LIMIT = 3
    statuses = [_wrong_secret(client, acme).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    blocked = _wrong_secret(client, acme)
    assert blocked.json()["code"] == "too_many_attempts" and int(blocked["Retry-After"]) >= 1
    # Another address has a bucket of its own for the same key.
    assert _wrong_secret(client, acme, REMOTE_ADDR="198.51.100.9").status_code == 401
    # The right pair is never refused for failed attempts, even from the blocked address.
    assert exchange(client, acme).status_code == 200


def test_25_wrong_secrets_from_x_then_the_right_pair_from_y(client, acme):
    """The issue's case, with the default limit: knowing the API key locks nobody out."""
    x, y = {"REMOTE_ADDR": "203.0.113.66"}, {"REMOTE_ADDR": "198.51.100.5"}
    statuses = [_wrong_secret(client, acme, **x).status_code for _ in range(25)]
    assert statuses == [401] * 20 + [429] * 5
    pair = {
        "environmentApiKey": acme.secrets()["metricsApiKey"],
        "clientSecret": acme.secrets()["metricsClientSecret"],
    }
    answer = client.post("/metrics/auth/token", pair, content_type="application/json", **y)
    assert answer.status_code == 200
    # Nor does X's bucket spill over to a neighbour's address.
    assert _wrong_secret(client, acme, REMOTE_ADDR="203.0.113.67").status_code == 401


def test_unknown_api_keys_are_counted_per_address(client, acme, settings):
    settings.AUTH_FAILURE_LIMIT = 3
    guess = {"environmentApiKey": "uf_mk_nope", "clientSecret": "nope"}
    statuses = [
        client.post("/metrics/auth/token", guess, content_type="application/json").status_code
        for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]
    assert exchange(client, acme).status_code == 200


def test_successful_exchanges_are_rate_limited_per_key(client, acme, other_created, settings):
    settings.METRICS_TOKEN_EXCHANGES_PER_MINUTE = 3
    assert [exchange(client, acme).status_code for _ in range(3)] == [200, 200, 200]
    limited = exchange(client, acme)
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert exchange(client, other_created).status_code == 200  # another key has its own count


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

    wrong = token[:-1] + ("y" if token.endswith("x") else "x")  # one in 64 tokens ends in "x"
    query(client, wrong, SQL)
    rows = list(RejectedCall.objects.values_list("reason", "path"))
    assert rows and rows[0][1] == "/metrics/query"
    assert token not in repr(list(RejectedCall.objects.values()))


def _clock(monkeypatch, moment):
    monkeypatch.setattr(timezone, "now", lambda: moment)


def test_a_token_never_outlives_the_grace_of_the_secret_it_came_from(
    client, acme, actor, monkeypatch, django_capture_on_commit_callbacks
):
    """Roll the client secret with 1 h grace; 59 minutes later exchange with the old secret;
    past the grace the token is refused, though its own lifetime (15 min) has not run out."""
    key = ApiKey.objects.get(workspace=acme.workspace, kind="metrics")
    with django_capture_on_commit_callbacks(execute=True):
        api_key_roll(key=key, grace="1h", role="client_secret", by=actor)
    rolled = timezone.now()
    _clock(monkeypatch, rolled + timedelta(minutes=59))
    answer = exchange(client, acme)  # acme's secrets are the old ones: inside their grace
    assert answer.status_code == 200
    assert answer.json()["expiresIn"] <= 60
    token = answer.json()["accessToken"]
    assert query(client, token, SQL).status_code == 200
    _clock(monkeypatch, rolled + timedelta(minutes=61))
    refused = query(client, token, SQL)
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_token"


def test_a_token_never_outlives_its_key(client, acme, actor, settings):
    from apikeys.services import api_key_set_expiry

    settings.METRICS_TOKEN_LIFETIME_SECONDS = 7200
    key = ApiKey.objects.get(workspace=acme.workspace, kind="metrics")
    api_key_set_expiry(key=key, expires_at=timezone.now() + timedelta(minutes=10), by=actor)
    answer = exchange(client, acme)
    assert answer.status_code == 200 and answer.json()["expiresIn"] <= 600
    stored = KeySecret.objects.get(role="access_token")
    assert stored.retires_at <= ApiKey.objects.get(pk=key.pk).expires_at


def test_expired_tokens_are_pruned_by_exchanges_and_by_the_command(client, acme, other_created):
    from django.core.management import call_command

    from metrics.tokens import EXPIRED_TOKENS_KEPT

    long_ago = timezone.now() - EXPIRED_TOKENS_KEPT - timedelta(minutes=1)
    for created in (acme, other_created):
        assert exchange(client, created).status_code == 200
    KeySecret.objects.filter(role="access_token").update(retires_at=long_ago)
    assert exchange(client, acme).status_code == 200  # prunes acme's own expired token
    assert KeySecret.objects.filter(role="access_token", retires_at=long_ago).count() == 1
    out = io.StringIO()
    call_command("metrics_tokens_prune", stdout=out)
    assert "Deleted 1 expired access token" in out.getvalue()
    assert KeySecret.objects.filter(role="access_token").count() == 1  # the live one stays
