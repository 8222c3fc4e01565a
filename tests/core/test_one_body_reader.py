"""Both APIs read bodies with one reader and record refusals with one recorder, through HTTP."""

import base64
import json

import pytest

from apikeys.models import RejectedCall
from metrics import apis as metrics_apis
from tests.support.api import event, stored

pytestmark = pytest.mark.django_db

ENCODED = base64.b64encode(b"SELECT count(*) AS n FROM eventsTable").decode()
REFUSED_BODIES = [
    pytest.param('{"name": "a", "userId": "u", "timestamp": NaN}', id="NaN"),
    pytest.param('{"name": "a", "userId": "u", "timestamp": -Infinity}', id="Infinity"),
    pytest.param('{"name": "a", "name": "b", "userId": "u"}', id="duplicate-key"),
    pytest.param('{"name": "a", "userId": "u", "v": {"x": 1, "x": 2}}', id="nested-duplicate"),
    pytest.param('{"name": "a", "userId": "u", "v": 1e400}', id="huge-number"),
    pytest.param('{"name": "a", "userId": "u", "v": "\\u0000"}', id="NUL"),
    pytest.param('{"v": ' + "[" * 40 + "]" * 40 + "}", id="too-deep"),
    pytest.param("", id="empty"),
    pytest.param("[]", id="not-an-object"),
]


def _metrics_query(client, token, body, content_type="application/json"):
    return client.generic(
        "POST",
        "/metrics/query",
        body,
        content_type=content_type,
        CONTENT_TYPE=content_type,  # the test client drops it when the body is empty
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def _metrics_exchange(client, body, content_type="application/json"):
    return client.generic(
        "POST", "/metrics/auth/token", body, content_type=content_type, CONTENT_TYPE=content_type
    )


@pytest.mark.parametrize("body", REFUSED_BODIES)
def test_every_api_refuses_what_ingestion_refuses(api, secrets, client, token, body):
    before = stored()
    ingested = api.post("/event/ingest", body, key=secrets["writeOnly"])
    queried = _metrics_query(client, token, body)
    exchanged = _metrics_exchange(client, body)
    for response in (ingested, queried, exchanged):
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "invalid_body"
    assert stored() == before


def test_a_metrics_body_that_is_neither_nan_nor_duplicate_is_still_read(client, token):
    body = json.dumps({"encodedQuery": ENCODED, "variables": {}})
    response = _metrics_query(client, token, body)
    assert response.status_code == 200, response.content


def test_an_oversized_body_is_413_on_every_api(api, secrets, client, token, settings):
    settings.INGEST_MAX_BODY_BYTES = 1000
    padding = "x" * (metrics_apis.MAX_BODY_BYTES + 1)
    ingested = api.post("/event/ingest", event(padding="x" * 2000), key=secrets["writeOnly"])
    queried = _metrics_query(client, token, json.dumps({"encodedQuery": ENCODED, "p": padding}))
    exchanged = _metrics_exchange(client, json.dumps({"p": padding}))
    for response in (ingested, queried, exchanged):
        assert response.status_code == 413, response.content
        assert response.json()["code"] == "body_too_large"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_a_body_that_is_not_json_in_utf8_is_415_on_every_api(
    api, secrets, client, token, content_type
):
    body = json.dumps({"encodedQuery": ENCODED})
    ingested = api.post("/event/ingest", body, key=secrets["writeOnly"], content_type=content_type)
    queried = _metrics_query(client, token, body, content_type)
    exchanged = _metrics_exchange(client, body, content_type)
    for response in (ingested, queried, exchanged):
        assert response.status_code == 415, response.content
        assert response.json()["code"] == "unsupported_media_type"


def _refusals_of(key) -> set[tuple[str, str]]:
    return set(RejectedCall.objects.filter(key=key).values_list("reason", "method"))


def test_both_apis_record_the_same_refusals(api, secrets, wo_key, client, acme, token, settings):
    settings.INGEST_MAX_BODY_BYTES = 1000
    metrics_key = acme.keys["metrics"].key
    oversized = json.dumps({"p": "x" * (metrics_apis.MAX_BODY_BYTES + 1)})
    calls = {
        "invalid_body": ('{"a": NaN}', "application/json"),
        "body_too_large": (oversized, "application/json"),
        "unsupported_media_type": ("{}", "text/plain"),
    }
    for body, content_type in calls.values():
        api.post("/event/ingest", body, key=secrets["writeOnly"], content_type=content_type)
        _metrics_query(client, token, body, content_type)
    expected = {(reason, "POST") for reason in calls}
    assert _refusals_of(wo_key) == expected
    assert _refusals_of(metrics_key) == expected


def test_a_call_without_credentials_is_recorded_alike_by_both_apis(api, client, created):
    assert api.post("/event/ingest", event()).status_code == 401
    assert client.post("/metrics/query", {}, content_type="application/json").status_code == 401
    rows = RejectedCall.objects.filter(key=None).values_list("reason", "path")
    assert set(rows) == {("missing_key", "/event/ingest"), ("missing_key", "/metrics/query")}
