"""One metric's page: what it shows, editing it (a new version) and deleting it."""

import re

import pytest

from metrics.models import SavedMetric
from metrics.services import saved_metric_update
from tests.metrics.page.conftest import BY_NAME
from tests.metrics.page.helpers import PAGE, metric_actions, stored_state, url
from workspaces.models import AuditEvent

pytestmark = pytest.mark.django_db

EDIT = {
    "name": "Signups by user",
    "description": "Edited",
    "sql": BY_NAME + "\nLIMIT @{rowLimit}",
    "variables": '{"eventName": "signup", "rowLimit": 5}',
    "version": "1",
}


def test_the_metric_page_shows_its_sql_variables_and_controls(admin_web, metric):
    response = admin_web.get(url("metric", metric))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert f"POST /metrics/query/{metric.pk}" in html
    assert "name = &#x27;@{eventName}&#x27;" in html
    assert "<code>@{eventName}</code></th><td><code>&quot;signup&quot;</code>" in html
    actions = re.findall(r"<form[^>]*action=\"([^\"]+)\"", html)
    assert actions == [
        "/logout/",
        url("run", metric) + "#run",
        url("update", metric),
        url("delete", metric),
    ]


def test_another_workspaces_metric_is_404_through_this_workspace(admin_web, foreign_metric):
    assert admin_web.get(url("metric", foreign_metric)).status_code == 404
    assert admin_web.get(f"{PAGE}not-a-uuid/").status_code == 404


# Edit


def test_edit_saves_a_new_version_and_audits_it(admin_web, metric):
    response = admin_web.post(url("update", metric), EDIT)
    assert response.status_code == 302
    assert response["Location"] == url("metric", metric)
    metric.refresh_from_db()
    assert (metric.name, metric.description, metric.sql, metric.variables, metric.version) == (
        "Signups by user",
        "Edited",
        EDIT["sql"],
        {"eventName": "signup", "rowLimit": 5},
        2,
    )
    audit = AuditEvent.objects.get(action="metric.update")
    assert (audit.actor_label, audit.actor_ip, audit.changes["version"]) == (
        "alice",
        "127.0.0.1",
        2,
    )
    assert audit.changes["before"]["name"] == "Signups"
    page = admin_web.get(response["Location"]).content.decode()
    assert "is saved as version 2" in page
    assert '<input type="hidden" name="version" value="2">' in page


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"sql": "SELECT 1\nFROM eventsTable WHERE ("}, "sql", "invalid_sql"),
        ({"sql": "SELECT * FROM sqlite_master"}, "sql", "forbidden_table"),
        ({"variables": "{not json"}, "variables", "not valid JSON"),
        ({"variables": '["signup"]'}, "variables", "JSON object"),
        ({"variables": "{}"}, "variables", "missing_variable"),
        ({"name": " "}, "name", "Give the metric a name."),
    ],
)
def test_refused_edits_show_the_error_by_the_field_and_keep_the_input(
    admin_web, metric, change, field, says
):
    before = stored_state()
    response = admin_web.post(url("update", metric), {**EDIT, **change})
    assert response.status_code == 400
    html = response.content.decode()
    error = html.split(f'id="edit-{field}-error"')[1].split("</div>")[0]
    assert says in error
    assert 'value="Signups by user"' in html or field == "name"
    assert stored_state() == before


def test_an_sql_error_says_where(admin_web, metric):
    response = admin_web.post(
        url("update", metric), {**EDIT, "sql": "SELECT 1\nFROM eventsTable WHERE ("}
    )
    error = response.content.decode().split('id="edit-sql-error"')[1].split("</div>")[0]
    assert "(line 2, column " in error and '<code class="error-code">invalid_sql</code>' in error


def test_an_edit_over_a_newer_version_is_refused_then_allowed(admin_web, metric, actor):
    saved_metric_update(
        metric=metric, name="Renamed", sql=BY_NAME, variables=metric.variables, by=actor
    )
    before = stored_state()
    response = admin_web.post(url("update", metric), EDIT)  # the form still says version 1
    assert response.status_code == 400
    html = response.content.decode()
    assert "changed by someone else" in html and "now version 2" in html
    assert '<input type="hidden" name="version" value="2">' in html
    assert "Signups by user" in html  # the admin's text is kept
    assert stored_state() == before
    again = admin_web.post(url("update", metric), {**EDIT, "version": "2"})
    assert again.status_code == 302
    assert SavedMetric.objects.get(pk=metric.pk).version == 3


# Delete


def test_delete_without_confirmation_asks_on_a_page(admin_web, metric):
    before = stored_state()
    response = admin_web.post(url("delete", metric))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Delete “Signups”?" in html
    assert '<input type="hidden" name="confirm" value="yes">' in html
    assert stored_state() == before


def test_delete_confirmed_deletes_and_audits(admin_web, metric):
    response = admin_web.post(url("delete", metric), {"confirm": "yes"})
    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert not SavedMetric.objects.filter(pk=metric.pk).exists()
    audit = AuditEvent.objects.get(action="metric.delete")
    assert (audit.actor_label, audit.target_id, audit.changes["name"]) == (
        "alice",
        str(metric.pk),
        "Signups",
    )
    assert metric_actions() == ["metric.create", "metric.delete"]
    page = admin_web.get(PAGE).content.decode()
    assert "“Signups” is deleted" in page and "No metrics yet." in page
    # Sent again: the metric is gone.
    assert admin_web.post(url("delete", metric), {"confirm": "yes"}).status_code == 404


def test_delete_of_another_workspaces_metric_is_404(admin_web, foreign_metric):
    before = stored_state()
    assert admin_web.post(url("delete", foreign_metric), {"confirm": "yes"}).status_code == 404
    assert stored_state() == before
