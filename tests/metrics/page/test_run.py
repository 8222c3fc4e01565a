"""Test runs: the saved version on the workspace's own rows, never through the result cache."""

import pytest
from django.core.cache import cache

from metrics import cache as result_cache
from metrics.models import SavedMetric
from tests.metrics.page.helpers import stored_state, url

pytestmark = pytest.mark.django_db


def result_rows(html: str) -> list[str]:
    table = html.split('aria-label="Test run result"')[1].split("</table>")[0]
    return [row.split("</tr>")[0] for row in table.split("<tbody>")[1].split("<tr>")[1:]]


@pytest.fixture
def no_cache(monkeypatch):
    """Fail the test if the run so much as looks at the result cache."""

    def refuse(*args, **kwargs):
        raise AssertionError("a test run touched the result cache")

    monkeypatch.setattr(result_cache, "result_get", refuse)
    monkeypatch.setattr(result_cache, "result_put", refuse)


def test_a_run_shows_the_workspaces_own_rows(admin_web, metric, events, no_cache):
    before = stored_state()
    response = admin_web.post(url("run", metric), {"variables": ""})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "<strong>Version 1</strong> returned 2 rows." in html
    assert result_rows(html) == ["<td>signup</td><td>a1</td>", "<td>signup</td><td>a2</td>"]
    assert stored_state() == before  # a run changes nothing and is not audited


def test_edited_variable_values_are_used_and_not_saved(admin_web, metric, events, no_cache):
    response = admin_web.post(url("run", metric), {"variables": '{"eventName": "page_view"}'})
    html = response.content.decode()
    assert result_rows(html) == ["<td>page_view</td><td>a1</td>"]
    assert "{&quot;eventName&quot;: &quot;page_view&quot;}</textarea>" in html  # input kept
    assert SavedMetric.objects.get(pk=metric.pk).variables == {"eventName": "signup"}


def test_a_cached_answer_is_neither_served_nor_written(admin_web, metric, events):
    request = {"metric": str(metric.pk), "version": 1, "variables": {"eventName": "signup"}}
    key = result_cache.result_key(workspace_id=metric.workspace_id, request=request)
    fake = {"columns": ["name", "userId"], "rows": [{"name": "signup", "userId": "CACHED"}]}
    fake.update(rowCount=1, truncated=False, cachedUntil="2999-01-01T00:00:00Z")
    raw = cache.get(key)
    assert raw is None
    cache.set(key, __import__("json").dumps(fake))
    html = admin_web.post(url("run", metric), {"variables": ""}).content.decode()
    assert "CACHED" not in html and len(result_rows(html)) == 2
    assert result_cache.result_get(key)["rows"] == fake["rows"]  # left as it was
    cache.delete(key)
    admin_web.post(url("run", metric), {"variables": ""})
    assert cache.get(key) is None


@pytest.mark.parametrize("variables", ["{", "[]", '"signup"'])
def test_variables_that_are_not_a_json_object_are_an_error_on_the_field(
    admin_web, metric, variables
):
    response = admin_web.post(url("run", metric), {"variables": variables})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="test-run-variables-error"' in html
    assert 'aria-invalid="true" autofocus' in html
    assert 'id="run-result"' not in html


def test_a_sandbox_error_is_shown_by_the_sql_with_code_and_place(admin_web, workspace, no_cache):
    # A metric saved before a sandbox rule existed: the ORM, not the service, stored it.
    from django.utils import timezone

    now = timezone.now()
    broken = SavedMetric.objects.create(
        workspace=workspace,
        name="Old",
        sql="SELECT 1\nFROM eventsTable WHERE (",
        created_at=now,
        updated_at=now,
    )
    response = admin_web.post(url("run", broken), {"variables": ""})
    assert response.status_code == 400
    html = response.content.decode()
    sql = html.split('<pre class="sql"')[1].split("</pre>")[0]
    assert 'aria-describedby="run-error"' in sql
    assert '<span class="sql-line sql-line--error">FROM eventsTable WHERE (</span>' in sql
    error = html.split('id="run-error"')[1].split("</div>")[0]
    assert '<code class="error-code">invalid_sql</code>' in error
    assert "(line 2, column " in error


def test_a_bad_variable_value_is_a_sandbox_error(admin_web, workspace, actor, no_cache):
    from metrics.services import saved_metric_create

    metric = saved_metric_create(
        workspace=workspace,
        name="Latest",
        sql="SELECT name FROM eventsTable LIMIT @{n}",
        variables={"n": 10},
        by=actor,
    )
    response = admin_web.post(url("run", metric), {"variables": '{"n": "ten"}'})
    assert response.status_code == 400
    error = response.content.decode().split('id="run-error"')[1].split("</div>")[0]
    assert '<code class="error-code">invalid_variable</code>' in error
    assert "@{n}" in error
