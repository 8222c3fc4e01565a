"""Queries through the API: the contract's example, saved metrics, and the result cache."""

import datetime as dt
import json

import pytest
from django.core.cache import cache
from django.utils import timezone

from apikeys.models import ApiKey
from apikeys.services import metrics_cache_ttl_set
from metrics import cache as result_cache
from metrics.models import SavedMetric
from metrics.services import saved_metric_create, saved_metric_update
from tests.support.isolation import forget_own_keys
from tests.support.metrics import exchange, query

pytestmark = pytest.mark.django_db

EXAMPLE = (
    "SELECT timestamp, userId, anonymousId, name, ufProperties.urlPath AS pagePath "
    "FROM eventsTable WHERE name = '@{eventName}' LIMIT @{rowLimit}"
)


def test_userflux_example_returns_the_workspaces_rows(client, acme, globex, token):
    response = query(client, token, EXAMPLE, {"eventName": "signup", "rowLimit": 10})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["columns"] == ["timestamp", "userId", "anonymousId", "name", "pagePath"]
    assert sorted(row["userId"] for row in body["rows"]) == ["a1", "a2"]
    assert all(row["pagePath"].startswith("/acme/") for row in body["rows"])
    assert body["rowCount"] == 2 and body["truncated"] is False
    assert body["cached"] is False and body["cachedUntil"]


def test_the_same_sql_from_two_workspaces_gets_two_answers(client, acme, globex, token):
    sql = "SELECT count(*) AS n FROM eventsTable WHERE name = 'signup'"
    assert query(client, token, sql).json()["rows"] == [{"n": 2}]
    other = exchange(client, globex).json()["accessToken"]
    answer = query(client, other, sql).json()
    assert answer["rows"] == [{"n": 3}] and answer["cached"] is False
    assert query(client, other, sql).json()["cached"] is True


def test_answers_are_cached_for_the_workspaces_ttl(client, acme, token, actor, monkeypatch):
    metrics_key = ApiKey.objects.get(workspace=acme.workspace, kind="metrics")
    metrics_cache_ttl_set(key=metrics_key, minutes=30, by=actor)
    fresh = exchange(client, acme).json()["accessToken"]
    sql = "SELECT count(*) AS n FROM eventsTable"
    first = query(client, fresh, sql).json()
    until = dt.datetime.fromisoformat(first["cachedUntil"].replace("Z", "+00:00"))
    assert dt.timedelta(minutes=29) < until - timezone.now() <= dt.timedelta(minutes=30)
    from ingest.models import Event

    Event.objects.filter(workspace=acme.workspace).delete()
    second = query(client, fresh, sql).json()
    assert second["cached"] is True and second["rows"] == first["rows"]
    assert second["cachedUntil"] == first["cachedUntil"]
    if hasattr(cache, "ttl"):  # Redis: the entry itself expires with the TTL
        keys = cache.keys("metrics:result:*")
        assert keys and 29 * 60 < cache.ttl(keys[0]) <= 30 * 60
    # What the TTL's end does, in both layers: the shared entry expires, and so does this
    # process's copy, at its cachedUntil.
    forget_own_keys()
    assert query(client, fresh, sql).json()["cached"] is True  # this process's copy
    monkeypatch.setattr(result_cache.time, "time", lambda: until.timestamp() + 1)
    assert query(client, fresh, sql).json()["rows"] == [{"n": 0}]


def test_another_variable_value_is_another_entry(client, acme, token):
    sql = "SELECT count(*) AS n FROM eventsTable WHERE name = '@{e}'"
    assert query(client, token, sql, {"e": "signup"}).json()["rows"] == [{"n": 2}]
    answer = query(client, token, sql, {"e": "page_view"}).json()
    assert answer["rows"] == [{"n": 1}] and answer["cached"] is False


def test_errors_are_not_cached(client, acme, token):
    for _ in range(2):
        response = query(client, token, "SELECT * FROM auth_user")
        assert response.status_code == 403 and response.json()["code"] == "forbidden_table"
    assert not result_cache._local.entries
    if hasattr(cache, "keys"):
        assert not cache.keys("metrics:result:*")
    else:
        assert not any("metrics:result" in str(k) for k in cache._cache)


def test_another_process_finds_what_this_one_stored(client, acme, token):
    """The shared cache is always written: a process with no copy of its own reads it there."""
    sql = "SELECT count(*) AS n FROM eventsTable"
    first = query(client, token, sql).json()
    result_cache.local_reset()  # a process that never saw the answer
    second = query(client, token, sql).json()
    assert second["cached"] is True and second["cachedUntil"] == first["cachedUntil"]


@pytest.mark.parametrize(
    ("sql", "status", "code"),
    [
        ("DELETE FROM eventsTable", 400, "invalid_sql"),
        ("SELECT pg_sleep(10)", 403, "forbidden_function"),
        ("SELECT * FROM eventsTable WHERE name = '@{missing}'", 400, "missing_variable"),
    ],
)
def test_refusals_answer_with_their_code(client, acme, token, sql, status, code):
    response = query(client, token, sql)
    assert response.status_code == status and response.json()["code"] == code
    assert response.json()["detail"]


def test_bad_bodies(client, acme, token):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    bad_base64 = client.post(
        "/metrics/query", {"encodedQuery": "***"}, content_type="application/json", **auth
    )
    assert bad_base64.status_code == 400 and bad_base64.json()["code"] == "invalid_sql"
    bad_vars = client.post(
        "/metrics/query",
        {"encodedQuery": "U0VMRUNUIDE=", "variables": [1]},
        content_type="application/json",
        **auth,
    )
    assert bad_vars.status_code == 400 and bad_vars.json()["field"] == "variables"
    not_json = client.post("/metrics/query", "{", content_type="application/json", **auth)
    assert not_json.status_code == 400


def test_a_revoked_token_cannot_read_a_cached_answer(
    client, acme, token, actor, django_capture_on_commit_callbacks
):
    from apikeys.services import api_key_roll

    sql = "SELECT count(*) AS n FROM eventsTable"
    query(client, token, sql)
    assert query(client, token, sql).json()["cached"] is True
    key = ApiKey.objects.get(workspace=acme.workspace, kind="metrics")
    with django_capture_on_commit_callbacks(execute=True):
        api_key_roll(key=key, grace="none", role="client_secret", by=actor)
    assert query(client, token, sql).status_code == 401


@pytest.fixture
def metric(acme, actor):
    return saved_metric_create(
        workspace=acme.workspace,
        name="Signups",
        sql="SELECT count(*) AS n FROM eventsTable WHERE name = '@{e}'",
        variables={"e": "signup"},
        by=actor,
    )


def _run(client, token, metric_id, variables=None):
    return client.post(
        f"/metrics/query/{metric_id}",
        {"variables": variables or {}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_a_saved_metric_runs_with_its_defaults_and_overrides(client, token, metric):
    assert _run(client, token, metric.pk).json()["rows"] == [{"n": 2}]
    assert _run(client, token, metric.pk, {"e": "page_view"}).json()["rows"] == [{"n": 1}]


def test_another_workspaces_metric_is_404(client, globex, token, metric):
    other = exchange(client, globex).json()["accessToken"]
    response = _run(client, other, metric.pk)
    assert response.status_code == 404 and response.json()["code"] == "metric_not_found"
    for bad_id in ["not-a-uuid", "00000000-0000-0000-0000-000000000000"]:
        assert _run(client, token, bad_id).status_code == 404


def test_editing_a_metric_retires_its_cached_answers(client, token, metric, actor):
    _run(client, token, metric.pk)
    assert _run(client, token, metric.pk).json()["cached"] is True
    saved_metric_update(
        metric=metric,
        name="Page views",
        sql="SELECT count(*) AS n FROM eventsTable WHERE name = '@{e}'",
        variables={"e": "page_view"},
        by=actor,
    )
    answer = _run(client, token, metric.pk).json()
    assert answer["cached"] is False and answer["rows"] == [{"n": 1}]
    assert SavedMetric.objects.get(pk=metric.pk).version == 2


def test_answers_are_stored_as_json_text_never_pickles(client, acme, token, settings):
    query(client, token, "SELECT count(*) AS n FROM eventsTable")
    key = next(iter(result_cache._local.entries))
    raw = cache.get(key)
    assert isinstance(raw, str) and json.loads(raw)["rows"] == [{"n": 3}]
    if "RedisCache" in settings.CACHES["default"]["BACKEND"]:
        serializer = settings.CACHES["default"]["OPTIONS"]["SERIALIZER"]
        assert serializer.endswith("JSONSerializer")
