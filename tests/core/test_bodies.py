"""Hostile and broken bodies: 400 with the field (and index), 413, 415, and nothing stored."""

import json

import pytest

from tests.support.api import NOTHING, event, stored

pytestmark = pytest.mark.django_db


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _nested_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def _event_json(**fields) -> str:
    return json.dumps(event(**fields))


NOW_PLUS_TWO_DAYS = "__future__"

INVALID_SINGLE = [
    # (raw body, field at fault or None)
    ("", None),
    ("not json", None),
    ('{"name": "a", "userId": "u"', None),
    ("[]", None),
    ('[{"name": "a", "userId": "u"}]', None),
    ('"page_view"', None),
    ("42", None),
    ("null", None),
    ("true", None),
    ('{"name": "a", "name": "b", "userId": "u"}', None),  # duplicate keys
    ('{"name": "a", "userId": "u", "properties": {"x": 1, "x": 2}}', None),
    ('{"name": "a", "userId": "u", "timestamp": NaN}', None),
    ('{"name": "a", "userId": "u", "timestamp": Infinity}', None),
    ('{"name": "a", "userId": "u", "properties": {"big": 1e400}}', None),
    ('{"name": "a", "userId": "u", "properties": {"p": "\\u0000"}}', None),  # NUL
    ('{"name": "a", "userId": "u", "properties": {"p": "\\ud800"}}', None),  # lone surrogate
    ('{"name": "a", "userId": "u", "properties": {"\\udfff": 1}}', None),
    ('{"name": "a", "userId": "u", "properties": ' + _nested(40) + "}", None),
    ('{"name": "a", "userId": "u", "properties": {"l": ' + _nested_list(40) + "}}", None),
    (_nested(5000), None),
    (_nested_list(100_000), None),
    (b'{"name": "\xff", "userId": "u"}', None),  # not UTF-8
    ('{"userId": "u"}', "name"),
    ('{"name": null, "userId": "u"}', "name"),
    ('{"name": "", "userId": "u"}', "name"),
    ('{"name": 42, "userId": "u"}', "name"),
    ('{"name": ["a"], "userId": "u"}', "name"),
    ('{"name": "page view", "userId": "u"}', "name"),
    ('{"name": "page\\tview", "userId": "u"}', "name"),
    ('{"name": "page\\nview", "userId": "u"}', "name"),
    ('{"name": "page\\u0007view", "userId": "u"}', "name"),
    ('{"name": "page\\u00a0view", "userId": "u"}', "name"),  # no-break space
    ('{"name": "page\\u2028view", "userId": "u"}', "name"),
    ('{"name": "page\\u200bview", "userId": "u"}', "name"),  # zero-width space
    ('{"name": "trailing ", "userId": "u"}', "name"),
    (_event_json(name="x" * 201), "name"),
    (_event_json(name="x" * 100_000), "name"),
    (_event_json(timestamp="1767225600000"), "timestamp"),
    (_event_json(timestamp=True), "timestamp"),
    (_event_json(timestamp={"ms": 1}), "timestamp"),
    (_event_json(timestamp=1_767_225_600), "timestamp"),  # seconds, not milliseconds: 1970
    (_event_json(timestamp=0), "timestamp"),
    (_event_json(timestamp=-1), "timestamp"),
    (_event_json(timestamp=10**20), "timestamp"),
    (_event_json(timestamp=253_402_300_800_000), "timestamp"),  # year 10000
    (NOW_PLUS_TWO_DAYS, "timestamp"),
    (_event_json(userId=42), "userId"),
    (_event_json(userId=True), "userId"),
    (_event_json(userId={"id": 1}), "userId"),
    (_event_json(userId="u" * 201), "userId"),
    (_event_json(userId="u" * 500_000), "userId"),
    (_event_json(anonymousId=["a"]), "anonymousId"),
    (_event_json(externalId=7), "externalId"),
    (_event_json(sessionId=7.5), "sessionId"),
    (_event_json(userId=None, anonymousId=None), "userId"),
    (_event_json(properties=[]), "properties"),
    (_event_json(properties="plan=pro"), "properties"),
    (_event_json(properties=1), "properties"),
    (_event_json(deviceData="Chrome"), "deviceData"),
    (_event_json(deviceData=[]), "deviceData"),
]


def _future_body() -> str:
    import time

    return _event_json(timestamp=int(time.time() * 1000) + 2 * 86_400_000)


@pytest.mark.parametrize(("body", "field"), INVALID_SINGLE)
def test_invalid_single_event_is_400(api, secrets, body, field):
    if body == NOW_PLUS_TWO_DAYS:
        body = _future_body()
    response = api.post("/event/ingest", body, key=secrets["writeOnly"])
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["code"] == "invalid_body"
    assert payload.get("field") == field
    assert "index" not in payload
    assert stored() == NOTHING


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "events"),
        ({"events": None}, "events"),
        ({"events": {"0": event()}}, "events"),
        ({"events": "[]"}, "events"),
        ({"events": event()}, "events"),
        ([event()], None),
    ],
)
def test_a_body_that_is_not_a_batch_is_400_whole_and_stores_nothing(api, secrets, body, field):
    response = api.post("/event/ingest/batch", body, key=secrets["writeOnly"])
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "invalid_body"
    assert payload.get("field") == field
    assert "index" not in payload and "rejected" not in payload
    assert stored() == NOTHING


@pytest.mark.parametrize(
    ("events", "field", "index"),
    [
        ([event(), "page_view"], None, 1),
        ([event(), event(name="signup"), None], None, 2),
        ([event(), event(name="bad name")], "name", 1),
        ([event(), event(name="signup"), event(timestamp="now")], "timestamp", 2),
        ([event(userId=None, anonymousId=None), event()], "userId", 0),
        ([event(name=f"e{n}") for n in range(9)] + [event(properties=[])], "properties", 9),
        ([event(), event(eventId=7)], "eventId", 1),
        ([event(), event(eventId="x" * 201)], "eventId", 1),
    ],
)
def test_an_invalid_event_is_rejected_alone_by_index_and_field(api, secrets, events, field, index):
    response = api.post("/event/ingest/batch", {"events": events}, key=secrets["writeOnly"])
    assert response.status_code == 200, response.content
    payload = response.json()
    assert payload["accepted"] == len(events) - 1
    [rejected] = payload["rejected"]
    assert rejected["index"] == index and rejected["code"] == "invalid_event"
    assert rejected.get("field") == field and rejected["detail"]
    assert stored()["events"] == len(events) - 1


def test_a_batch_of_only_invalid_events_is_400_with_the_rejected_list(api, secrets):
    events = [event(userId=None, anonymousId=None), event(name="bad name")]
    response = api.post("/event/ingest/batch", {"events": events}, key=secrets["writeOnly"])
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "invalid_body" and payload["detail"]
    assert [(item["index"], item["field"]) for item in payload["rejected"]] == [
        (0, "userId"),
        (1, "name"),
    ]
    assert payload["rejected"][1]["name"] == "bad name"
    assert stored() == NOTHING


def test_body_over_the_limit_is_413_before_it_is_read(api, secrets, settings):
    settings.INGEST_MAX_BODY_BYTES = 1000
    body = json.dumps(event(properties={"pad": "x" * 2000}))
    response = api.post("/event/ingest", body, key=secrets["writeOnly"])
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"
    assert stored() == NOTHING


def test_body_longer_than_its_content_length_claims_is_cut_and_refused(api, secrets, settings):
    """A lying Content-Length cannot smuggle more than the limit: only that much is read."""
    settings.INGEST_MAX_BODY_BYTES = 1000
    body = json.dumps(event(properties={"pad": "x" * 2000}))
    response = api.post("/event/ingest", body, key=secrets["writeOnly"], CONTENT_LENGTH="500")
    assert response.status_code == 400  # the first 500 bytes are not a JSON document
    assert stored() == NOTHING


def test_default_limit_is_one_mebibyte(api, secrets):
    huge = json.dumps(event(properties={"pad": "x" * (1024 * 1024)}))
    response = api.post("/event/ingest", huge, key=secrets["writeOnly"])
    assert response.status_code == 413
    just_under = json.dumps(event(properties={"pad": "x" * (1024 * 1024 - 300)}))
    assert api.post("/event/ingest", just_under, key=secrets["writeOnly"]).status_code == 204


def test_batch_over_the_event_limit_is_413(api, secrets, settings):
    settings.INGEST_MAX_BATCH_EVENTS = 5
    response = api.post("/event/ingest/batch", {"events": [event()] * 6}, key=secrets["writeOnly"])
    assert response.status_code == 413
    assert response.json()["code"] == "batch_too_large"
    assert (
        api.post(
            "/event/ingest/batch", {"events": [event()] * 5}, key=secrets["writeOnly"]
        ).status_code
        == 204
    )


def test_default_batch_limit_is_a_thousand(api, secrets):
    response = api.post(
        "/event/ingest/batch", {"events": [event()] * 1001}, key=secrets["writeOnly"]
    )
    assert response.status_code == 413
    assert stored() == NOTHING


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/json-patch+json",
        "application/json; charset=latin-1",
        "",
    ],
)
@pytest.mark.parametrize("path", ["/event/ingest", "/event/ingest/batch", "/profile"])
def test_non_json_content_type_is_415(api, secrets, content_type, path):
    body = {"events": [event()]} if path.endswith("batch") else event()
    response = api.post(path, body, key=secrets["writeOnly"], content_type=content_type)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert stored() == NOTHING


@pytest.mark.parametrize(
    "content_type", ["application/json", "Application/JSON", "application/json; charset=UTF-8"]
)
def test_json_content_types_are_accepted(api, secrets, content_type):
    response = api.post(
        "/event/ingest", event(), key=secrets["writeOnly"], content_type=content_type
    )
    assert response.status_code == 204


def test_unicode_and_deep_but_allowed_nesting_are_stored(api, secrets):
    properties = {"emoji": "🎉 naïve — ok", "nested": json.loads(_nested(25)), "big": 10**30}
    assert (
        api.post(
            "/event/ingest",
            event(name="café_ordered", properties=properties),
            key=secrets["writeOnly"],
        ).status_code
        == 204
    )
    assert stored()["events"] == 1


def test_bad_bodies_are_checked_only_after_the_key(api, secrets):
    response = api.post("/event/ingest", "not json")
    assert response.status_code == 401
    response = api.post("/event/ingest", event(), content_type="text/plain")
    assert response.status_code == 401
