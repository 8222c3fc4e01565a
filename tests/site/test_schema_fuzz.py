"""Property-based fuzz of the OpenAPI schema (schemathesis): no 5xx, no answer against it.

Every operation of `/api/schema` is called in-process with generated requests, a bounded
number of examples each, carrying real credentials so that the calls get past
authentication: a Read & Write key for the Integration API, an access token for the Metrics
API (the token exchange itself gets generated credentials, which fail as they should).
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.metrics import exchange
from userflux_site.wsgi import application

pytestmark = pytest.mark.django_db

EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def in_process():
    """Call the WSGI application as Django's test client does: without closing the test's
    database connection at the end of each request (it is inside the test's transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(client, created):
    """The credential each operation needs, by path prefix."""
    token = exchange(client, created).json()["accessToken"]
    return {"/metrics/query": token, "/metrics/auth": None, "/": created.secrets()["readWrite"]}


def test_no_answer_is_a_server_error_or_against_the_schema(bearer, in_process):
    schema = schemathesis.openapi.from_wsgi("/api/schema", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8

    for operation in operations:
        secret = next(
            value for prefix, value in bearer.items() if operation.path.startswith(prefix)
        )
        _fuzz(operation, {"Authorization": f"Bearer {secret}"} if secret else {})


def _fuzz(operation, headers):
    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def call(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)

    call()


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/metrics/auth/token", {"clientSecret", "environmentApiKey"}),
        ("/metrics/query", {"encodedQuery", "variables"}),
        ("/metrics/query/{metric_id}", {"variables"}),
    ],
)
def test_the_metrics_endpoints_have_their_request_bodies(client, path, fields):
    document = client.get("/api/schema", HTTP_ACCEPT="application/json").json()
    body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    name = body["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(document["components"]["schemas"][name]["properties"]) == fields
