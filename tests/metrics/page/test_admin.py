"""Saved metrics in Django admin: staff add, change and delete them through the services."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from metrics.models import SavedMetric
from tests.metrics.page.conftest import BY_NAME
from tests.metrics.page.helpers import metric_actions, stored_state
from workspaces.models import AuditEvent

pytestmark = pytest.mark.django_db


def admin_url(view: str, *args) -> str:
    return reverse(f"admin:metrics_savedmetric_{view}", args=args)


def form_data(**overrides) -> dict:
    data = {
        "name": "Signups",
        "description": "From admin",
        "sql": BY_NAME,
        "variables": '{"eventName": "signup"}',
    }
    return {**data, **overrides}


def field_errors(response, field: str) -> str:
    """The error list the admin shows on one field."""
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<ul class="errorlist" id="id_{field}_error">' in html, html
    return html.split(f'id="id_{field}_error">')[1].split("</ul>")[0]


def test_staff_add_a_metric_through_the_service(admin_client, admin_user, workspace):
    response = admin_client.post(admin_url("add"), form_data(workspace=workspace.pk))
    metric = SavedMetric.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert (metric.name, metric.variables, metric.version, metric.created_by) == (
        "Signups",
        {"eventName": "signup"},
        1,
        admin_user,
    )
    audit = AuditEvent.objects.get(action="metric.create")
    assert (audit.actor_label, audit.target_id) == (admin_user.username, str(metric.pk))


@pytest.mark.parametrize(
    ("overrides", "field", "says"),
    [
        ({"sql": "DELETE FROM eventsTable"}, "sql", "Only SELECT queries can run"),
        (
            {"sql": "SELECT * FROM information_schema.tables"},
            "sql",
            "only eventsTable, profilesTable",
        ),
        ({"variables": "{}"}, "variables", "@{eventName}"),
        ({"variables": '["signup"]'}, "variables", "object"),
        ({"variables": "{nope"}, "variables", "JSON"),
    ],
)
def test_refused_adds_show_the_error_on_the_field(admin_client, workspace, overrides, field, says):
    before = stored_state()
    response = admin_client.post(admin_url("add"), form_data(workspace=workspace.pk, **overrides))
    assert says in field_errors(response, field)
    assert stored_state() == before


def test_a_duplicate_name_is_an_error_on_the_name(admin_client, workspace, metric):
    before = stored_state()
    response = admin_client.post(admin_url("add"), form_data(workspace=workspace.pk))
    assert "already exists" in field_errors(response, "name")
    assert stored_state() == before


def test_staff_change_a_metric_as_a_new_version(admin_client, metric):
    page = admin_client.get(admin_url("change", metric.pk)).content.decode()
    assert f"POST /metrics/query/{metric.pk}" in page
    data = form_data(name="Signups by user", sql=BY_NAME + " LIMIT @{n}")
    data["variables"] = '{"eventName": "signup", "n": 50}'
    response = admin_client.post(admin_url("change", metric.pk), data)
    assert response.status_code == 302
    metric.refresh_from_db()
    assert (metric.name, metric.version, metric.variables["n"]) == ("Signups by user", 2, 50)
    assert metric_actions() == ["metric.create", "metric.update"]


def test_an_unchanged_save_makes_no_new_version(admin_client, metric):
    data = form_data(description=metric.description)
    assert admin_client.post(admin_url("change", metric.pk), data).status_code == 302
    assert SavedMetric.objects.get(pk=metric.pk).version == 1
    assert metric_actions() == ["metric.create"]


def test_a_refused_change_changes_nothing(admin_client, metric):
    before = stored_state()
    data = form_data(sql="SELECT pg_read_file('/etc/passwd')")
    response = admin_client.post(admin_url("change", metric.pk), data)
    assert "pg_read_file() is not allowed" in field_errors(response, "sql")
    assert stored_state() == before


def test_a_refusal_shows_its_form_in_a_fresh_worker(admin_client, workspace):
    """The refused form is built before the transaction is marked for rollback: a worker that
    has not yet cached the model's content type must still show the form, not fail."""
    ContentType.objects.clear_cache()
    before = stored_state()
    response = admin_client.post(admin_url("add"), form_data(workspace=workspace.pk, sql="x"))
    assert field_errors(response, "sql")
    assert stored_state() == before


def test_staff_delete_a_metric_through_the_service(admin_client, metric):
    assert admin_client.get(admin_url("delete", metric.pk)).status_code == 200
    response = admin_client.post(admin_url("delete", metric.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not SavedMetric.objects.exists()
    assert metric_actions() == ["metric.create", "metric.delete"]


def test_the_bulk_delete_audits_each_metric(admin_client, metric, foreign_metric):
    data = {"action": "delete_selected", "_selected_action": [metric.pk, foreign_metric.pk]}
    data["post"] = "yes"
    assert admin_client.post(admin_url("changelist"), data).status_code == 302
    assert not SavedMetric.objects.exists()
    assert metric_actions().count("metric.delete") == 2


def test_the_list_searches_and_filters(admin_client, metric, foreign_metric):
    html = admin_client.get(admin_url("changelist") + "?q=globex").content.decode()
    assert "Globex signups" in html and ">Signups<" not in html
    query = f"?workspace__id__exact={metric.workspace_id}"
    html = admin_client.get(admin_url("changelist") + query).content.decode()
    assert ">Signups<" in html and "Globex signups" not in html


def _shown_seen_version(response) -> str:
    html = response.content.decode()
    return html.split('name="seen_version" value="')[1].split('"')[0]


def test_an_admin_edit_over_a_newer_version_is_refused_then_saved_on_purpose(
    admin_client, metric, actor
):
    from metrics.services import saved_metric_update

    shown = admin_client.get(admin_url("change", metric.pk))
    assert _shown_seen_version(shown) == "1"
    # Someone saves version 2 (on the page, or in another tab) while this form is open.
    saved_metric_update(
        metric=metric, name=metric.name, sql=BY_NAME, variables=metric.variables, by=actor
    )
    data = form_data(description="Mine", seen_version="1")
    refused = admin_client.post(admin_url("change", metric.pk), data)
    assert refused.status_code == 200
    assert "changed by someone else" in refused.content.decode()
    assert SavedMetric.objects.get(pk=metric.pk).version == 2
    assert metric_actions() == ["metric.create", "metric.update"]
    # The form now carries version 2: saving again replaces it knowingly.
    assert _shown_seen_version(refused) == "2"
    again = admin_client.post(admin_url("change", metric.pk), {**data, "seen_version": "2"})
    assert again.status_code == 302
    assert SavedMetric.objects.get(pk=metric.pk).version == 3
