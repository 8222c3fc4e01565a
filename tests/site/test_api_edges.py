"""The edges of the APIs: unknown paths answer JSON, error texts read intact, bodiless metrics.

Through the real middleware stack (Django's test client): URL resolution, the handler404,
authentication, the exception handler and the redactor all run as in production.
"""

import base64
import importlib
import inspect
import pkgutil

import pytest
from rest_framework.exceptions import APIException

from core.exceptions import INVALID_KEY_DETAIL
from core.redaction import redact
from metrics.exceptions import InvalidToken
from metrics.services import saved_metric_create
from tests.support.api import event
from tests.support.metrics import exchange

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/event/ingest/batch/"),
        ("GET", "/event/ingest/batch/"),
        ("POST", "/product"),
        ("GET", "/metrics/whatever"),
        ("POST", "/metrics/query/a/b"),
        ("DELETE", "/nothing/here"),
    ],
)
def test_an_unknown_api_path_answers_json_404(client, method, path):
    response = client.generic(method, path, "{}", content_type="application/json")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found" and response.json()["detail"]


@pytest.mark.parametrize("path", ["/event/ingest/batch", "/event/ingest", "/metrics/query"])
def test_a_known_api_path_with_the_wrong_method_answers_json_405(client, secrets, token, path):
    # With a credential the path accepts, the method is what is wrong: 405. Without one, the
    # key check comes first (DRF authenticates before it looks for the method): 401.
    credential = token if path.startswith("/metrics/") else secrets["readWrite"]
    response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {credential}")
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "method_not_allowed"
    anonymous = client.get(path)
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"].startswith("application/json")


def test_a_page_path_keeps_its_html_404(client):
    response = client.get("/w/no-such-workspace/nothing/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_the_invalid_token_answer_reads_intact(client):
    response = client.post("/metrics/query/x", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401
    assert response.json() == {"code": "invalid_token", "detail": InvalidToken.default_detail}
    assert "Bearer <token>" in response.json()["detail"]


def _vocabulary() -> dict[str, str]:
    """Every static error text of the project's APIs: each error class's default detail."""
    for package in ("core", "apikeys", "ingest", "metrics", "userflux_site"):
        root = importlib.import_module(package)
        for module in pkgutil.walk_packages(root.__path__, f"{package}."):
            if "migrations" not in module.name and "management" not in module.name:
                importlib.import_module(module.name)
    texts = {"INVALID_KEY_DETAIL": INVALID_KEY_DETAIL}
    pending = [APIException]
    while pending:
        error = pending.pop()
        pending.extend(error.__subclasses__())
        if error.__module__.split(".")[0] in {"core", "apikeys", "ingest", "metrics"}:
            texts[error.__qualname__] = str(error.default_detail)
    for package in ("core.exceptions", "ingest.exceptions", "metrics.exceptions"):
        for name, value in inspect.getmembers(importlib.import_module(package)):
            if name.endswith("_DETAIL") and isinstance(value, str):
                texts[name] = value
    return texts


def test_every_static_error_message_survives_redaction_unchanged():
    texts = _vocabulary()
    assert {"InvalidToken", "InvalidKey", "EventNotAllowed", "InvalidBody"} <= set(texts)
    changed = {name: text for name, text in texts.items() if redact(text) != text}
    assert changed == {}


def test_the_redactor_still_redacts_real_credentials():
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    assert token not in redact(f"Authorization: Bearer {token}")
    assert redact(f"authorization: bearer {token}") == "authorization: bearer [redacted]"


@pytest.fixture
def metric(acme, actor):
    return saved_metric_create(
        workspace=acme.workspace,
        name="Signups",
        sql="SELECT count(*) AS n FROM eventsTable WHERE name = '@{e}'",
        variables={"e": "signup"},
        by=actor,
    )


def test_a_saved_metric_called_with_no_body_runs_with_its_defaults(client, token, metric):
    # UserFlux's example: headers only, no body and no Content-Type.
    response = client.generic(
        "POST", f"/metrics/query/{metric.pk}", b"", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200, response.content
    assert response.json()["rows"] == [{"n": 2}]
    # A body, when sent, is still read strictly.
    response = client.generic(
        "POST",
        f"/metrics/query/{metric.pk}",
        b"not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 400


def test_profiles_table_shows_the_profiles_events_make(client, acme, api, secrets):
    sent = event("page_view", userId="tracked-only", deviceData={"os": "Linux"})
    assert api.post("/event/ingest", sent, key=secrets["writeOnly"]).status_code == 204
    token = exchange(client, acme).json()["accessToken"]
    sql = (
        "SELECT userId, createdAt, lastSeenAt, deviceData, location FROM profilesTable "
        "WHERE userId = 'tracked-only'"
    )
    response = client.post(
        "/metrics/query",
        {"encodedQuery": base64.b64encode(sql.encode()).decode()},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content
    [row] = response.json()["rows"]
    assert row["userId"] == "tracked-only" and row["createdAt"]
    assert row["lastSeenAt"].startswith("2026-01-01")
    assert row["location"] is None
