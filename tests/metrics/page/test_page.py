"""The list of a workspace's metrics, and adding one from it."""

import re

import pytest

from metrics.models import SavedMetric
from tests.metrics.page.conftest import BY_NAME
from tests.metrics.page.helpers import PAGE, metric_actions, stored_state, url
from workspaces.models import AuditEvent

pytestmark = pytest.mark.django_db

GOOD = {
    "name": "Page views",
    "description": "Views per path",
    "sql": "SELECT count(*) AS n\nFROM eventsTable\nWHERE name = '@{eventName}'",
    "variables": '{"eventName": "page_view"}',
}


def test_the_list_shows_each_metric_with_its_id_to_call(admin_web, metric, foreign_metric):
    response = admin_web.get(PAGE)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert f'href="{url("metric", metric)}">Signups</a>' in html
    assert "Who signed up" in html
    assert f"POST /metrics/query/{metric.pk}" in html
    assert '<td data-label="Version">1</td>' in html
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT', html)
    assert str(foreign_metric.pk) not in html and "Globex signups" not in html
    assert 'id="add-metric"' in html


def test_the_header_links_api_settings_and_metrics(admin_web):
    html = admin_web.get(PAGE).content.decode()
    nav = html.split('class="workspace-nav"')[1].split("</nav>")[0]
    assert 'href="/w/acme/settings/api/">API settings</a>' in nav
    assert 'href="/w/acme/metrics/" aria-current="page">Metrics</a>' in nav
    settings_nav = admin_web.get("/w/acme/settings/api/").content.decode()
    assert 'href="/w/acme/settings/api/" aria-current="page">API settings</a>' in settings_nav
    assert 'href="/w/acme/metrics/">Metrics</a>' in settings_nav


def test_an_empty_list_says_so(admin_web):
    assert "No metrics yet." in admin_web.get(PAGE).content.decode()


def test_create_saves_audits_and_redirects_to_the_metric(admin_web, workspace):
    response = admin_web.post(url("create"), GOOD)
    metric = SavedMetric.objects.get(workspace=workspace, name="Page views")
    assert response.status_code == 302
    assert response["Location"] == url("metric", metric)
    assert (metric.description, metric.sql, metric.variables, metric.version) == (
        "Views per path",
        GOOD["sql"],
        {"eventName": "page_view"},
        1,
    )
    assert metric.created_by.username == "alice"
    audit = AuditEvent.objects.get(action="metric.create")
    assert (audit.actor_label, audit.actor_ip, audit.target_id) == (
        "alice",
        "127.0.0.1",
        str(metric.pk),
    )
    page = admin_web.get(response["Location"]).content.decode()
    assert f"Call it with POST /metrics/query/{metric.pk}." in page


def test_blank_variables_are_an_empty_object(admin_web, workspace):
    data = {**GOOD, "sql": "SELECT count(*) AS n FROM eventsTable", "variables": "  "}
    assert admin_web.post(url("create"), data).status_code == 302
    assert SavedMetric.objects.get(workspace=workspace).variables == {}


def refused(response, field: str) -> str:
    """The refusal's page: 400, the error tied to its field, and the field marked invalid."""
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="add-metric-{field}-error"' in html
    field_tag = re.search(rf'<(?:input|textarea)[^>]*id="add-metric-{field}"[^>]*>', html)[0]
    assert 'aria-invalid="true"' in field_tag and "autofocus" in field_tag
    return html.split(f'id="add-metric-{field}-error"')[1].split("</div>")[0]


@pytest.mark.parametrize(
    ("sql", "code", "where"),
    [
        ("SELECT FROM WHERE", "invalid_sql", "(line 1, column 13)"),
        ("SELECT name\nFROM eventsTable;\nDELETE FROM eventsTable", "invalid_sql", ""),
        ("SELECT * FROM pg_catalog.pg_user", "forbidden_table", ""),
        ("SELECT pg_sleep(5)", "forbidden_function", ""),
    ],
)
def test_bad_sql_is_refused_next_to_the_sql_with_its_code(admin_web, sql, code, where):
    before = stored_state()
    error = refused(admin_web.post(url("create"), {**GOOD, "sql": sql}), "sql")
    assert f'<code class="error-code">{code}</code>' in error
    assert where in error
    assert stored_state() == before


def test_refused_input_is_kept(admin_web):
    sql = "\nSELECT FROM WHERE  "
    html = admin_web.post(url("create"), {**GOOD, "sql": sql}).content.decode()
    # The textarea's leading newline is eaten by HTML parsers, so the one after `>` keeps it.
    assert f"\n{sql}</textarea>" in html
    assert 'value="Page views"' in html
    assert "Views per path</textarea>" in html
    assert "{&quot;eventName&quot;: &quot;page_view&quot;}</textarea>" in html
    assert "(line 2, column 13)" in html


@pytest.mark.parametrize(
    "variables",
    [
        "{",
        '{"a": }',
        "[1, 2]",
        '"signup"',
        "42",
        "null",
        '{"a": "%s"}' % ("x" * 20_000),
        '{"a": %s}' % ("[" * 9_000 + "]" * 9_000),
    ],
)
def test_variables_that_are_not_a_json_object_are_refused(admin_web, variables):
    before = stored_state()
    error = refused(admin_web.post(url("create"), {**GOOD, "variables": variables}), "variables")
    assert "JSON" in error or "20000 characters or fewer" in error
    assert stored_state() == before


def test_a_missing_variable_is_refused_next_to_the_variables(admin_web):
    before = stored_state()
    error = refused(admin_web.post(url("create"), {**GOOD, "variables": "{}"}), "variables")
    assert '<code class="error-code">missing_variable</code>' in error
    assert stored_state() == before


@pytest.mark.parametrize(("name", "message"), [("", "Give the metric a name."), ("x" * 201, "200")])
def test_bad_names_are_refused_next_to_the_name(admin_web, name, message):
    before = stored_state()
    assert message in refused(admin_web.post(url("create"), {**GOOD, "name": name}), "name")
    assert stored_state() == before


def test_a_name_is_unique_in_its_workspace(admin_web, metric, foreign_metric):
    before = stored_state()
    data = {**GOOD, "name": "Signups", "sql": BY_NAME}
    assert "already exists" in refused(admin_web.post(url("create"), data), "name")
    assert stored_state() == before
    # Another workspace's name is free to use.
    assert admin_web.post(url("create"), {**data, "name": "Globex signups"}).status_code == 302
    assert metric_actions() == ["metric.create", "metric.create", "metric.create"]
