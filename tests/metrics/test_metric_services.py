"""Saved metric services: validation against the sandbox, audit rows."""

import pytest
from django.core.exceptions import ValidationError

from metrics.models import SavedMetric
from metrics.services import saved_metric_create, saved_metric_delete, saved_metric_update
from workspaces.models import AuditEvent

pytestmark = pytest.mark.django_db


def _create(workspace, actor, **overrides):
    fields = {"name": "Signups", "sql": "SELECT count(*) AS n FROM eventsTable", "variables": {}}
    return saved_metric_create(workspace=workspace, by=actor, **{**fields, **overrides})


def test_create_update_delete_are_audited(workspace, actor):
    metric = _create(workspace, actor)
    saved_metric_update(metric=metric, name="All", sql=metric.sql, variables={}, by=actor)
    saved_metric_delete(metric=SavedMetric.objects.get(pk=metric.pk), by=actor)
    assert not SavedMetric.objects.exists()
    actions = list(
        AuditEvent.objects.filter(target_type="savedmetric").values_list("action", flat=True)
    )
    assert sorted(actions) == ["metric.create", "metric.delete", "metric.update"]


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"name": ""}, "name", "required"),
        ({"name": "x" * 201}, "name", "max_length"),
        ({"sql": "DROP TABLE eventsTable"}, "sql", "invalid_sql"),
        ({"sql": "SELECT * FROM pg_catalog.pg_user"}, "sql", "forbidden_table"),
        ({"sql": "SELECT '@{x}'"}, "variables", "missing_variable"),
        ({"variables": ["x"]}, "variables", "invalid"),
    ],
)
def test_bad_metrics_are_refused(workspace, actor, overrides, field, code):
    with pytest.raises(ValidationError) as caught:
        _create(workspace, actor, **overrides)
    assert [e.code for e in caught.value.error_dict[field]] == [code]
    assert not SavedMetric.objects.exists()
    assert not AuditEvent.objects.filter(target_type="savedmetric").exists()


def test_names_are_unique_per_workspace(workspace, other_created, actor):
    _create(workspace, actor)
    with pytest.raises(ValidationError):
        _create(workspace, actor)
    _create(other_created.workspace, actor)
    assert SavedMetric.objects.count() == 2
