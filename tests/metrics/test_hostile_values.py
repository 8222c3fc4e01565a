"""No 500 on hostile values: lone surrogates, numbers past Python's 4,300-digit limit."""

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from metrics.models import SavedMetric
from metrics.services import saved_metric_create
from tests.metrics.page.helpers import url
from tests.support.metrics import query

pytestmark = pytest.mark.django_db

SURROGATE = "\ud800"
BY_NAME = "SELECT count(*) AS n FROM eventsTable WHERE name = '@{e}'"


@pytest.mark.parametrize(
    "variables",
    [{"e": SURROGATE}, {"e": "a" + SURROGATE + "b"}, {"e": "x", SURROGATE: 1}],
)
def test_a_lone_surrogate_in_variables_is_a_400(client, acme, token, variables):
    # The body reader (core/jsonbody.py) refuses it first; the compiler would too (below).
    response = query(client, token, BY_NAME, variables)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_body"


@pytest.mark.parametrize("variables", [{"e": SURROGATE}, {"e": "x", SURROGATE: 1}])
def test_the_compiler_refuses_a_lone_surrogate_in_variables(variables):
    from metrics.sql import SqlError, compile_query

    with pytest.raises(SqlError) as caught:
        compile_query(BY_NAME, variables, dialect="sqlite", workspace_id=1, row_cap=5)
    assert caught.value.code == "invalid_variable"


def test_a_lone_surrogate_in_a_raw_json_body_is_a_400(client, acme, token):
    from tests.support.metrics import encoded

    # Written by hand: json.dumps would not let a lone surrogate through unescaped anyway.
    body = '{"encodedQuery": "' + encoded(BY_NAME) + '", "variables": {"e": "\\ud800"}}'
    response = client.post(
        "/metrics/query", body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert (response.status_code, response.json()["code"]) == (400, "invalid_body")


def test_a_default_with_a_lone_surrogate_is_refused_at_save_time(workspace, actor):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        saved_metric_create(
            workspace=workspace, name="Bad", sql=BY_NAME, variables={"e": SURROGATE}, by=actor
        )
    assert "variables" in caught.value.message_dict
    assert not SavedMetric.objects.filter(name="Bad").exists()


def test_the_page_refuses_a_default_with_a_lone_surrogate_on_its_field(admin_web, workspace):
    response = admin_web.post(
        url("create"),
        {"name": "Bad", "sql": BY_NAME, "variables": '{"e": "\\ud800"}'},
    )
    assert response.status_code == 400
    assert "lone surrogate" in response.content.decode()
    assert not SavedMetric.objects.filter(name="Bad").exists()


@pytest.fixture
def legacy_metric(workspace):
    """A metric saved before defaults were checked (SQLite stores the escape in its JSON)."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's jsonb never stored a lone surrogate")
    now = timezone.now()
    return SavedMetric.objects.create(
        workspace=workspace, name="Legacy", sql=BY_NAME, variables={"e": SURROGATE},
        created_at=now, updated_at=now,
    )  # fmt: skip


def test_a_stored_bad_default_breaks_neither_page_nor_admin(admin_web, admin_client, legacy_metric):
    page = admin_web.get(url("metric", legacy_metric))
    assert page.status_code == 200 and "\\ud800" in page.content.decode()
    assert admin_web.get(url("page")).status_code == 200
    admin = admin_client.get(reverse("admin:metrics_savedmetric_change", args=[legacy_metric.pk]))
    assert admin.status_code == 200 and "\\ud800" in admin.content.decode()
    run = admin_web.post(url("run", legacy_metric), {"variables": ""})
    assert run.status_code == 400 and "invalid_variable" in run.content.decode()


def test_a_stored_bad_default_is_a_400_through_the_api(client, token, legacy_metric):
    response = client.post(
        f"/metrics/query/{legacy_metric.pk}", {}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert (response.status_code, response.json()["code"]) == (400, "invalid_variable")


def test_a_number_over_4300_digits_is_answered_as_text(client, acme, token):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no arbitrary-precision numbers")
    sql = (
        "WITH RECURSIVE p(i, v) AS (SELECT 1, CAST(10 AS numeric) UNION ALL "
        "SELECT i + 1, v * 10 FROM p WHERE i < 5000) SELECT v FROM p WHERE i = 5000"
    )
    response = query(client, token, sql)
    assert response.status_code == 200, response.content
    value = response.json()["rows"][0]["v"]
    assert isinstance(value, str) and value == "1" + "0" * 5000


def test_a_5000_digit_interval_is_invalid_sql(client, acme, token):
    sql = "SELECT count(*) AS n FROM eventsTable WHERE timestamp > now() - INTERVAL '%s days'"
    response = query(client, token, sql % ("9" * 5000))
    assert (response.status_code, response.json()["code"]) == (400, "invalid_sql")


@pytest.mark.parametrize("field", ["name", "description"])
def test_a_lone_surrogate_in_a_name_or_description_is_a_field_error(workspace, actor, field):
    from django.core.exceptions import ValidationError

    values = {"name": "Fine", "description": "", field: "bad" + SURROGATE}
    with pytest.raises(ValidationError) as caught:
        saved_metric_create(
            workspace=workspace, sql=BY_NAME, variables={"e": "x"}, by=actor, **values
        )
    assert field in caught.value.message_dict
